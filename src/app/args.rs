//! The command line as clap reads it: raw user input only. `app::run` turns it into checked
//! options once and passes those on.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::commands::test;
use crate::report::coverage::CoverageFormat;
use crate::report::{
    CheckFormat, ProveFormat, ReportFormat, StatusLevel, SufficeFormat, TestFormat, WhoCanFormat,
};

/// Test who may impersonate whom in Cedar policies.
#[derive(Debug, Parser)]
#[command(
    name = "actas",
    version,
    about,
    max_term_width = 100,
    next_help_heading = "Global options",
    after_help = "Examples:\n  actas check                      lint the workspace found here or above\n  actas test --status-level pass   run every scenario, listing each case\n  actas who-can 'ServiceAccount::\"prod-deployer\"' --profile routine\n  actas report --format html > access.html\n\nDocumentation: README.md and docs/ of the actas repository."
)]
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
    /// When to colour: `auto` colours a stream only when it is a terminal (standard output and
    /// standard error decided each on its own), honouring NO_COLOR and CLICOLOR_FORCE.
    #[arg(long, value_enum, value_name = "WHEN", default_value_t = ColorChoice::Auto, global = true)]
    pub color: ColorChoice,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start a workspace where a Cedar schema and policies already are: writes a commented
    /// actas.yaml, example entities when needed and one example scenario that passes.
    #[command(
        after_help = "Examples:\n  cd my-policies && actas init && actas test\n  actas -C path/to/policies-repo init"
    )]
    Init,
    /// Validate every input and run the impersonation lint rules (exit 1 on error-level findings).
    #[command(
        after_help = "Examples:\n  actas check\n  actas check --format sarif > actas.sarif\n  actas check --explain unbounded-impersonation"
    )]
    Check {
        /// Output format: findings for people, JSON, SARIF for code scanning, or GitHub
        /// annotations.
        #[arg(long, value_enum, default_value_t = CheckFormat::Human)]
        format: CheckFormat,
        /// Print a rule's documentation (by name or code, e.g. `unbounded-impersonation`,
        /// `IMP001`) and exit.
        #[arg(long, value_name = "RULE")]
        explain: Option<String>,
        /// Read the bound, justification and MFA rules from the policy text even when the cvc5
        /// solver is found (by default they are proved with it, for every entity data).
        #[arg(long)]
        no_solver: bool,
    },
    /// Run scenario cases.
    #[command(
        after_help = "Examples:\n  actas test\n  actas test fixtures/scenarios/delegation.yaml --status-level pass\n  actas test --filter \"break glass\" --format junit > junit.xml\n  actas test --coverage --coverage-format lcov --coverage-output lcov.info"
    )]
    Test {
        /// Scenario files or folders (default: `scenarios:` of actas.yaml).
        files: Vec<PathBuf>,
        /// Run only cases whose name contains this text (repeatable; any matches).
        #[arg(long, value_name = "TEXT")]
        filter: Vec<String>,
        /// Output format: results for people, JSON (docs/json.md), or JUnit XML for CI.
        #[arg(long, value_enum, default_value_t = TestFormat::Human)]
        format: TestFormat,
        /// Which cases the human format lists: `pass` every case, `fail` failing cases (and
        /// passing ones with evaluation errors), `none` only the recap of failures and counts.
        #[arg(long, value_enum, value_name = "LEVEL", default_value_t = StatusLevel::Fail)]
        status_level: StatusLevel,
        /// Fail cases whose requests had evaluation errors.
        #[arg(long)]
        strict: bool,
        /// Run shard i of n (1-based), by a stable hash of "<file>::<name>", to split a suite
        /// across CI machines.
        #[arg(long, value_name = "i/n")]
        shard: Option<test::Shard>,
        /// Report which policies, conditions and impersonation paths no case exercises, and
        /// apply `coverage:` of actas.yaml (exit 1 below it).
        #[arg(long)]
        coverage: bool,
        /// The coverage's format (implies --coverage).
        #[arg(long, value_enum, value_name = "FORMAT")]
        coverage_format: Option<CoverageFormat>,
        /// Write the coverage to FILE instead of standard output (implies --coverage).
        #[arg(long, value_name = "FILE")]
        coverage_output: Option<PathBuf>,
    },
    /// Who can act as TARGET (directly or through a chain), or what `--principal` can act as.
    #[command(name = "who-can")]
    #[command(
        after_help = "Examples:\n  actas who-can 'ServiceAccount::\"prod-deployer\"'\n  actas who-can --principal 'User::\"carol\"' --profile routine\n  actas who-can 'ServiceAccount::\"billing-admin\"' --context '{\"mfa\": true}'"
    )]
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
        /// Output format: paths for people, or JSON (docs/json.md).
        #[arg(long, value_enum, default_value_t = WhoCanFormat::Human)]
        format: WhoCanFormat,
    },
    /// Yes or no: can PRINCIPAL act as TARGET (and then make a request)? Exit 0 yes, 1 no.
    #[command(
        after_help = "Yes when it holds under at least one selected profile (every profile by default);\neach profile's answer is listed, with the chain and its policies, or what blocks it.\n\nExamples:\n  actas can carol prod-deployer --profile routine\n  actas can 'User::\"carol\"' 'ServiceAccount::\"prod-deployer\"' --action 'Action::\"deploy\"' --resource 'Cluster::\"prod\"'"
    )]
    Can {
        /// The identity, e.g. 'User::"carol"' (a bare id when unique).
        #[arg(value_name = "PRINCIPAL")]
        principal: String,
        /// The account, e.g. 'ServiceAccount::"prod-deployer"' (a bare id when unique).
        #[arg(value_name = "TARGET")]
        target: String,
        /// Also ask whether, acting as TARGET, PRINCIPAL may do this action (with --resource).
        #[arg(long, value_name = "UID", requires = "resource")]
        action: Option<String>,
        /// The resource of --action.
        #[arg(long, value_name = "UID", requires = "action")]
        resource: Option<String>,
        #[command(flatten)]
        profiles: ProfileArgs,
        /// Output format: text, or JSON (docs/json.md).
        #[arg(long, value_enum, default_value_t = WhoCanFormat::Human)]
        format: WhoCanFormat,
    },
    /// Is the acting identity's permission set enough for each task; what it holds beyond it.
    #[command(
        after_help = "Examples:\n  actas suffice\n  actas suffice --with proposed.cedar\n  actas suffice --without legacy-admin"
    )]
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
        /// Output format: text, JSON or Markdown (for a pull request).
        #[arg(long, value_enum, default_value_t = SufficeFormat::Human)]
        format: SufficeFormat,
    },
    /// Record the workspace's effective access (paths and grants per profile) as the baseline.
    #[command(after_help = "Examples:\n  actas snapshot\n  actas snapshot --output baseline.json")]
    Snapshot {
        /// Where to write it (default `actas.baseline.json` in the workspace).
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Compare the current policies with the baseline, and with a usage log.
    #[command(
        after_help = "Examples:\n  actas drift\n  actas drift --usage access.jsonl --since 2026-09-01T00:00:00Z\n  actas drift --accept"
    )]
    Drift {
        /// The baseline to compare with (default `actas.baseline.json`).
        #[arg(long, value_name = "FILE")]
        baseline: Option<PathBuf>,
        /// Rewrite the baseline to the current access after reporting.
        #[arg(long)]
        accept: bool,
        /// A JSON Lines usage log: granted but unused access, used but now denied.
        ///
        /// One JSON object per line: `time` (RFC 3339), `principal`, optional `chain` (the
        /// accounts acted through, in order), `action`, `resource` (uids as `User::"alice"`
        /// strings or `{"type", "id"}` objects) and optional `context`.
        #[arg(long, value_name = "LOG.jsonl")]
        usage: Option<PathBuf>,
        /// Only log entries at or after this RFC 3339 time.
        #[arg(long, value_name = "TIME", requires = "usage")]
        since: Option<String>,
        /// Skip and count malformed log lines instead of failing.
        #[arg(long, requires = "usage")]
        lenient: bool,
        /// Output format: text, JSON or Markdown (for a pull request).
        #[arg(long, value_enum, default_value_t = SufficeFormat::Human)]
        format: SufficeFormat,
    },
    /// The whole can-impersonate matrix, per profile, with summary figures, for auditors.
    #[command(
        after_help = "Examples:\n  actas report --profile routine\n  actas report --format html > access.html\n  actas report --format csv > access.csv\n  actas report --verify access.html"
    )]
    Report {
        #[command(flatten)]
        profiles: ProfileArgs,
        /// Check that a JSON or HTML report still describes this workspace: its inputs' SHA-256
        /// against the files now (exit 0 yes, 1 no, naming each changed file).
        #[arg(long, value_name = "REPORT")]
        verify: Option<PathBuf>,
        /// Output format: text, JSON, Markdown, CSV (one row per path), a standalone HTML page, or
        /// the impersonation graph (DOT, Mermaid).
        #[arg(long, value_enum, default_value_t = ReportFormat::Human)]
        format: ReportFormat,
    },
    /// Prove properties for every entity data the schema allows (Cedar's symbolic compiler and
    /// the cvc5 solver): exit 0 all proved, 1 one refuted or unproved, 2 bad input or no solver.
    #[command(
        after_help = "Properties are read from `fixtures/properties/*.yaml` (or `properties:` of actas.yaml).\nA proof covers every request and entity data the schema allows, not only the inventory;\nwhether a chain reaches an account over the inventory is `who-can`'s question.\n\nExamples:\n  actas prove\n  actas prove --against git:HEAD~1\n  actas prove --counterexamples fixtures/counterexamples --format sarif > prove.sarif"
    )]
    Prove(ProveArgs),
    /// Print a shell completion script (install it where your shell reads completions).
    #[command(
        after_help = "Examples:\n  actas completions bash > ~/.local/share/bash-completion/completions/actas\n  actas completions zsh > \"${fpath[1]}/_actas\"\n  actas completions fish > ~/.config/fish/completions/actas.fish"
    )]
    Completions {
        /// The shell to complete for.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff), e.g. `actas man > actas.1 && man ./actas.1`.
    Man,
}

