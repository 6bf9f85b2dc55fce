//! `actas who-can` and `actas report` as text, the report written as it is made.

#[allow(unused_imports, reason = "one shared import list for the text modules")]
use super::*;
use rayon::prelude::*;

impl Human {
    pub(super) fn who_can_text(&self, r: &WhoCanResult) -> String {
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
        let heading = |p: &PathDoc| {
            if by_target {
                let human = if p.human { " (human)" } else { "" };
                format!("{}{human}", p.principal)
            } else {
                p.target.clone()
            }
        };
        // Laid out a chunk of paths at a time on every worker: an account that thousands
        // can reach makes megabytes of text.
        let chunks: Vec<String> = doc
            .paths
            .par_chunks(PATHS_PER_CHUNK)
            .map(|chunk| {
                let mut text = String::new();
                path_list(&mut text, chunk, &doc.policies, show_actions, heading);
                text
            })
            .collect();
        // The document (a million small strings for such an account) is freed meanwhile.
        let (text, ()) = rayon::join(|| chunks.join("\n"), move || drop(doc));
        out.push_str(&text);
        out
    }

    /// The report, written to `out` as it is made (see [`Spill`]).
    pub(super) fn write_report_text(&self, r: &ReportResult, out: &mut impl Write) {
        let doc = streamed_report_doc(r);
        let s = &doc.summary;
        let _ = writeln!(out, "Impersonation report");
        for line in crate::report::provenance_lines(&doc.provenance) {
            let _ = writeln!(out, "{line}");
        }
        for n in &doc.notes {
            let _ = writeln!(out, "note: {n}");
        }
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
            "{} of {} can impersonate some account; {} of {} impersonable accounts are reachable; {} in all",
            s.identities,
            plural(s.identities_in_inventory, "identity", "identities"),
            s.accounts_reached,
            s.accounts,
            plural(s.paths, "path", "paths")
        );
        let _ = writeln!(out);

        let _ = writeln!(out, "Who can reach each account");
        let mut header = vec!["account".to_string(), "reached by".into(), "humans".into()];
        header.extend(doc.profiles.iter().map(|p| p.name.to_string()));
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
        self.buf.push_str(&terminal(s));
        if self.buf.len() >= 1 << 16 {
            self.pass_on()?;
        }
        Ok(())
    }
}

/// How many identities the human report lists under "Widest reach".
pub(super) const WIDEST: usize = 10;

pub(super) fn profiles_line(out: &mut impl Write, profiles: &[ProfileDoc]) {
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
/// Paths laid out together by one worker (see [`Human::who_can_text`]).
const PATHS_PER_CHUNK: usize = 256;

pub(super) fn path_list<P: std::borrow::Borrow<PathDoc>>(
    out: &mut impl Write,
    paths: impl IntoIterator<Item = P>,
    policies: &[PolicyDoc],
    show_actions: bool,
    heading: impl Fn(&PathDoc) -> String,
) {
    let policies: BTreeMap<&str, &PolicyDoc> =
        policies.iter().map(|p| (p.id.as_str(), p)).collect();
    for (i, p) in paths.into_iter().enumerate() {
        let p = p.borrow();
        let blank = if i > 0 { "\n" } else { "" };
        // A failed write (a closed pipe) ends the list: the rest would not be read.
        if writeln!(out, "{blank}{}", heading(p)).is_err() {
            return;
        }
        path_detail(out, p, &policies, show_actions);
    }
}

/// Whether some hop is allowed by more than one impersonation action.
pub(super) fn several_actions<'a>(paths: impl IntoIterator<Item = &'a PathDoc>) -> bool {
    paths
        .into_iter()
        .flat_map(|p| &p.routes)
        .flat_map(|r| &r.steps)
        .any(|s| s.actions.len() > 1)
}

/// Why a hop fails under a profile, in words.
pub(super) fn blocked_reason(b: &crate::report::json::BlockedDoc) -> String {
    let hop = format!("{} → {}", b.from, b.to);
    if b.forbids.is_empty() && !b.failing.is_empty() {
        let why: Vec<String> = b
            .failing
            .iter()
            .map(|f| {
                let values: Vec<String> = f
                    .values
                    .iter()
                    .map(|v| format!("{} = {}", v.attribute, v.value))
                    .collect();
                let read = if values.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", values.join(", "))
                };
                let needs = if f.needed {
                    ""
                } else {
                    ", where it must be false"
                };
                format!(
                    "{} allows it elsewhere, but here `{}` is {}{needs}{read}",
                    f.policy, f.condition, f.evaluates_to
                )
            })
            .collect();
        format!("no permit allows {hop} here: {}", why.join("; "))
    } else if b.forbids.is_empty() {
        let ids: Vec<&str> = b.allowed_elsewhere_by.iter().map(|p| p.as_str()).collect();
        format!(
            "no permit allows {hop} here (elsewhere {} does; its condition fails under this context)",
            ids.join(", ")
        )
    } else {
        let ids: Vec<&str> = b.forbids.iter().map(|p| p.as_str()).collect();
        format!("{hop} is forbidden by {}", ids.join(", "))
    }
}

/// A path's routes: under which profiles, by which chain, allowed by which policies.
pub(super) fn path_detail(
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
    // Each missing profile with the hop that fails there and why; the rest on one line.
    let plain: Vec<&str> = p
        .not_under
        .iter()
        .filter(|n| !p.blocked.iter().any(|b| &b.profile == *n))
        .map(|n| n.as_str())
        .collect();
    for b in &p.blocked {
        let _ = writeln!(out, "  not under {}: {}", b.profile, blocked_reason(b));
    }
    if !plain.is_empty() {
        let _ = writeln!(out, "  not under {}", plain.join(", "));
    }
}

/// `id (link of template): description`.
pub(super) fn policy_label(id: &str, policies: &BTreeMap<&str, &PolicyDoc>) -> String {
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

pub(super) fn path_ref(p: &PathRefDoc) -> String {
    let mut s = p.principal.clone();
    for c in &p.chain {
        let _ = write!(s, " → {c}");
    }
    let _ = write!(s, "  [{}]", p.profiles.join(", "));
    s
}

pub(super) fn section(out: &mut impl Write, title: &str, paths: impl Iterator<Item = PathRefDoc>) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::fmt::Write;

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
