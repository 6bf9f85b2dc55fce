//! Writing results to stdout and problems to stderr, and the exit code that follows.

use std::io::Write;

use super::exit::Exit;
use crate::core::diag::{render, Problem};

/// Writes a rendered document and exits with `exit`; a renderer that could not render is a bug
/// (exit 2).
pub(super) fn emit(text: Option<String>, exit: Exit, color: bool) -> Exit {
    match text {
        Some(t) => finish(write_stdout(&t), exit),
        None => fail(
            &[Problem::new(
                "internal error: the output could not be rendered; please report this",
            )],
            color,
        ),
    }
}

/// Prints every problem on stderr and exits 2.
/// The most problems printed in full; a run with thousands says how many more there are.
/// (`check --format json` or `sarif` lists every one.)
const SHOWN: usize = 50;

pub(super) fn fail(problems: &[crate::core::diag::Problem], color: bool) -> Exit {
    let mut err = std::io::stderr().lock();
    for p in problems.iter().take(SHOWN) {
        let _ = write!(err, "{}", render(p, color));
    }
    if problems.len() > SHOWN {
        let _ = writeln!(
            err,
            "… and {} more (the first {SHOWN} are shown)",
            problems.len() - SHOWN
        );
    }
    if problems.len() > 1 {
        let _ = writeln!(err, "{} problems found; nothing was run", problems.len());
    }
    Exit::CannotRun
}

/// Writes results; a closed pipe (`actas test | head`) is not an error.
pub(super) fn write_stdout(text: &str) -> Result<(), Exit> {
    let mut out = std::io::stdout().lock();
    written(out.write_all(text.as_bytes()).and_then(|()| out.flush()))
}

pub(super) fn written(result: std::io::Result<()>) -> Result<(), Exit> {
    match result {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Err(Exit::Ok),
        Err(e) => {
            let _ = writeln!(
                std::io::stderr(),
                "error: failed to write the output: {}",
                crate::core::files::io_reason(&e)
            );
            Err(Exit::CannotRun)
        }
    }
}

/// [`emit`] for a renderer that wrote its output itself.
pub(super) fn emit_written(result: Option<std::io::Result<()>>, color: bool) -> Exit {
    match result {
        Some(r) => finish(written(r), Exit::Ok),
        None => emit(None, Exit::Ok, color),
    }
}

/// The exit for a command whose output was written (or not).
pub(super) fn finish(written: Result<(), Exit>, exit: Exit) -> Exit {
    match written {
        Ok(()) => exit,
        Err(e) => e,
    }
}
