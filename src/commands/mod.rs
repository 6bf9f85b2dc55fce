//! One module per subcommand; each returns data for a renderer and an exit status.

pub mod check;
pub mod test;
