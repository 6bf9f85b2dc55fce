//! Human-readable output: one line per case, failures explained under it.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::io;

use crate::commands::check::CheckResult;
use crate::commands::drift::DriftResult;
use crate::commands::report::ReportResult;
use crate::commands::suffice::SufficeResult;
use crate::commands::test::{Outcome, OutcomeKind, TestRun};
use crate::commands::who_can::WhoCanResult;
use crate::core::diag::{plural, render};
use crate::engine::{Evaluation, HopOutcome};
use crate::lint::Level;
use crate::report::json::{
    drift_doc, streamed_report_doc, suffice_doc, who_can_doc, ChangeDoc, PathDoc, PathRefDoc,
    PolicyDoc, ProfileDoc,
};
use crate::report::{decision, Renderer};

pub struct Human {
    pub color: bool,
}

impl Renderer for Human {
    fn test(&self, run: &TestRun) -> Option<String> {
        let mut out = String::new();
        for o in &run.outcomes {
            let status = if o.passed { "PASS" } else { "FAIL" };
            let _ = writeln!(out, "{status} {} › {}", o.file, o.name);
            if !o.passed {
                explain(&mut out, o);
            } else if !o.errors.is_empty() {
                for e in &o.errors {
                    let _ = writeln!(out, "     evaluation error: {e}");
                }
            }
        }
        let _ = writeln!(out);
        let _ = writeln!(out, "{} passed, {} failed", run.passed(), run.failed());
        Some(out)
    }

    fn check(&self, r: &CheckResult) -> Option<String> {
        let mut out = String::new();
        for f in &r.findings {
            out.push_str(&render(&f.problem, self.color));
            for p in &f.related {
                let place = p
                    .location()
                    .map_or_else(String::new, |(file, lc)| match lc {
                        Some((l, c)) => format!(" ({file}:{l}:{c})"),
                        None => format!(" ({file})"),
                    });
                let _ = writeln!(out, "  also: {}{place}", p.message);
            }
            out.push('\n');
        }
        for s in &r.skipped {
            let _ = writeln!(out, "note: skipped {s}");
        }
        if !r.suppressions.is_empty() {
            let _ = writeln!(out, "suppressed by `@actas_allow`:");
            for s in &r.suppressions {
                let _ = writeln!(
                    out,
                    "  {} on `{}` ({}): {}",
                    s.rule.name,
                    s.policy,
                    plural(s.suppressed.len(), "finding", "findings"),
                    s.reason.as_deref().unwrap_or("no reason given")
                );
            }
        }
        let (errors, warnings) = (r.count(Level::Error), r.count(Level::Warning));
        if errors + warnings == 0 {
            let _ = writeln!(
                out,
                "checked {}, {}, {}, {}: no problems found",
                plural(r.policies, "policy", "policies"),
                plural(r.entities, "entity", "entities"),
                plural(r.cases, "case", "cases"),
                plural(r.tasks, "task", "tasks")
            );
        } else {
            let counts: Vec<String> = [
                (errors, "error", "errors"),
                (warnings, "warning", "warnings"),
            ]
            .into_iter()
            .filter(|(n, _, _)| *n > 0)
            .map(|(n, one, many)| plural(n, one, many))
            .collect();
            let _ = writeln!(out, "{} found", counts.join(", "));
        }
        Some(out)
    }

    fn who_can(&self, r: &WhoCanResult) -> Option<String> {
        Some(self.who_can_text(r))
    }

    fn report(&self, r: &ReportResult) -> Option<String> {
        let mut out = String::new();
        self.write_report_text(r, &mut out);
        Some(out)
    }

    /// Written as it is made: a report can hold millions of paths.
    fn write_report(&self, r: &ReportResult, out: &mut dyn io::Write) -> Option<io::Result<()>> {
        let mut spill = Spill::new(out);
        self.write_report_text(r, &mut spill);
        Some(spill.finish())
    }

    fn suffice(&self, r: &SufficeResult) -> Option<String> {
        Some(suffice_text(r))
    }

    fn drift(&self, r: &DriftResult) -> Option<String> {
        Some(drift_text(r))
    }
}

