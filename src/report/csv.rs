//! `actas report --format csv`: one row per (path, route), for spreadsheets and scripts.
//!
//! Columns: principal, target, human, hops, chain (the principal and the accounts, ` > `
//! between them), profiles (`;`-separated), policies (the determining policies of every hop,
//! `;`-separated, in hop order). A path whose shortest chain differs between profiles has a row
//! per distinct route, so every row is one chain under the profiles named.

use crate::commands::report::ReportResult;
use crate::report::json::report_doc;
use crate::report::Renderer;

pub struct Csv;

impl Renderer for Csv {
    fn report(&self, r: &ReportResult) -> Option<String> {
        let doc = report_doc(r);
        let mut w = csv::Writer::from_writer(Vec::new());
        let header = [
            "principal",
            "target",
            "human",
            "hops",
            "chain",
            "profiles",
            "policies",
        ];
        let mut rows = vec![header.map(String::from).to_vec()];
        for p in &doc.paths {
            for route in &p.routes {
                let mut chain = vec![p.principal.clone()];
                chain.extend(route.chain.iter().cloned());
                let mut policies: Vec<&str> = Vec::new();
                for id in route.steps.iter().flat_map(|s| &s.policies) {
                    if !policies.contains(&id.as_str()) {
                        policies.push(id);
                    }
                }
                rows.push(vec![
                    p.principal.clone(),
                    p.target.clone(),
                    p.human.to_string(),
                    route.hops.to_string(),
                    chain.join(" > "),
                    route.profiles.join(";"),
                    policies.join(";"),
                ]);
            }
        }
        for row in rows {
            w.write_record(&row).ok()?;
        }
        String::from_utf8(w.into_inner().ok()?).ok()
    }
}
