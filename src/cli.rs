//! The command line: clap types holding raw input, turned once into checked options, one call
//! into the library per command, and the exit code.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use crate::commands::check;
use crate::commands::test::{self, TestOptions};
use crate::diag::render;
use crate::exit::Exit;
use crate::report::{renderer, Format};
use crate::workspace::{self, Overrides};

/// Test who may impersonate whom in Cedar policies.
#[derive(Debug, Parser)]
#[command(name = "actas", version, about, max_term_width = 100)]
pub struct Cli {
    /// Run as if started in DIR (paths given on the command line are relative to it).
    #[arg(short = 'C', long = "workspace", value_name = "DIR", global = true)]
    pub workspace: Option<PathBuf>,
    /// Policy files or folders, replacing `policies:` of actas.yaml.
    #[arg(long, value_name = "PATH", global = true)]
    pub policies: Vec<PathBuf>,
    /// The schema file, replacing `schema:`.
    #[arg(long, value_name = "FILE", global = true)]
    pub schema: Option<PathBuf>,
    /// Entity files or folders, replacing `entities:`.
    #[arg(long, value_name = "PATH", global = true)]
    pub entities: Vec<PathBuf>,
    /// Longest chain of impersonation hops, replacing `impersonation.max_chain`.
    #[arg(long, value_name = "N", global = true)]
    pub max_chain: Option<u32>,
    /// An impersonation action (repeatable), replacing `impersonation.actions`.
    #[arg(long = "impersonation-action", value_name = "UID", global = true)]
    pub impersonation_actions: Vec<String>,
    /// Worker threads (default: one per core; `RAYON_NUM_THREADS` also works).
    #[arg(long, value_name = "N", global = true)]
    pub threads: Option<usize>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Parse and strictly validate policies, schema, entities and scenario files.
    Check {
        #[arg(long, value_enum, default_value_t = CheckFormat::Human)]
        format: CheckFormat,
    },
    /// Run scenario cases.
    Test {
        /// Scenario files or folders (default: `scenarios:` of actas.yaml).
        files: Vec<PathBuf>,
        /// Run only cases whose name contains this text (repeatable; any matches).
        #[arg(long, value_name = "TEXT")]
        filter: Vec<String>,
        #[arg(long, value_enum, default_value_t = TestFormat::Human)]
        format: TestFormat,
        /// Fail cases whose requests had evaluation errors.
        #[arg(long)]
        strict: bool,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum CheckFormat {
    Human,
    Json,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum TestFormat {
    Human,
    Json,
    Junit,
}

/// Parses the command line and runs it.
pub fn main() -> Exit {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                Exit::CannotRun
            } else {
                Exit::Ok
            };
        }
    };
    run(cli)
}

pub fn run(cli: Cli) -> Exit {
    let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    if let Some(n) = cli.threads {
        // Only fails when a pool already exists, which cannot happen this early.
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(n.max(1))
            .build_global();
    }
    let root = cli.workspace.clone().unwrap_or_else(|| PathBuf::from("."));
    let overrides = Overrides {
        policies: cli.policies.iter().map(|p| root.join(p)).collect(),
        schema: cli.schema.as_ref().map(|p| root.join(p)),
        entities: cli.entities.iter().map(|p| root.join(p)).collect(),
        scenarios: Vec::new(),
        max_chain: cli.max_chain,
        impersonation_actions: cli.impersonation_actions.clone(),
    };
    match cli.command {
        Command::Check { format } => {
            let format = match format {
                CheckFormat::Human => Format::Human,
                CheckFormat::Json => Format::Json,
            };
            match check::run(&root, &overrides, &TestOptions::default()) {
                Ok(result) => {
                    let text = renderer(format, color).check(&result).unwrap_or_default();
                    let exit = if result.findings.is_empty() {
                        Exit::Ok
                    } else {
                        Exit::Failed
                    };
                    finish(write_stdout(&text), exit)
                }
                Err(e) => fail(&[crate::diag::Problem::new(e.to_string())], color),
            }
        }
        Command::Test {
            files,
            filter,
            format,
            strict,
        } => {
            let format = match format {
                TestFormat::Human => Format::Human,
                TestFormat::Json => Format::Json,
                TestFormat::Junit => Format::Junit,
            };
            let loaded = match workspace::load(&root, &overrides) {
                Ok(l) => l,
                Err(e) => return fail(&[crate::diag::Problem::new(e.to_string())], color),
            };
            let (ws, problems) = (loaded.workspace, loaded.problems);
            let ws = match ws {
                Some(ws) if problems.is_empty() => ws,
                _ => return fail(&problems, color),
            };
            let opts = TestOptions {
                files,
                filters: filter,
                strict,
            };
            let cases = match test::load_cases(&ws, &opts) {
                Ok(c) => c,
                Err(p) => return fail(&p, color),
            };
            let run = test::run(&ws.engine, &cases, opts.strict);
            let text = renderer(format, color).test(&run);
            let exit = if run.failed() == 0 {
                Exit::Ok
            } else {
                Exit::Failed
            };
            finish(write_stdout(&text), exit)
        }
    }
}

/// Prints every problem on stderr and exits 2.
fn fail(problems: &[crate::diag::Problem], color: bool) -> Exit {
    let mut err = std::io::stderr().lock();
    for p in problems {
        let _ = write!(err, "{}", render(p, color));
    }
    if problems.len() > 1 {
        let _ = writeln!(err, "{} problems found; nothing was run", problems.len());
    }
    Exit::CannotRun
}

/// Writes results; a closed pipe (`actas test | head`) is not an error.
fn write_stdout(text: &str) -> Result<(), Exit> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Err(Exit::Ok),
        Err(_) => Err(Exit::CannotRun),
    }
}

/// The exit for a command whose output was written (or not).
fn finish(written: Result<(), Exit>, exit: Exit) -> Exit {
    match written {
        Ok(()) => exit,
        Err(e) => e,
    }
}
