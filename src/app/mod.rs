//! The command line: clap types holding raw input, turned once into checked options, one call
//! into the library per command, and the exit code.

pub mod exit;

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use crate::analysis::profiles::AdhocContext;
use crate::app::exit::Exit;
use crate::commands::test::{self, TestOptions};
use crate::commands::who_can::{self, ProfileOptions};
use crate::commands::{check, drift, report, suffice};
use crate::core::diag::{render, Problem};
use crate::report::{renderer, Format};
use crate::workspace::{self, Overrides, Workspace};

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
    /// No progress bar (it only ever shows on a terminal, outside CI, after about a second).
    #[arg(short, long, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate every input and run the impersonation lint rules (exit 1 on error-level findings).
    Check {
        #[arg(long, value_enum, default_value_t = CheckFormat::Human)]
        format: CheckFormat,
        /// Print a rule's documentation (by name or code, e.g. `unbounded-impersonation`,
        /// `IMP001`) and exit.
        #[arg(long, value_name = "RULE")]
        explain: Option<String>,
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
        /// Run shard i of n (1-based), by a stable hash of "<file>::<name>", to split a suite
        /// across CI machines.
        #[arg(long, value_name = "i/n")]
        shard: Option<test::Shard>,
    },
    /// Who can act as TARGET (directly or through a chain), or what `--principal` can act as.
    #[command(name = "who-can")]
    WhoCan {
        /// The account, e.g. 'ServiceAccount::"prod-deployer"'.
        #[arg(
            value_name = "TARGET",
            required_unless_present = "principal",
            conflicts_with = "principal"
        )]
        target: Option<String>,
        /// Show what this identity can act as instead.
        #[arg(long, value_name = "UID")]
        principal: Option<String>,
        #[command(flatten)]
        profiles: ProfileArgs,
        #[arg(long, value_enum, default_value_t = WhoCanFormat::Human)]
        format: WhoCanFormat,
    },
    /// Is the acting identity's permission set enough for each task; what it holds beyond it.
    Suffice {
        /// Task files or folders (default: `tasks:` of actas.yaml, else `fixtures/tasks/`).
        tasks: Vec<PathBuf>,
        /// Add the policies of this file, validated against the schema (repeatable): does the
        /// task become sufficient, and what else does the change grant?
        #[arg(long, value_name = "FILE.cedar")]
        with: Vec<PathBuf>,
        /// Remove this policy, link or template (repeatable): what breaks?
        #[arg(long, value_name = "POLICY_ID")]
        without: Vec<String>,
        #[arg(long, value_enum, default_value_t = SufficeFormat::Human)]
        format: SufficeFormat,
    },
    /// Record the workspace's effective access (paths and grants per profile) as the baseline.
    Snapshot {
        /// Where to write it (default `actas.baseline.json` in the workspace).
        #[arg(long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Compare the current policies with the baseline, and with a usage log.
    Drift {
        /// The baseline to compare with (default `actas.baseline.json`).
        #[arg(long, value_name = "FILE")]
        baseline: Option<PathBuf>,
        /// Rewrite the baseline to the current access after reporting.
        #[arg(long)]
        accept: bool,
        /// A JSON Lines usage log: granted but unused access, used but now denied.
        #[arg(long, value_name = "LOG.jsonl")]
        usage: Option<PathBuf>,
        /// Only log entries at or after this RFC 3339 time.
        #[arg(long, value_name = "TIME", requires = "usage")]
        since: Option<String>,
        /// Skip and count malformed log lines instead of failing.
        #[arg(long, requires = "usage")]
        lenient: bool,
        #[arg(long, value_enum, default_value_t = SufficeFormat::Human)]
        format: SufficeFormat,
    },
    /// The whole can-impersonate matrix, per profile, with summary figures, for auditors.
    Report {
        #[command(flatten)]
        profiles: ProfileArgs,
        #[arg(long, value_enum, default_value_t = ReportFormat::Human)]
        format: ReportFormat,
    },
}