fn drift_text(r: &DriftResult) -> String {
    let doc = drift_doc(r);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Drift against {} (fails on: {} and above)",
        doc.baseline, doc.fail_on
    );
    for n in &doc.notes {
        let _ = writeln!(out, "note: {n}");
    }
    for (title, items) in [("new", &doc.new), ("removed", &doc.removed)] {
        let _ = writeln!(out);
        let _ = writeln!(out, "{title} ({}):", items.len());
        for i in items {
            let change = ChangeDoc {
                profile: i.profile.clone(),
                kind: i.kind.clone(),
                principal: i.principal.clone(),
                target: i.target.clone(),
                chain: i.chain.clone(),
                acting_as: i.acting_as.clone(),
                action: i.action.clone(),
                resource: i.resource.clone(),
                policies: i.policies.clone(),
            };
            let _ = writeln!(
                out,
                "  {:<6} {}",
                i.severity.to_uppercase(),
                change_line(&change)
            );
        }
    }
    if let Some(u) = &doc.usage {
        let _ = writeln!(out);
        let window = match (&u.first, &u.last) {
            (Some(a), Some(b)) => format!(", from {a} to {b}"),
            _ => String::new(),
        };
        let _ = writeln!(
            out,
            "usage log {}: {}, {} in the window{window}",
            u.file,
            plural(u.lines, "line", "lines"),
            u.considered
        );
        let _ = writeln!(out, "  used but now denied ({}):", u.used_but_denied.len());
        for d in &u.used_but_denied {
            let mut who = d.principal.clone();
            for c in &d.chain {
                let _ = write!(who, " → {c}");
            }
            let why = if d.reasons.is_empty() {
                "no permit matched".to_string()
            } else {
                format!("forbidden by {}", d.reasons.join(", "))
            };
            let lines: Vec<String> = d.lines.iter().map(ToString::to_string).collect();
            let _ = writeln!(
                out,
                "    {who}: {} on {} ({why}); {}: {}",
                d.action,
                d.resource,
                plural(d.lines.len(), "time, line", "times, lines"),
                lines.join(", ")
            );
        }
        let _ = writeln!(
            out,
            "  granted but unused ({}):",
            u.granted_but_unused.len()
        );
        for x in &u.granted_but_unused {
            let who = match &x.acting_as {
                Some(a) => format!("{} as {a}", x.principal),
                None => x.principal.clone(),
            };
            let _ = writeln!(
                out,
                "    {who}: {} ×{}: {}",
                x.action,
                x.count,
                x.resources.join(", ")
            );
        }
        // The same unknown entity tends to recur: one line per reason, the first lines named.
        let mut unknown: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for n in &u.unknown_entities {
            unknown.entry(&n.reason).or_default().push(n.line);
        }
        for (reason, lines) in unknown {
            let shown: Vec<String> = lines.iter().take(10).map(ToString::to_string).collect();
            let more = if lines.len() > 10 { ", …" } else { "" };
            let word = if lines.len() == 1 { "line" } else { "lines" };
            let _ = writeln!(
                out,
                "  skipped {} ({word} {}{more}): {reason}",
                plural(lines.len(), "entry", "entries"),
                shown.join(", ")
            );
        }
        if !u.skipped_lines.is_empty() {
            let lines: Vec<String> = u.skipped_lines.iter().map(|n| n.line.to_string()).collect();
            let _ = writeln!(
                out,
                "  {} skipped (--lenient): lines {}",
                plural(u.skipped_lines.len(), "malformed line", "malformed lines"),
                lines.join(", ")
            );
        }
    }
    let _ = writeln!(out);
    let verdict = if doc.failing {
        "drift"
    } else {
        "no failing drift"
    };
    let _ = writeln!(
        out,
        "{verdict}: {} new, {} removed{}",
        doc.new.len(),
        doc.removed.len(),
        if doc.accepted {
            "; baseline updated (--accept)"
        } else {
            ""
        }
    );
    out
}

