//! Exit codes, in one place. Precedence when several apply: 2 > 1 > 0.

use std::process::ExitCode;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 0: everything held (all cases passed, no findings).
    Ok,
    /// 1: the tool did its job and found a failure (a case failed, a finding at error level).
    Failed,
    /// 2: the tool could not do its job (bad input, unreadable file, unknown entity, bad flags).
    CannotRun,
}

impl Exit {
    /// 130 (128 + SIGINT, as shells report it): interrupted by Ctrl-C, SIGTERM or SIGHUP before
    /// the run finished; no result, and no temporary file left behind (see `app::main`).
    pub const INTERRUPTED: i32 = 130;

    /// `Failed` when the run found a failure, else `Ok`.
    pub fn failed_if(failed: bool) -> Self {
        if failed {
            Exit::Failed
        } else {
            Exit::Ok
        }
    }
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> Self {
        ExitCode::from(match e {
            Exit::Ok => 0,
            Exit::Failed => 1,
            Exit::CannotRun => 2,
        })
    }
}