/// `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

impl ColorChoice {
    /// Whether to colour a stream that is (or is not) a terminal. Under `auto`, as anstream
    /// decides: `CLICOLOR_FORCE` (not `0`) colours, then `NO_COLOR` (not empty) and `CLICOLOR=0`
    /// do not, then the terminal check.
    pub fn colors(self, is_terminal: bool, env: impl Fn(&str) -> Option<String>) -> bool {
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                if env("CLICOLOR_FORCE").is_some_and(|v| !v.is_empty() && v != "0") {
                    true
                } else if env("NO_COLOR").is_some_and(|v| !v.is_empty())
                    || env("CLICOLOR").is_some_and(|v| v == "0")
                {
                    false
                } else {
                    is_terminal
                }
            }
        }
    }
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

impl Cli {
    /// Makes every path given on the command line absolute against `base` (where the command
    /// was started), so that it keeps meaning what the user typed when the workspace was found
    /// in a folder above.
    pub(super) fn anchor_paths(&mut self, base: &std::path::Path) {
        let anchor = |p: &mut PathBuf| *p = base.join(&*p);
        self.policies.iter_mut().for_each(anchor);
        self.entities.iter_mut().for_each(anchor);
        self.schema.iter_mut().for_each(anchor);
        match &mut self.command {
            Command::Test {
                files,
                coverage_output,
                ..
            } => {
                files.iter_mut().for_each(anchor);
                coverage_output.iter_mut().for_each(anchor);
            }
            Command::WhoCan { profiles, .. } | Command::Can { profiles, .. } => {
                profiles.context_file.iter_mut().for_each(anchor);
            }
            Command::Report {
                profiles, verify, ..
            } => {
                profiles.context_file.iter_mut().for_each(anchor);
                verify.iter_mut().for_each(anchor);
            }
            Command::Suffice { tasks, with, .. } => {
                tasks.iter_mut().for_each(anchor);
                with.iter_mut().for_each(anchor);
            }
            Command::Snapshot { output } => output.iter_mut().for_each(anchor),
            Command::Prove(ProveArgs {
                files,
                against,
                counterexamples,
                ..
            }) => {
                files.iter_mut().for_each(anchor);
                counterexamples.iter_mut().for_each(anchor);
                for a in against.iter_mut().filter(|a| !a.starts_with("git:")) {
                    *a = base.join(&*a).display().to_string();
                }
            }
            Command::Drift {
                baseline, usage, ..
            } => {
                baseline.iter_mut().for_each(anchor);
                usage.iter_mut().for_each(anchor);
            }
            Command::Check { .. } | Command::Init | Command::Completions { .. } | Command::Man => {}
        }
    }
}