fn suffice_text(r: &SufficeResult) -> String {
    let doc = suffice_doc(r);
    let mut out = String::new();
    for (t, o) in doc.tasks.iter().zip(&r.outcomes) {
        let status = if t.sufficient {
            "SUFFICIENT"
        } else {
            "NOT SUFFICIENT"
        };
        let _ = writeln!(out, "{status} {} › {}", t.file, t.name);
        if let Some(before) = t.sufficient_before {
            let word = |b: bool| if b { "sufficient" } else { "not sufficient" };
            let _ = writeln!(
                out,
                "     with the change: {} before, {} after",
                word(before),
                word(t.sufficient)
            );
        }
        let mut who = t.principal.clone();
        for c in &t.chain {
            let _ = write!(who, " → {c}");
        }
        let _ = writeln!(out, "     runs as {} ({who})", t.acting);
        for (i, h) in o.hops.iter().enumerate() {
            hop_line(&mut out, i + 1, h);
        }
        for (i, e) in o.steps.iter().enumerate() {
            let _ = writeln!(
                out,
                "     step {} {} on {}: {}",
                i + 1,
                e.action,
                e.resource,
                verdict(e)
            );
        }
        if t.excess.is_empty() {
            let _ = writeln!(out, "     excess: none (every allowed request is a step)");
        } else {
            let _ = writeln!(
                out,
                "     excess: {} allowed but never used by the task",
                plural(t.excess_total, "request", "requests")
            );
            for g in &t.excess {
                let _ = writeln!(
                    out,
                    "       {} on {} ×{}: {}",
                    g.action,
                    g.resource_type,
                    g.count,
                    g.resources.join(", ")
                );
            }
        }
        for s in &t.excess_skipped {
            let _ = writeln!(out, "     excess not evaluated: {s}");
        }
    }
    if let Some(w) = &doc.what_if {
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "What if: added {}; removed {}",
            list_or_none(&w.added_policies),
            list_or_none(&w.removed_policies)
        );
        for (title, list) in [("it grants", &w.gained), ("it takes away", &w.lost)] {
            let _ = writeln!(
                out,
                "  {title} {} over the inventory",
                plural(list.len(), "path or grant", "paths and grants")
            );
            for c in list {
                let _ = writeln!(out, "    {}", change_line(c));
            }
        }
    }
    let sufficient = doc.tasks.iter().filter(|t| t.sufficient).count();
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{sufficient} sufficient, {} not sufficient",
        doc.tasks.len() - sufficient
    );
    out
}

/// `[routine] path P → S1 → T (by a, b)` or `[routine] P as S: A on R (by a)`.
pub fn change_line(c: &ChangeDoc) -> String {
    let by = if c.policies.is_empty() {
        String::new()
    } else {
        format!(" (by {})", c.policies.join(", "))
    };
    if c.kind == "path" {
        let mut s = format!("[{}] path {}", c.profile, c.principal);
        for x in &c.chain {
            let _ = write!(s, " → {x}");
        }
        s + &by
    } else {
        let who = match &c.acting_as {
            Some(a) => format!("{} as {a}", c.principal),
            None => c.principal.clone(),
        };
        format!(
            "[{}] {who}: {} on {}{by}",
            c.profile,
            c.action.as_deref().unwrap_or_default(),
            c.resource.as_deref().unwrap_or_default()
        )
    }
}

impl Human {
    fn who_can_text(&self, r: &WhoCanResult) -> String {
        let doc = who_can_doc(r);
        let mut out = String::new();
        let humans = doc.paths.iter().filter(|p| p.human).count();
        let within = format!("within {}", plural(doc.max_chain as usize, "hop", "hops"));
        let by_target = doc.query.target.is_some();
        let none = doc.paths.is_empty();
        if let Some(t) = &doc.query.target {
            let who = if none {
                "nobody".to_string()
            } else {
                format!(
                    "{}, {humans} human,",
                    plural(doc.paths.len(), "identity", "identities")
                )
            };
            let _ = writeln!(out, "Who can act as {t}: {who} {within}");
        } else if let Some(p) = &doc.query.principal {
            let what = if none {
                "nothing".to_string()
            } else {
                plural(doc.paths.len(), "account", "accounts")
            };
            let _ = writeln!(out, "What {p} can act as: {what} {within}");
        }
        profiles_line(&mut out, &doc.profiles);
        let _ = writeln!(out);
        let show_actions = several_actions(&doc.paths);
        path_list(&mut out, doc.paths, &doc.policies, show_actions, |p| {
            if by_target {
                let human = if p.human { " (human)" } else { "" };
                format!("{}{human}", p.principal)
            } else {
                p.target.clone()
            }
        });
        out
    }

