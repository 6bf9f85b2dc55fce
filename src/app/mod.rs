//! The top layer: the command line parsed once into checked options, one call into the library
//! per command, a renderer picked by `--format`, the exit code, stdout and stderr.

mod args;
mod bar;
pub mod exit;
#[doc(hidden)]
pub mod fuzzing;
mod output;

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use clap::Parser;

pub use args::{Cli, Command, ProfileArgs};
use bar::Bar;
use exit::Exit;
use output::{emit, emit_written, fail, finish, write_stdout};

use crate::analysis::coverage::{self, Recorder};
use crate::analysis::profiles::AdhocContext;
use crate::commands::test::{self, TestOptions};
use crate::commands::who_can::{self, ProfileOptions};
use crate::commands::{can, check, drift, prove, report, suffice};
use crate::core::diag::{plural, Problem, SourceFile};
use crate::core::files::display_path;
use crate::report::coverage::CoverageFormat;
use crate::report::{
    renderer, test_renderer, CheckFormat, Format, ReportFormat, StatusLevel, SufficeFormat,
    TestFormat, WhoCanFormat,
};
use crate::workspace::{self, Overrides, Workspace};

/// Stack for the thread that runs a command and for every worker. Cedar's parser, validator
/// and evaluator, and actas's condition walk, recurse once per nesting level of a policy; the
/// input limits (`core::limits`) keep nesting well inside what this much stack holds in a
/// debug build. It is address space reserved, not memory used.
const STACK: usize = 1 << 30;

/// The most worker threads `--threads` gives (more only cost memory and start-up time).
const MAX_THREADS: usize = 256;

/// Parses the command line and runs it on a thread with a large stack.
pub fn main() -> Exit {
    std::panic::set_hook(Box::new(internal_error));
    // Interrupted: no half-written temporary file is left beside an output (the output itself
    // is only ever replaced whole), and the exit code is the shell's for an interrupt.
    let _ = ctrlc::set_handler(|| {
        crate::core::files::remove_pending();
        let _ = writeln!(std::io::stderr(), "error: interrupted");
        std::process::exit(Exit::INTERRUPTED);
    });
    let worker = std::thread::Builder::new()
        .name("actas".into())
        .stack_size(STACK)
        .spawn(main_here);
    match worker.map(std::thread::JoinHandle::join) {
        Ok(Ok(exit)) => exit,
        // A panic was reported by the hook (`internal_error`); a thread that could not start
        // is reported here.
        Ok(Err(_)) => Exit::CannotRun,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "error: failed to start: {e}");
            Exit::CannotRun
        }
    }
}

/// The last line of defence: a panic is a bug, reported as one with where it happened (the run
/// then exits 2, never with a signal or Rust's own exit code).
fn internal_error(info: &std::panic::PanicHookInfo<'_>) {
    let what = info
        .payload()
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| info.payload().downcast_ref::<String>().cloned())
        .unwrap_or_default();
    let place = info
        .location()
        .map(|l| format!(" at {}:{}", l.file(), l.line()))
        .unwrap_or_default();
    let _ = writeln!(
        std::io::stderr(),
        "error: internal error{place}: {what}\n  help: this is a bug in actas, not in your inputs; please report it with the command and the inputs that caused it"
    );
}

