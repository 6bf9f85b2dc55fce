//! One module per subcommand; each returns data for a renderer and an exit status.

pub mod check;
pub mod drift;
pub mod report;
pub mod suffice;
pub mod test;
pub mod who_can;
