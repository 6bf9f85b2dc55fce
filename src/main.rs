use std::process::ExitCode;

fn main() -> ExitCode {
    actas::app::main().into()
}