/// Which profiles a report runs under.
#[derive(Debug, Clone, clap::Args)]
pub struct ProfileArgs {
    /// Run under this profile of actas.yaml only (repeatable; `adhoc` names the `--context` one).
    #[arg(long = "profile", value_name = "NAME")]
    pub profiles: Vec<String>,
    /// Add a profile `adhoc` with this context (a JSON object).
    #[arg(long, value_name = "JSON", conflicts_with = "context_file")]
    pub context: Option<String>,
    /// Add a profile `adhoc` with the context in this YAML or JSON file.
    #[arg(long, value_name = "FILE")]
    pub context_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum WhoCanFormat {
    Human,
    Json,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ReportFormat {
    Human,
    Json,
    Markdown,
    Csv,
    Html,
}

/// `--format` of `suffice` and `drift`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum SufficeFormat {
    Human,
    Json,
    Markdown,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum CheckFormat {
    Human,
    Json,
    /// SARIF 2.1.0, for code scanning.
    Sarif,
    /// GitHub Actions annotations (workflow commands).
    Github,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum TestFormat {
    Human,
    Json,
    Junit,
}

impl From<CheckFormat> for Format {
    fn from(f: CheckFormat) -> Self {
        match f {
            CheckFormat::Human => Format::Human,
            CheckFormat::Json => Format::Json,
            CheckFormat::Sarif => Format::Sarif,
            CheckFormat::Github => Format::Github,
        }
    }
}

impl From<TestFormat> for Format {
    fn from(f: TestFormat) -> Self {
        match f {
            TestFormat::Human => Format::Human,
            TestFormat::Json => Format::Json,
            TestFormat::Junit => Format::Junit,
        }
    }
}

impl From<WhoCanFormat> for Format {
    fn from(f: WhoCanFormat) -> Self {
        match f {
            WhoCanFormat::Human => Format::Human,
            WhoCanFormat::Json => Format::Json,
        }
    }
}

impl From<SufficeFormat> for Format {
    fn from(f: SufficeFormat) -> Self {
        match f {
            SufficeFormat::Human => Format::Human,
            SufficeFormat::Json => Format::Json,
            SufficeFormat::Markdown => Format::Markdown,
        }
    }
}

impl From<ReportFormat> for Format {
    fn from(f: ReportFormat) -> Self {
        match f {
            ReportFormat::Human => Format::Human,
            ReportFormat::Json => Format::Json,
            ReportFormat::Markdown => Format::Markdown,
            ReportFormat::Csv => Format::Csv,
            ReportFormat::Html => Format::Html,
        }
    }
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
    let ci = std::env::var("CI").ok();
    if crate::core::progress::wanted(std::io::stderr().is_terminal(), ci.as_deref(), cli.quiet) {
        crate::core::progress::install(Box::new(Bar::new()));
    }
    let root = cli.workspace.clone().unwrap_or_else(|| PathBuf::from("."));
    let overrides = Overrides {
        policies: cli.policies.iter().map(|p| root.join(p)).collect(),
        schema: cli.schema.as_ref().map(|p| root.join(p)),
        entities: cli.entities.iter().map(|p| root.join(p)).collect(),
        scenarios: Vec::new(),
        max_chain: cli.max_chain,
        impersonation_actions: cli.impersonation_actions.clone(),
        extra_policies: Vec::new(),
    };
    match cli.command {
        Command::Check {
            explain: Some(name),
            ..
        } => match crate::lint::find_rule(&name) {
            Some(rule) => finish(write_stdout(rule.doc), Exit::Ok),
            None => {
                let names = crate::lint::RULES.iter().map(|r| r.name);
                let mut p = crate::core::diag::Problem::new(format!("unknown rule `{name}`"));
                p.help = Some(match crate::core::suggest::closest(&name, names) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!(
                        "the rules: {}",
                        crate::lint::RULES
                            .iter()
                            .map(|r| r.name)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                });
                fail(&[p], color)
            }
        },
        Command::Check { format, .. } => {
            let format = Format::from(format);
            match check::run(&root, &overrides, &TestOptions::default()) {
                Ok(result) => {
                    let text = renderer(format, color).check(&result).unwrap_or_default();
                    let exit = if !result.failed() {
                        Exit::Ok
                    } else {
                        Exit::Failed
                    };
                    finish(write_stdout(&text), exit)
                }
                Err(e) => fail(&[crate::core::diag::Problem::new(e.to_string())], color),
            }
        }
        Command::Test {
            files,
            filter,
            format,
            strict,
            shard,
        } => {
            let format = Format::from(format);
            let ws = match load(&root, &overrides) {
                Ok(ws) => ws,
                Err(p) => return fail(&p, color),
            };
            let opts = TestOptions {
                files,
                filters: filter,
                strict,
                shard,
            };
            let cases = match test::load_cases(&ws, &opts) {
                Ok(c) => c,
                Err(p) => return fail(&p, color),
            };
            if let (Some(s), true) = (shard, cases.is_empty()) {
                let _ = writeln!(
                    std::io::stderr(),
                    "warning: shard {}/{} has no cases (more shards than cases?)",
                    s.index,
                    s.count
                );
            }
            let run = test::run(&ws.engine, &cases, opts.strict);
            let text = renderer(format, color).test(&run).unwrap_or_default();
            let exit = if run.failed() == 0 {
                Exit::Ok
            } else {
                Exit::Failed
            };
            finish(write_stdout(&text), exit)
        }
        Command::WhoCan {
            target,
            principal,
            profiles,
            format,
        } => {
            let format = Format::from(format);
            let ws = match load(&root, &overrides) {
                Ok(ws) => ws,
                Err(p) => return fail(&p, color),
            };
            let (text, is_target) = match (&target, &principal) {
                (Some(t), _) => (t, true),
                (None, Some(p)) => (p, false),
                // clap requires one of them.
                (None, None) => return Exit::CannotRun,
            };
            let result = who_can::parse_query(&ws, text, is_target).and_then(|q| {
                let opts = profile_options(&root, &profiles)?;
                who_can::run(&ws, q, &opts)
            });
            match result {
                Ok(r) => emit(renderer(format, color).who_can(&r), Exit::Ok, color),
                Err(p) => fail(&p, color),
            }
        }
        Command::Suffice {
            tasks,
            with,
            without,
            format,
        } => {
            let format = Format::from(format);
            let ws = match load(&root, &overrides) {
                Ok(ws) => ws,
                Err(p) => return fail(&p, color),
            };
            let opts = suffice::SufficeOptions {
                files: tasks,
                with,
                without,
            };
            match suffice::run(&root, &overrides, &ws, &opts) {
                Ok(r) => {
                    let exit = if r.sufficient() {
                        Exit::Ok
                    } else {
                        Exit::Failed
                    };
                    emit(renderer(format, color).suffice(&r), exit, color)
                }
                Err(p) => fail(&p, color),
            }
        }
        Command::Snapshot { output } => {
            let ws = match load(&root, &overrides) {
                Ok(ws) => ws,
                Err(p) => return fail(&p, color),
            };
            match drift::snapshot(&ws, output.as_ref()) {
                Ok((path, b)) => finish(
                    write_stdout(&format!(
                        "wrote {path}: {}, {}, {}\n",
                        crate::core::diag::plural(b.profiles.len(), "profile", "profiles"),
                        crate::core::diag::plural(b.paths.len(), "path", "paths"),
                        crate::core::diag::plural(b.grants.len(), "grant", "grants")
                    )),
                    Exit::Ok,
                ),
                Err(p) => fail(&p, color),
            }
        }
        Command::Drift {
            baseline,
            accept,
            usage,
            since,
            lenient,
            format,
        } => {
            let format = Format::from(format);
            let ws = match load(&root, &overrides) {
                Ok(ws) => ws,
                Err(p) => return fail(&p, color),
            };
            let opts = drift::DriftOptions {
                baseline,
                accept,
                usage,
                since,
                lenient,
            };
            match drift::drift(&ws, &opts) {
                Ok(r) => {
                    let exit = if r.failing() { Exit::Failed } else { Exit::Ok };
                    emit(renderer(format, color).drift(&r), exit, color)
                }
                Err(p) => fail(&p, color),
            }
        }
        Command::Report { profiles, format } => {
            let format = Format::from(format);
            let ws = match load(&root, &overrides) {
                Ok(ws) => ws,
                Err(p) => return fail(&p, color),
            };
            let result = profile_options(&root, &profiles).and_then(|opts| report::run(&ws, &opts));
            match result {
                Ok(r) => {
                    let mut out = std::io::stdout().lock();
                    let written = renderer(format, color).write_report(&r, &mut out);
                    emit_written(written.map(|w| w.and_then(|()| out.flush())), color)
                }
                Err(p) => fail(&p, color),
            }
        }
    }
}

/// Loads the workspace; any problem means the command cannot run.
fn load(root: &std::path::Path, overrides: &Overrides) -> Result<Workspace, Vec<Problem>> {
    let loaded = workspace::load(root, overrides).map_err(|e| vec![Problem::new(e.to_string())])?;
    match loaded.workspace {
        Some(ws) if loaded.problems.is_empty() => Ok(ws),
        _ => Err(loaded.problems),
    }
}

/// `--profile`, `--context`, `--context-file`; the file is read relative to the workspace.
fn profile_options(
    root: &std::path::Path,
    args: &ProfileArgs,
) -> Result<ProfileOptions, Vec<Problem>> {
    let adhoc = match (&args.context, &args.context_file) {
        (Some(json), _) => Some(AdhocContext::Inline(json.clone())),
        (None, Some(path)) => {
            let full = root.join(path);
            let display = crate::core::files::display_path(root, &full);
            let text = std::fs::read_to_string(&full).map_err(|e| {
                vec![Problem::new(format!(
                    "failed to read `{display}`: {}",
                    crate::core::files::io_reason(&e)
                ))]
            })?;
            Some(AdhocContext::File(crate::core::diag::SourceFile::new(
                display, text,
            )))
        }
        (None, None) => None,
    };
    Ok(ProfileOptions {
        names: args.profiles.clone(),
        adhoc,
    })
}

/// Writes a rendered document and exits with `exit`; a renderer that could not render is a bug
/// (exit 2).
fn emit(text: Option<String>, exit: Exit, color: bool) -> Exit {
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
fn fail(problems: &[crate::core::diag::Problem], color: bool) -> Exit {
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
    written(out.write_all(text.as_bytes()).and_then(|()| out.flush()))
}

fn written(result: std::io::Result<()>) -> Result<(), Exit> {
    match result {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Err(Exit::Ok),
        Err(_) => Err(Exit::CannotRun),
    }
}

/// [`emit`] for a renderer that wrote its output itself.
fn emit_written(result: Option<std::io::Result<()>>, color: bool) -> Exit {
    match result {
        Some(r) => finish(written(r), Exit::Ok),
        None => emit(None, Exit::Ok, color),
    }
}

/// The exit for a command whose output was written (or not).
fn finish(written: Result<(), Exit>, exit: Exit) -> Exit {
    match written {
        Ok(()) => exit,
        Err(e) => e,
    }
}

/// An indicatif bar on stderr that stays hidden until a phase has run for a second, so quick
/// runs never flicker.
struct Bar {
    bar: indicatif::ProgressBar,
}

impl Bar {
    fn new() -> Self {
        let bar =
            indicatif::ProgressBar::with_draw_target(None, indicatif::ProgressDrawTarget::hidden());
        if let Ok(style) =
            indicatif::ProgressStyle::with_template("{msg:>10} [{bar:40}] {pos}/{len} ({eta})")
        {
            bar.set_style(style.progress_chars("=> "));
        }
        Self { bar }
    }
}

impl crate::core::progress::Progress for Bar {
    fn start(&self, what: &str, total: u64) {
        self.bar
            .set_draw_target(indicatif::ProgressDrawTarget::hidden());
        self.bar.reset();
        self.bar.set_length(total);
        self.bar.set_message(what.to_string());
    }

    fn advance(&self, units: u64) {
        self.bar.inc(units);
        if self.bar.is_hidden() && self.bar.elapsed() > std::time::Duration::from_secs(1) {
            self.bar
                .set_draw_target(indicatif::ProgressDrawTarget::stderr());
        }
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
