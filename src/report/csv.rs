//! `actas report --format csv`: one row per (path, route), for spreadsheets and scripts.
//!
//! Columns: principal, target, human, hops, chain (the principal and the accounts, ` > `
//! between them), profiles (`;`-separated), policies (the determining policies of every hop,
//! `;`-separated, in hop order). A path whose shortest chain differs between profiles has a row
//! per distinct route, so every row is one chain under the profiles named.

use std::io::{self, Write};

use crate::commands::report::ReportResult;
use crate::report::json::{path_doc, PathDoc};
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
        // Each path's rows are made into bytes by the workers that make the paths; this thread
        // only writes them out.
        let written = (|| -> csv::Result<()> {
            out.write_all(&rows([header.map(String::from)])?)?;
            for bytes in r.reached.map_paths(|p| {
                let name = |u: &cedar_policy::EntityUid| r.reached.name(u);
                let p = path_doc(&r.reached.profiles, &r.human_types, &p, &[], &name);
                rows(route_rows(&p))
            }) {
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
fn route_rows(p: &PathDoc) -> impl Iterator<Item = [String; 7]> + '_ {
    p.routes.iter().map(move |route| {
        let mut chain = vec![p.principal.as_str()];
        chain.extend(route.chain.iter().map(String::as_str));
        let mut policies: Vec<&str> = Vec::new();
        for id in route.steps.iter().flat_map(|s| &s.policies) {
            if !policies.contains(&id.as_str()) {
                policies.push(id);
            }
        }
        [
            p.principal.as_str(),
            p.target.as_str(),
            &p.human.to_string(),
            &route.hops.to_string(),
            &chain.join(" > "),
            &route.profiles.join(";"),
            &policies.join(";"),
        ]
        .map(|cell| escape::csv_cell(cell).into_owned())
    })
}

/// Records as CSV bytes.
fn rows(records: impl IntoIterator<Item = [String; 7]>) -> csv::Result<Vec<u8>> {
    let mut w = csv::WriterBuilder::new()
        .buffer_capacity(1024)
        .from_writer(Vec::new());
    for record in records {
        w.write_record(&record)?;
    }
    w.into_inner().map_err(|e| e.into_error().into())
}