    /// The report, written to `out` as it is made (see [`Spill`]).
    fn write_report_text(&self, r: &ReportResult, out: &mut impl Write) {
        let doc = streamed_report_doc(r);
        let s = &doc.summary;
        let _ = writeln!(out, "Impersonation report");
        profiles_line(out, &doc.profiles);
        let _ = writeln!(
            out,
            "max chain: {}; human types: {}",
            plural(doc.max_chain as usize, "hop", "hops"),
            list_or_none(&doc.human_types)
        );
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "{} can impersonate; {} of {} impersonable accounts are reachable; {} in all",
            plural(s.identities, "identity", "identities"),
            s.accounts_reached,
            s.accounts,
            plural(s.paths, "path", "paths")
        );
        let _ = writeln!(out);

        let _ = writeln!(out, "Who can reach each account");
        let mut header = vec!["account".to_string(), "reached by".into(), "humans".into()];
        header.extend(doc.profiles.iter().map(|p| p.name.clone()));
        let mut rows = vec![header];
        for a in &s.reach_by_account {
            let mut row = vec![
                a.account.clone(),
                a.reached_by.to_string(),
                a.humans.len().to_string(),
            ];
            row.extend(a.per_profile.iter().map(|c| c.count.to_string()));
            rows.push(row);
        }
        table(out, &rows);

        section(out, "Reachable by humans", s.human_paths.take());
        let _ = writeln!(out);
        let _ = writeln!(out, "Reachable under some profiles only");
        if s.conditional_accounts.is_empty() {
            let _ = writeln!(out, "  (none)");
        }
        for a in &s.conditional_accounts {
            let under = s
                .reach_by_account
                .iter()
                .find(|x| &x.account == a)
                .map(|x| {
                    x.per_profile
                        .iter()
                        .filter(|c| c.count > 0)
                        .map(|c| c.profile.clone())
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default();
            let _ = writeln!(out, "  account {a}: only under {}", under.join(", "));
        }
        for p in s.conditional_paths.take() {
            let _ = writeln!(out, "  {}", path_ref(&p));
        }
        section(
            out,
            &format!(
                "Longest shortest chains ({})",
                plural(s.longest_chain, "hop", "hops")
            ),
            s.longest_paths.take(),
        );
        section(
            out,
            "Through another account (delegation)",
            s.delegated_paths.take(),
        );
        let _ = writeln!(out);
        let _ = writeln!(out, "Widest reach");
        if s.widest_reach.is_empty() {
            let _ = writeln!(out, "  (none)");
        }
        let rows: Vec<Vec<String>> = s
            .widest_reach
            .iter()
            .take(WIDEST)
            .map(|w| {
                vec![
                    w.identity.clone(),
                    plural(w.accounts, "account", "accounts"),
                ]
            })
            .collect();
        table(out, &rows);
        if s.widest_reach.len() > WIDEST {
            let _ = writeln!(
                out,
                "  … and {} more (see --format json)",
                s.widest_reach.len() - WIDEST
            );
        }

        let _ = writeln!(out);
        let _ = writeln!(out, "Paths");
        if s.paths == 0 {
            let _ = writeln!(out, "  (none)");
        }
        path_list(
            out,
            doc.paths.take(),
            &doc.policies,
            r.several_actions,
            |p| {
                let human = if p.human { " (human)" } else { "" };
                format!("{} → {}{human}", p.principal, p.target)
            },
        );
    }
}

/// Text passed on to a writer in pieces of about 64 KiB, so a long report is never held whole.
/// The first I/O error is kept, and every write after it fails.
pub(crate) struct Spill<'a> {
    buf: String,
    out: &'a mut dyn io::Write,
    error: Option<io::Error>,
}

impl<'a> Spill<'a> {
    pub(crate) fn new(out: &'a mut dyn io::Write) -> Self {
        Self {
            buf: String::new(),
            out,
            error: None,
        }
    }

    fn pass_on(&mut self) -> std::fmt::Result {
        if self.error.is_some() {
            return Err(std::fmt::Error);
        }
        if let Err(e) = self.out.write_all(self.buf.as_bytes()) {
            self.error = Some(e);
            return Err(std::fmt::Error);
        }
        self.buf.clear();
        Ok(())
    }

    /// Writes what is left; the first I/O error, if any.
    pub(crate) fn finish(mut self) -> io::Result<()> {
        let _ = self.pass_on();
        match self.error {
            Some(e) => Err(e),
            None => self.out.flush(),
        }
    }
}

impl Write for Spill<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        if self.error.is_some() {
            return Err(std::fmt::Error);
        }
        self.buf.push_str(s);
        if self.buf.len() >= 1 << 16 {
            self.pass_on()?;
        }
        Ok(())
    }
}

