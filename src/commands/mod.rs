//! One module per subcommand; each returns data for a renderer and an exit status.

pub mod can;
pub(crate) mod check;
pub mod drift;
pub mod init;
pub mod prove;
pub mod report;
pub(crate) mod suffice;
pub mod test;
pub mod who_can;
