use std::process::ExitCode;

fn main() -> ExitCode {
    actas::cli::main().into()
}