/// How many identities the human report lists under "Widest reach".
const WIDEST: usize = 10;

fn profiles_line(out: &mut impl Write, profiles: &[ProfileDoc]) {
    let mut sources: Vec<&str> = profiles.iter().map(|p| p.source.as_str()).collect();
    sources.dedup();
    let _ = writeln!(out, "profiles (from {}):", sources.join(", "));
    let width = profiles.iter().map(|p| p.name.len()).max().unwrap_or(0) + 1;
    for p in profiles {
        let name = format!("{}:", p.name);
        let context = serde_json::to_string(&p.context).unwrap_or_default();
        let _ = writeln!(out, "  {name:<width$} {context}");
    }
    if profiles.iter().any(|p| p.source == "scenario defaults") {
        let _ = writeln!(
            out,
            "note: no profiles are configured in actas.yaml, so the scenario files' shared `defaults.context` is used as profile `default`"
        );
    }
}

/// Every path with its routes, a blank line between, each under its `heading`. Hops show their
/// impersonation actions when some hop is allowed by more than one.
fn path_list(
    out: &mut impl Write,
    paths: impl IntoIterator<Item = PathDoc>,
    policies: &[PolicyDoc],
    show_actions: bool,
    heading: impl Fn(&PathDoc) -> String,
) {
    let policies: BTreeMap<&str, &PolicyDoc> =
        policies.iter().map(|p| (p.id.as_str(), p)).collect();
    for (i, p) in paths.into_iter().enumerate() {
        let blank = if i > 0 { "\n" } else { "" };
        // A failed write (a closed pipe) ends the list: the rest would not be read.
        if writeln!(out, "{blank}{}", heading(&p)).is_err() {
            return;
        }
        path_detail(out, &p, &policies, show_actions);
    }
}

/// Whether some hop is allowed by more than one impersonation action.
fn several_actions<'a>(paths: impl IntoIterator<Item = &'a PathDoc>) -> bool {
    paths
        .into_iter()
        .flat_map(|p| &p.routes)
        .flat_map(|r| &r.steps)
        .any(|s| s.actions.len() > 1)
}

/// A path's routes: under which profiles, by which chain, allowed by which policies.
fn path_detail(
    out: &mut impl Write,
    p: &PathDoc,
    policies: &BTreeMap<&str, &PolicyDoc>,
    show_actions: bool,
) {
    for r in &p.routes {
        let _ = writeln!(
            out,
            "  under {}: {}",
            r.profiles.join(", "),
            plural(r.hops, "hop", "hops")
        );
        for step in &r.steps {
            let via = if show_actions {
                format!(" via {}", step.actions.join(", "))
            } else {
                String::new()
            };
            let _ = writeln!(out, "    {} → {}{via}", step.from, step.to);
            for id in &step.policies {
                let _ = writeln!(out, "      allowed by {}", policy_label(id, policies));
            }
        }
    }
    if !p.not_under.is_empty() {
        let _ = writeln!(out, "  not under {}", p.not_under.join(", "));
    }
}

/// `id (link of template): description`.
fn policy_label(id: &str, policies: &BTreeMap<&str, &PolicyDoc>) -> String {
    let Some(p) = policies.get(id) else {
        return id.to_string();
    };
    let mut s = id.to_string();
    if let Some(t) = &p.template {
        let _ = write!(s, " (link of {t})");
    }
    if let Some(d) = &p.description {
        let _ = write!(s, ": {d}");
    }
    s
}

fn path_ref(p: &PathRefDoc) -> String {
    let mut s = p.principal.clone();
    for c in &p.chain {
        let _ = write!(s, " → {c}");
    }
    let _ = write!(s, "  [{}]", p.profiles.join(", "));
    s
}

fn section(out: &mut impl Write, title: &str, paths: impl Iterator<Item = PathRefDoc>) {
    let _ = writeln!(out);
    let _ = writeln!(out, "{title}");
    let mut paths = paths.peekable();
    if paths.peek().is_none() {
        let _ = writeln!(out, "  (none)");
    }
    for p in paths {
        if writeln!(out, "  {}", path_ref(&p)).is_err() {
            return;
        }
    }
}

