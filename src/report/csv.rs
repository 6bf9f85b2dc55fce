//! `actas report --format csv`: one row per (path, route), for spreadsheets and scripts.
//!
//! Columns: principal, target, human, hops, chain (the principal and the accounts, ` > `
//! between them), profiles (`;`-separated), policies (the determining policies of every hop,
//! `;`-separated, in hop order). A path whose shortest chain differs between profiles has a row
//! per distinct route, so every row is one chain under the profiles named.

use std::borrow::Cow;
use std::io::{self, Write};
use std::sync::Arc;

use crate::analysis::access::NumberedPath;
use crate::commands::report::ReportResult;
use crate::report::{escape, Renderer};

pub struct Csv;

impl Renderer for Csv {
    fn report(&self, r: &ReportResult) -> Option<String> {
        let mut out = Vec::new();
        self.write_report(r, &mut out)?.ok()?;
        String::from_utf8(out).ok()
    }

    /// Row by row, as the paths are read: a report can hold millions.
    fn write_report(&self, r: &ReportResult, out: &mut dyn Write) -> Option<io::Result<()>> {
        // Provenance as leading `#` comment lines (pandas `comment="#"`, csvkit `--skip-lines`):
        // evidence needs its origin, and a row of its own would look like data.
        let mut comments = String::new();
        for line in crate::report::provenance_lines(&r.provenance) {
            comments.push_str(&format!(
                "# {}\n",
                crate::report::escape::csv_comment(&line)
            ));
        }
        for i in &r.provenance.inputs {
            comments.push_str(&format!(
                "# {}  {}\n",
                i.sha256,
                crate::report::escape::csv_comment(&i.path)
            ));
        }
        if let Err(e) = out.write_all(comments.as_bytes()) {
            return Some(Err(e));
        }
        let header = [
            "principal",
            "target",
            "human",
            "hops",
            "chain",
            "profiles",
            "policies",
        ];
        // Each path's rows are made into bytes by the workers that make the paths, from
        // identity numbers (names held once per identity, the human flag the summary's); this
        // thread only writes them out.
        let names = &r.reached.identities().names;
        let written = (|| -> csv::Result<()> {
            out.write_all(&rows([header.map(Cow::Borrowed)])?)?;
            for bytes in r.reached.map_numbered(|p| rows(route_rows(r, names, &p))) {
                out.write_all(&bytes?)?;
            }
            out.flush()?;
            Ok(())
        })();
        // An I/O error keeps its kind, so a closed pipe stays a quiet stop.
        Some(written.map_err(|e| match e.into_kind() {
            csv::ErrorKind::Io(e) => e,
            other => io::Error::other(format!("{other:?}")),
        }))
    }
}

/// A path's rows: one per route, cells guarded against formula injection.
fn route_rows<'a>(
    r: &'a ReportResult,
    names: &'a [Arc<str>],
    p: &'a NumberedPath<'_>,
) -> impl Iterator<Item = [Cow<'a, str>; 7]> + 'a {
    let name = |n: u32| &*names[n as usize];
    p.routes.iter().map(move |route| {
        let mut chain = String::from(name(p.principal));
        for &n in route.chain {
            chain.push_str(" > ");
            chain.push_str(name(n));
        }
        let mut policies: Vec<&str> = Vec::new();
        for id in route.hops.iter().flat_map(|(_, policies)| policies.iter()) {
            if !policies.contains(&id.as_str()) {
                policies.push(id);
            }
        }
        let profiles: Vec<&str> = route
            .profiles
            .iter()
            .map(|&i| r.reached.profiles[i].name.as_str())
            .collect();
        [
            escape::csv_cell(name(p.principal)),
            escape::csv_cell(name(p.target)),
            Cow::Borrowed(if r.summary.is_human_number(p.principal) {
                "true"
            } else {
                "false"
            }),
            Cow::Owned(route.chain.len().to_string()),
            Cow::Owned(escape::csv_cell(&chain).into_owned()),
            Cow::Owned(escape::csv_cell(&profiles.join(";")).into_owned()),
            Cow::Owned(escape::csv_cell(&policies.join(";")).into_owned()),
        ]
    })
}

/// Records as CSV bytes.
fn rows<'a>(records: impl IntoIterator<Item = [Cow<'a, str>; 7]>) -> csv::Result<Vec<u8>> {
    let mut w = csv::WriterBuilder::new()
        .buffer_capacity(1024)
        .from_writer(Vec::new());
    for record in records {
        w.write_record(record.iter().map(|cell| cell.as_bytes()))?;
    }
    w.into_inner().map_err(|e| e.into_error().into())
}