fn main_here() -> Exit {
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

/// What every command needs: where the workspace is, the overrides, whether to colour standard
/// error (`color`, where problems go) and standard output (`color_out`, where results go).
struct Run {
    root: PathBuf,
    overrides: Overrides,
    color: bool,
    color_out: bool,
}

impl Run {
    /// Loads the workspace; any problem means the command cannot run.
    fn load(&self) -> Result<Workspace, Vec<Problem>> {
        let loaded = workspace::load(&self.root, &self.overrides)
            .map_err(|e| vec![Problem::from_diagnostic(&e)])?;
        self.warn(&loaded.warnings);
        loaded.into_workspace()
    }

    /// Loads the workspace and runs `command` on it: problems on either side exit 2.
    fn with_workspace(
        &self,
        command: impl FnOnce(&Workspace) -> Result<Exit, Vec<Problem>>,
    ) -> Exit {
        // The workspace is left to the operating system rather than dropped: freeing an
        // organisation's entities one by one took as long as evaluating a thousand cases.
        match self
            .load()
            .and_then(|ws| command(&std::mem::ManuallyDrop::new(ws)))
        {
            Ok(exit) => exit,
            Err(problems) => fail(&problems, self.color),
        }
    }

    /// Prints warnings on stderr, `warning:` in yellow when stderr takes colour.
    fn warn(&self, warnings: &[String]) {
        let label = if self.color {
            "\x1b[33mwarning\x1b[0m"
        } else {
            "warning"
        };
        let mut err = std::io::stderr().lock();
        for text in warnings {
            let _ = writeln!(err, "{label}: {text}");
        }
    }

    fn renderer(&self, format: impl Into<Format>) -> Box<dyn crate::report::Renderer> {
        renderer(format.into(), self.color_out)
    }
}

pub fn run(mut cli: Cli) -> Exit {
    let env = |name: &str| std::env::var(name).ok();
    let color = cli.color.colors(std::io::stderr().is_terminal(), env);
    let color_out = cli.color.colors(std::io::stdout().is_terminal(), env);
    let threads = cli.threads.map(|n| n.clamp(1, MAX_THREADS));
    if cli.threads.is_some_and(|n| n > MAX_THREADS) {
        let _ = writeln!(
            std::io::stderr(),
            "warning: --threads is capped at {MAX_THREADS}; using {MAX_THREADS}"
        );
    }
    // Only fails when a pool already exists, which cannot happen this early.
    let _ = rayon::ThreadPoolBuilder::new()
        .num_threads(threads.unwrap_or(0))
        .stack_size(STACK)
        .build_global();
    let ci = std::env::var("CI").ok();
    if crate::core::progress::wanted(std::io::stderr().is_terminal(), ci.as_deref(), cli.quiet) {
        crate::core::progress::install(Box::new(Bar::new()));
    }
    let root = locate(&mut cli);
    let overrides = Overrides {
        policies: cli.policies.iter().map(|p| root.join(p)).collect(),
        schema: cli.schema.as_ref().map(|p| root.join(p)),
        entities: cli.entities.iter().map(|p| root.join(p)).collect(),
        scenarios: Vec::new(),
        max_chain: cli.max_chain,
        impersonation_actions: cli.impersonation_actions.clone(),
        extra_policies: Vec::new(),
        early_scenarios: matches!(&cli.command, Command::Test { files, .. } if files.is_empty()),
    };
    let run = Run {
        root,
        overrides,
        color,
        color_out,
    };
    dispatch(&run, cli.command)
}

/// Runs the subcommand: the library does the work, a renderer writes the result.
fn dispatch(run: &Run, command: Command) -> Exit {
    let target_given = matches!(
        &command,
        Command::WhoCan {
            target: Some(_),
            ..
        }
    );
    match command {
        Command::Check {
            explain: Some(name),
            ..
        } => explain_rule(&name, run.color),
        Command::Check {
            format, no_solver, ..
        } => run_check(run, format, !no_solver),
        Command::Test {
            files,
            filter,
            format,
            status_level,
            strict,
            shard,
            coverage,
            coverage_format,
            coverage_output,
        } => run_test(
            run,
            TestOptions {
                files,
                filters: filter,
                strict,
                shard,
            },
            (format, status_level),
            (coverage || coverage_format.is_some() || coverage_output.is_some()).then_some(
                CoverageRequest {
                    format: coverage_format.unwrap_or(CoverageFormat::Human),
                    output: coverage_output,
                },
            ),
        ),
        Command::WhoCan {
            target,
            principal,
            profiles,
            format,
        } => run_who_can(run, target.or(principal), target_given, &profiles, format),
        Command::Can {
            principal,
            target,
            action,
            resource,
            profiles,
            format,
        } => run_can(
            run,
            (&principal, &target),
            action.zip(resource),
            &profiles,
            format,
        ),
        Command::Suffice {
            tasks,
            with,
            without,
            format,
        } => run_suffice(
            run,
            suffice::SufficeOptions {
                files: tasks,
                with,
                without,
            },
            format,
        ),
        Command::Snapshot { output } => run_snapshot(run, output.as_ref()),
        Command::Prove(args) => run_prove(run, args),
        Command::Drift {
            baseline,
            accept,
            usage,
            since,
            lenient,
            format,
        } => run_drift(
            run,
            drift::DriftOptions {
                baseline,
                accept,
                usage,
                since,
                lenient,
            },
            format,
        ),
        Command::Report {
            verify: Some(report),
            ..
        } => run_verify(run, &report),
        Command::Report {
            profiles, format, ..
        } => run_report(run, &profiles, format),
        Command::Completions { shell } => finish(write_stdout(&completions(shell)), Exit::Ok),
        Command::Man => manual(run.color),
        Command::Init => run_init(run),
    }
}

fn run_who_can(
    run: &Run,
    query: Option<String>,
    is_target: bool,
    profiles: &ProfileArgs,
    format: WhoCanFormat,
) -> Exit {
    run.with_workspace(|ws| {
        // clap requires TARGET or `--principal`.
        let Some(text) = query else {
            return Ok(Exit::CannotRun);
        };
        let query = who_can::parse_query(ws, &text, is_target)?;
        let result = who_can::run(ws, query, &profile_options(&run.root, profiles)?)?;
        let mut out = std::io::BufWriter::with_capacity(1 << 20, std::io::stdout().lock());
        let written = run.renderer(format).write_who_can(&result, &mut out);
        // Like the workspace, not freed one by one: the process ends here (path shape, every
        // profile: 15 ms on one thread to free 12,499 paths and their explanations).
        std::mem::forget(result);
        Ok(emit_written(
            written.map(|w| w.and_then(|()| out.flush())),
            run.color,
        ))
    })
}

fn run_can(
    run: &Run,
    (principal, target): (&str, &str),
    request: Option<(String, String)>,
    profiles: &ProfileArgs,
    format: WhoCanFormat,
) -> Exit {
    run.with_workspace(|ws| {
        let opts = can::CanOptions {
            profiles: profile_options(&run.root, profiles)?,
            request,
        };
        let result = can::run(ws, principal, target, &opts)?;
        let exit = Exit::failed_if(!result.allowed());
        Ok(emit(run.renderer(format).can(&result), exit, run.color))
    })
}

fn run_suffice(run: &Run, opts: suffice::SufficeOptions, format: SufficeFormat) -> Exit {
    run.with_workspace(|ws| {
        let result = suffice::run(&run.root, &run.overrides, ws, &opts)?;
        let exit = Exit::failed_if(!result.sufficient());
        Ok(emit(run.renderer(format).suffice(&result), exit, run.color))
    })
}

fn run_prove(run: &Run, args: crate::app::args::ProveArgs) -> Exit {
    let opts = prove::ProveOptions {
        files: args.files,
        against: args.against,
        counterexamples: args.counterexamples,
        per_query: args.timeout,
    };
    let format = args.format;
    run.with_workspace(|ws| {
        let result = prove::run(&run.root, ws, &opts)?;
        let exit = Exit::failed_if(!result.all_proved());
        Ok(emit(run.renderer(format).prove(&result), exit, run.color))
    })
}

fn run_snapshot(run: &Run, output: Option<&PathBuf>) -> Exit {
    run.with_workspace(|ws| {
        let s = drift::snapshot(ws, output)?;
        let line = format!(
            "wrote {}: {}, {}, {}\n",
            s.path,
            plural(s.profiles, "profile", "profiles"),
            plural(s.paths, "path", "paths"),
            plural(s.grants, "grant", "grants")
        );
        Ok(finish(write_stdout(&line), Exit::Ok))
    })
}

fn run_drift(run: &Run, opts: drift::DriftOptions, format: SufficeFormat) -> Exit {
    run.with_workspace(|ws| {
        let result = drift::drift(ws, &opts)?;
        let exit = Exit::failed_if(result.failing());
        let exit = emit(run.renderer(format).drift(&result), exit, run.color);
        Ok(match &result.accept_failed {
            Some(problem) => fail(std::slice::from_ref(problem), run.color),
            None => exit,
        })
    })
}

fn run_report(run: &Run, profiles: &ProfileArgs, format: ReportFormat) -> Exit {
    run.with_workspace(|ws| {
        let result = report::run(ws, &profile_options(&run.root, profiles)?)?;
        // In pieces of a megabyte, written by a thread of their own while the next rows are
        // made: standard output is line-buffered, and a report of millions of paths would
        // otherwise make a write call for every path.
        let renderer = run.renderer(format);
        let mut rendered = true;
        let written = crate::core::files::write_beside(std::io::stdout(), &mut |out| {
            renderer.write_report(&result, out).unwrap_or_else(|| {
                rendered = false;
                Ok(())
            })
        });
        Ok(emit_written(rendered.then_some(written), run.color))
    })
}

fn run_verify(run: &Run, path: &Path) -> Exit {
    run.with_workspace(|ws| {
        let verdict = report::verify(ws, &run.root, path)?;
        Ok(emit(
            Some(verdict.text),
            Exit::failed_if(!verdict.current),
            run.color,
        ))
    })
}

/// `actas man`: the manual page, in roff.
fn manual(color: bool) -> Exit {
    let mut page = Vec::new();
    match clap_mangen::Man::new(<Cli as clap::CommandFactory>::command()).render(&mut page) {
        Ok(()) => finish(write_stdout(&String::from_utf8_lossy(&page)), Exit::Ok),
        Err(e) => fail(
            &[Problem::new(format!("failed to render the manual: {e}"))],
            color,
        ),
    }
}

/// The completion script for `shell`.
fn completions(shell: clap_complete::Shell) -> String {
    let mut script = Vec::new();
    clap_complete::generate(
        shell,
        &mut <Cli as clap::CommandFactory>::command(),
        "actas",
        &mut script,
    );
    String::from_utf8_lossy(&script).into_owned()
}

/// The workspace folder: where the command runs as if started (`-C`), or the nearest folder
/// above it with an `actas.yaml`. Paths on the command line keep meaning what was typed:
/// relative to the start, not to a workspace found above it.
fn locate(cli: &mut Cli) -> PathBuf {
    let start = cli.workspace.clone().unwrap_or_else(|| PathBuf::from("."));
    // `init` starts a workspace where it is asked to, never in a folder above.
    if matches!(cli.command, Command::Init) {
        return start;
    }
    match workspace::discover(&start) {
        Some(found) => {
            let base = std::env::current_dir().unwrap_or_default().join(&start);
            cli.anchor_paths(&base);
            found
        }
        None => start,
    }
}

fn run_init(run: &Run) -> Exit {
    match crate::commands::init::init(&run.root) {
        Ok(result) => {
            let text = crate::report::human::init(&result, run.color_out);
            finish(write_stdout(&text), Exit::Ok)
        }
        Err(problems) => fail(&problems, run.color),
    }
}

/// `check --explain RULE`: the rule's page, or what the rules are.
fn explain_rule(name: &str, color: bool) -> Exit {
    match crate::core::rules::find_rule(name) {
        Some(rule) => finish(write_stdout(rule.doc), Exit::Ok),
        None => {
            let names = crate::core::rules::rule_names();
            let p = Problem::new(format!("unknown rule `{name}`")).with_help(
                crate::core::suggest::did_you_mean(name, names.clone()).unwrap_or_else(|| {
                    format!("the rules: {}", names.collect::<Vec<_>>().join(", "))
                }),
            );
            fail(&[p], color)
        }
    }
}

fn run_check(run: &Run, format: CheckFormat, solver: bool) -> Exit {
    // `check` reports input problems as findings, so it loads the workspace itself.
    match check::run(&run.root, &run.overrides, &TestOptions::default(), solver) {
        Ok(result) => {
            run.warn(&result.warnings);
            let text = run.renderer(format).check(&result).unwrap_or_default();
            let exit = Exit::failed_if(result.failed());
            finish(write_stdout(&text), exit)
        }
        Err(e) => fail(&[Problem::from_diagnostic(&e)], run.color),
    }
}

/// `--coverage`, `--coverage-format`, `--coverage-output`.
struct CoverageRequest {
    format: CoverageFormat,
    output: Option<PathBuf>,
}

fn run_test(
    run: &Run,
    opts: TestOptions,
    (format, status_level): (TestFormat, StatusLevel),
    coverage: Option<CoverageRequest>,
) -> Exit {
    // Two documents cannot share standard output.
    if let Some(c) = &coverage {
        if c.output.is_none()
            && c.format != CoverageFormat::Human
            && !matches!(format, TestFormat::Human)
        {
            return fail(
                &[Problem::new(
                    "the test results and the coverage would both go to standard output",
                )
                .with_help("write the coverage to a file with --coverage-output FILE")],
                run.color,
            );
        }
    }
    run.with_workspace(|ws| {
        let cases = test::load_cases(ws, &opts)?;
        if let (Some(s), true) = (opts.shard, cases.is_empty()) {
            let _ = writeln!(
                std::io::stderr(),
                "warning: shard {}/{} has no cases (more shards than cases?)",
                s.index,
                s.count
            );
        }
        let Some(request) = coverage else {
            let result = test::run_owned(&ws.engine, cases, opts.strict);
            let exit = Exit::failed_if(result.failed() > 0);
            let mut out = std::io::BufWriter::with_capacity(1 << 20, std::io::stdout().lock());
            let written = test_renderer(format, run.color_out, status_level)
                .write_test(&result, &mut out)
                .unwrap_or(Ok(()))
                .and_then(|()| out.flush());
            // Like the workspace, the results are not freed one by one.
            std::mem::forget(result);
            return Ok(finish(output::written(written), exit));
        };
        let recorder = Recorder::new(&ws.engine);
        let result = test::run_recording(&ws.engine, &cases, opts.strict, Some(&recorder));
        let partial = if !opts.filters.is_empty() {
            Some("--filter")
        } else if opts.shard.is_some() {
            Some("--shard")
        } else {
            None
        };
        let cov = coverage::finish(ws, &recorder, &cases, partial)?;
        let text = test_renderer(format, run.color_out, status_level)
            .test(&result)
            .unwrap_or_default();
        let exit = Exit::failed_if(result.failed() > 0 || !cov.shortfalls.is_empty());
        let doc = crate::report::coverage::render(&cov, request.format);
        let human_results = matches!(format, TestFormat::Human);
        let written = match (&request.output, request.format) {
            (Some(path), _) => write_stdout(&text).and_then(|()| {
                let full = ws.root.join(path);
                let display = display_path(&ws.root, &full);
                crate::core::files::write_output(&full, doc.as_bytes()).map_err(|e| {
                    fail(
                        &[Problem::new(format!(
                            "failed to write the coverage to `{display}`: {}",
                            crate::core::files::io_reason(&e)
                        ))],
                        run.color,
                    )
                })?;
                note_gate(&cov);
                Ok(())
            }),
            (None, CoverageFormat::Human) if human_results => write_stdout(&(text + &doc)),
            (None, CoverageFormat::Human) => write_stdout(&text).map(|()| {
                let _ = std::io::stderr().write_all(doc.as_bytes());
            }),
            // The coverage document takes standard output; the results go to standard error.
            (None, _) => {
                let _ = std::io::stderr().write_all(text.as_bytes());
                note_gate(&cov);
                write_stdout(&doc)
            }
        };
        Ok(finish(written, exit))
    })
}

/// The gate's verdict on standard error, when the coverage went elsewhere.
fn note_gate(cov: &coverage::Coverage) {
    if let Some(line) = crate::report::coverage::gate_line(cov) {
        let _ = writeln!(std::io::stderr(), "error: {line}");
    }
}

/// `--profile`, `--context`, `--context-file`; the file is read relative to the workspace.
fn profile_options(root: &Path, args: &ProfileArgs) -> Result<ProfileOptions, Vec<Problem>> {
    let adhoc = match (&args.context, &args.context_file) {
        (Some(json), _) => Some(AdhocContext::Inline(json.clone())),
        (None, Some(path)) => {
            let full = root.join(path);
            let display = display_path(root, &full);
            let text = crate::core::files::read_text(&full)
                .map_err(|why| vec![Problem::new(format!("failed to read `{display}`: {why}"))])?;
            Some(AdhocContext::File(SourceFile::new(display, text)))
        }
        (None, None) => None,
    };
    Ok(ProfileOptions {
        names: args.profiles.clone(),
        adhoc,
    })
}