/// `actas prove`'s own flags.
#[derive(Debug, clap::Args)]
pub struct ProveArgs {
    /// Property files or folders (default: `properties:` of actas.yaml, else
    /// `fixtures/properties/`).
    #[arg(long = "properties", value_name = "PATH")]
    pub files: Vec<PathBuf>,
    /// Also prove that the policies allow nothing these policies do not (repeatable): a
    /// folder of policies, a workspace folder, or `git:REV` (the workspace at a revision).
    #[arg(long, value_name = "REF")]
    pub against: Vec<String>,
    /// Write each counterexample to DIR as a scenario file `actas test` fails on until
    /// the policies are fixed (or as Cedar request and entities JSON when it cannot be one).
    #[arg(long, value_name = "DIR")]
    pub counterexamples: Option<PathBuf>,
    /// Seconds the solver may spend on one query (one principal type, action and resource
    /// type); past it the property is "unknown (timeout)", never proved.
    #[arg(long, value_name = "SECONDS", default_value = "60", value_parser = seconds)]
    pub timeout: std::time::Duration,
    /// Output format: text, JSON, SARIF (a refuted property located at the policy that
    /// allows its counterexample) or JUnit XML.
    #[arg(long, value_enum, default_value_t = ProveFormat::Human)]
    pub format: ProveFormat,
}

/// `--timeout`: a number of seconds, more than 0 and at most a day.
fn seconds(text: &str) -> Result<std::time::Duration, String> {
    match text.parse::<f64>() {
        Ok(s) if s > 0.0 && s <= 86_400.0 => Ok(std::time::Duration::from_secs_f64(s)),
        _ => Err(format!(
            "`{text}` is not a number of seconds between 0 and 86400"
        )),
    }
}
