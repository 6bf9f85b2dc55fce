//! `actas report --format csv`: one row per (path, route), for spreadsheets and scripts.
//!
//! Columns: principal, target, human, hops, chain (the principal and the accounts, ` > `
//! between them), profiles (`;`-separated), policies (the determining policies of every hop,
//! `;`-separated, in hop order). A path whose shortest chain differs between profiles has a row
//! per distinct route, so every row is one chain under the profiles named.

use std::io::{self, Write};

use crate::commands::report::ReportResult;
use crate::report::json::report_paths_with;
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
        let mut w = csv::Writer::from_writer(out);
        let header = [
            "principal",
            "target",
            "human",
            "hops",
            "chain",
            "profiles",
            "policies",
        ];
        let written = (|| -> csv::Result<()> {
            w.write_record(header)?;
            for p in report_paths_with(r, false) {
                for route in &p.routes {
                    let mut chain = vec![p.principal.clone()];
                    chain.extend(route.chain.iter().cloned());
                    let mut policies: Vec<&str> = Vec::new();
                    for id in route.steps.iter().flat_map(|s| &s.policies) {
                        if !policies.contains(&id.as_str()) {
                            policies.push(id);
                        }
                    }
                    let (human, hops) = (p.human.to_string(), route.hops.to_string());
                    let (chain, profiles) = (chain.join(" > "), route.profiles.join(";"));
                    let policies = policies.join(";");
                    w.write_record(
                        [
                            p.principal.as_str(),
                            p.target.as_str(),
                            &human,
                            &hops,
                            &chain,
                            &profiles,
                            &policies,
                        ]
                        .map(|cell| escape::csv_cell(cell).into_owned()),
                    )?;
                }
            }
            w.flush()?;
            Ok(())
        })();
        // An I/O error keeps its kind, so a closed pipe stays a quiet stop.
        Some(written.map_err(|e| match e.into_kind() {
            csv::ErrorKind::Io(e) => e,
            other => io::Error::other(format!("{other:?}")),
        }))
    }
}