/// Left-aligned columns, two spaces apart, indented by two.
fn table(out: &mut impl Write, rows: &[Vec<String>]) {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for row in rows {
        let mut line = String::from(" ");
        for (cell, w) in row.iter().zip(&widths) {
            let _ = write!(line, " {cell:<w$} ");
        }
        let _ = writeln!(out, "{}", line.trim_end());
    }
}

fn list_or_none(list: &[String]) -> String {
    if list.is_empty() {
        "(none)".into()
    } else {
        list.join(", ")
    }
}

fn explain(out: &mut String, o: &Outcome) {
    const PAD: &str = "     ";
    match &o.kind {
        OutcomeKind::Request {
            expect_allow,
            allowed,
            hops,
            request,
            missing_reasons,
            ..
        } => {
            // The headline first (it becomes the JUnit failure message), then the evidence.
            if expect_allow != allowed {
                let _ = writeln!(
                    out,
                    "{PAD}expected {}, got {}",
                    decision(*expect_allow),
                    decision(*allowed)
                );
            }
            if !missing_reasons.is_empty() {
                let _ = writeln!(
                    out,
                    "{PAD}expected reasons not among the determining policies: {}",
                    missing_reasons.join(", ")
                );
            }
            for (i, h) in hops.iter().enumerate() {
                hop_line(out, i + 1, h);
            }
            if let Some(e) = request {
                let who = if hops.is_empty() {
                    "request"
                } else {
                    "acting as"
                };
                let _ = writeln!(
                    out,
                    "{PAD}{who} {}: {} on {}: {}",
                    e.principal,
                    e.action,
                    e.resource,
                    verdict(e)
                );
            }
        }
        OutcomeKind::Set {
            field,
            subject,
            missing,
            unexpected,
            ..
        } => {
            let _ = writeln!(out, "{PAD}{field} {subject}: the set differs");
            for m in missing {
                let _ = writeln!(out, "{PAD}  missing:    {m}");
            }
            for u in unexpected {
                let _ = writeln!(out, "{PAD}  unexpected: {u}");
            }
        }
    }
    for e in &o.errors {
        let _ = writeln!(out, "{PAD}evaluation error: {e}");
    }
}

fn hop_line(out: &mut String, n: usize, h: &HopOutcome) {
    let _ = writeln!(
        out,
        "     hop {n} {} → {}: {}",
        h.from,
        h.to,
        decision(h.allowed)
    );
    for e in &h.evaluations {
        let _ = writeln!(out, "       {}: {}", e.action, verdict(e));
    }
}

/// `allow (by a, b)`, `deny (forbidden by c)`, `deny (no permit matched)`.
fn verdict(e: &Evaluation) -> String {
    let ids = e.reasons.join(", ");
    match (e.allowed, e.reasons.is_empty()) {
        (true, _) => format!("allow (by {ids})"),
        (false, true) => "deny (no permit matched)".into(),
        (false, false) => format!("deny (forbidden by {ids})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Accepts `room` bytes, then fails as a closed pipe does.
    struct Closing {
        taken: Vec<u8>,
        room: usize,
    }

    impl io::Write for Closing {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            if self.taken.len() + b.len() > self.room {
                return Err(io::ErrorKind::BrokenPipe.into());
            }
            self.taken.extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn spilled_text_arrives_whole_and_in_pieces() {
        let line = "a line of a long report\n";
        let mut whole = String::new();
        let mut out = Closing {
            taken: Vec::new(),
            room: usize::MAX,
        };
        let mut spill = Spill::new(&mut out);
        for _ in 0..10_000 {
            whole.push_str(line);
            spill.write_str(line).unwrap();
        }
        // More than one piece went out before the end.
        assert!(!spill.buf.is_empty() && spill.buf.len() < whole.len());
        spill.finish().unwrap();
        assert_eq!(String::from_utf8(out.taken).unwrap(), whole);
    }

    #[test]
    fn a_closed_writer_stops_the_text_and_keeps_its_error() {
        let mut out = Closing {
            taken: Vec::new(),
            room: 100_000,
        };
        let mut spill = Spill::new(&mut out);
        let mut failed_at = None;
        for i in 0..100_000 {
            if spill.write_str("0123456789").is_err() {
                failed_at = Some(i);
                break;
            }
        }
        assert!(failed_at.is_some_and(|i| i < 20_000));
        assert!(spill.write_str("more").is_err());
        let e = spill.finish().unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::BrokenPipe);
    }
}
