//! `actas report --format csv`: one row per (path, route), for spreadsheets and scripts.
//!
//! Columns: principal, target, human, hops, chain (the principal and the accounts, ` > `
//! between them), profiles (`;`-separated), policies (the determining policies of every hop,
//! `;`-separated, in hop order). A path whose shortest chain differs between profiles has a row
//! per distinct route, so every row is one chain under the profiles named.

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
        // Each principal's rows are made into bytes by the workers that make its paths, from
        // identity numbers (names held once per identity, the human flag the summary's); this
        // thread only writes them out. One writer a principal: one a path was a quarter of
        // the run on 25 million rows.
        let names = &r.reached.identities().names;
        let written = (|| -> csv::Result<()> {
            let mut w = writer();
            w.write_record(header)?;
            out.write_all(&into_bytes(w)?)?;
            for bytes in r.reached.map_principals(|paths| {
                let mut w = writer();
                let mut cell = String::new();
                for p in paths {
                    write_rows(&mut w, r, names, &p, &mut cell)?;
                }
                into_bytes(w)
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

fn writer() -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new()
        .buffer_capacity(1 << 16)
        .from_writer(Vec::new())
}

fn into_bytes(w: csv::Writer<Vec<u8>>) -> csv::Result<Vec<u8>> {
    w.into_inner().map_err(|e| e.into_error().into())
}

/// A path's rows: one per route, cells guarded against formula injection. `cell` is room to
/// build a cell in.
fn write_rows(
    w: &mut csv::Writer<Vec<u8>>,
    r: &ReportResult,
    names: &[Arc<str>],
    p: &NumberedPath<'_>,
    cell: &mut String,
) -> csv::Result<()> {
    let name = |n: u32| &*names[n as usize];
    let human = r.summary.is_human_number(p.principal);
    for route in &p.routes {
        w.write_field(escape::csv_cell(name(p.principal)).as_bytes())?;
        w.write_field(escape::csv_cell(name(p.target)).as_bytes())?;
        w.write_field(if human { "true" } else { "false" })?;
        w.write_field(route.chain.len().to_string())?;
        cell.clear();
        cell.push_str(name(p.principal));
        for &n in &route.chain {
            cell.push_str(" > ");
            cell.push_str(name(n));
        }
        w.write_field(escape::csv_cell(cell).as_bytes())?;
        cell.clear();
        for (k, &i) in route.profiles.iter().enumerate() {
            if k > 0 {
                cell.push(';');
            }
            cell.push_str(r.reached.profiles[i].name.as_str());
        }
        w.write_field(escape::csv_cell(cell).as_bytes())?;
        let mut policies: Vec<&str> = Vec::new();
        for id in route.hops.iter().flat_map(|hop| hop.1.iter()) {
            if !policies.contains(&id.as_str()) {
                policies.push(id);
            }
        }
        w.write_field(escape::csv_cell(&policies.join(";")).as_bytes())?;
        w.write_record(None::<&[u8]>)?;
    }
    Ok(())
}
