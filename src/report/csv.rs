//! `actas report --format csv`: one row per (path, route), for spreadsheets and scripts.
//!
//! Columns: principal, target, human, hops, chain (the principal and the accounts, ` > `
//! between them), profiles (`;`-separated), policies (the determining policies of every hop,
//! `;`-separated, in hop order). A path whose shortest chain differs between profiles has a row
//! per distinct route, so every row is one chain under the profiles named.

use std::io::{self, Write};

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
        // identity numbers (names held once per identity, each made a cell once, the human
        // flag the summary's); this thread only writes them out.
        let names = &r.reached.identities().names;
        let cells: Vec<NameCell> = names.iter().map(|n| NameCell::new(n)).collect();
        let written = (|| -> io::Result<()> {
            let mut head = Vec::new();
            for (k, field) in header.iter().enumerate() {
                if k > 0 {
                    head.push(b',');
                }
                push_cell(&mut head, field);
            }
            head.push(b'\n');
            out.write_all(&head)?;
            for bytes in r.reached.map_principals(|paths| {
                let mut rows = Vec::with_capacity(1 << 12);
                let mut cell = String::new();
                for p in paths {
                    write_rows(&mut rows, r, &cells, &p, &mut cell);
                }
                rows
            }) {
                out.write_all(&bytes)?;
            }
            out.flush()
        })();
        Some(written)
    }
}

/// An identity's name as a CSV cell, made once: millions of rows name the same identities.
struct NameCell {
    /// The cell's bytes (guarded, quoted where needed).
    cell: Box<[u8]>,
    /// Whether the name can be put in a longer cell as it is (no byte that needs quotes).
    plain: bool,
}

impl NameCell {
    fn new(name: &str) -> Self {
        let mut cell = Vec::new();
        push_cell(&mut cell, name);
        Self {
            cell: cell.into(),
            plain: !name.bytes().any(needs_quotes),
        }
    }
}

/// The bytes that make a CSV cell need quotes (RFC 4180, as the csv crate's `Necessary` style
/// has them: the delimiter, the quote and both line-break bytes).
fn needs_quotes(b: u8) -> bool {
    matches!(b, b',' | b'"' | b'\r' | b'\n')
}

/// Appends `text` as one CSV cell, guarded against formula injection (`escape::csv_cell`),
/// quoted with its quotes doubled where needed: the bytes the csv crate writes for it (a unit
/// test compares them). Written here rather than through the csv crate's writer: checking and
/// copying each of 25 million rows' seven cells through it was a fifth of a large report.
fn push_cell(out: &mut Vec<u8>, text: &str) {
    let guarded = escape::csv_cell(text);
    let bytes = guarded.as_bytes();
    if bytes.iter().any(|&b| needs_quotes(b)) {
        out.push(b'"');
        for &b in bytes {
            if b == b'"' {
                out.push(b'"');
            }
            out.push(b);
        }
        out.push(b'"');
    } else {
        out.extend_from_slice(bytes);
    }
}

/// A path's rows: one per route, cells guarded against formula injection. `cell` is room to
/// build a cell in.
fn write_rows(
    out: &mut Vec<u8>,
    r: &ReportResult,
    cells: &[NameCell],
    p: &NumberedPath<'_>,
    cell: &mut String,
) {
    let names = &r.reached.identities().names;
    let human = r.summary.is_human_number(p.principal);
    let principal = &cells[p.principal as usize];
    for route in &p.routes {
        out.extend_from_slice(&principal.cell);
        out.push(b',');
        out.extend_from_slice(&cells[p.target as usize].cell);
        out.extend_from_slice(if human { b",true," } else { b",false," });
        out.extend_from_slice(route.chain.len().to_string().as_bytes());
        out.push(b',');
        // The chain cell: its names as they are when none needs quotes (the guard depends
        // only on the principal's name, which starts it), else made whole and then quoted.
        if principal.plain && route.chain.iter().all(|&n| cells[n as usize].plain) {
            out.extend_from_slice(&principal.cell);
            for &n in &route.chain {
                out.extend_from_slice(b" > ");
                out.extend_from_slice(names[n as usize].as_bytes());
            }
        } else {
            cell.clear();
            cell.push_str(&names[p.principal as usize]);
            for &n in &route.chain {
                cell.push_str(" > ");
                cell.push_str(&names[n as usize]);
            }
            push_cell(out, cell);
        }
        out.push(b',');
        cell.clear();
        for (k, &i) in route.profiles.iter().enumerate() {
            if k > 0 {
                cell.push(';');
            }
            cell.push_str(r.reached.profiles[i].name.as_str());
        }
        push_cell(out, cell);
        out.push(b',');
        cell.clear();
        let mut policies: Vec<&str> = Vec::new();
        for id in route.hops.iter().flat_map(|hop| hop.1.iter()) {
            if !policies.contains(&id.as_str()) {
                if !policies.is_empty() {
                    cell.push(';');
                }
                policies.push(id);
                cell.push_str(id);
            }
        }
        push_cell(out, cell);
        out.push(b'\n');
    }
}

#[cfg(test)]
mod tests {
    use super::push_cell;
    use proptest::prelude::*;

    /// A row as the csv crate writes it (the writer actas used before writing cells itself).
    fn by_the_csv_crate(fields: &[String]) -> Vec<u8> {
        let mut w = csv::WriterBuilder::new().from_writer(Vec::new());
        let guarded: Vec<String> = fields
            .iter()
            .map(|f| crate::report::escape::csv_cell(f).into_owned())
            .collect();
        w.write_record(&guarded).unwrap();
        w.into_inner().unwrap()
    }

    fn by_hand(fields: &[String]) -> Vec<u8> {
        let mut out = Vec::new();
        for (k, f) in fields.iter().enumerate() {
            if k > 0 {
                out.push(b',');
            }
            push_cell(&mut out, f);
        }
        out.push(b'\n');
        out
    }

    #[test]
    fn cells_are_the_bytes_the_csv_crate_writes() {
        for fields in [
            vec![String::new(), String::new()],
            vec!["=1+1".into(), "a,b".into()],
            vec!["say \"hi\"".into(), "line\nbreak".into(), "\r".into()],
            vec!["#comment".into(), " spaced ".into(), "-".into()],
        ] {
            assert_eq!(by_hand(&fields), by_the_csv_crate(&fields), "{fields:?}");
        }
    }

    proptest! {
        #[test]
        fn any_row_is_written_as_the_csv_crate_writes_it(
            fields in proptest::collection::vec("[a-z,\"\r\n\t #=+@'\\-;:>é\u{2028}]{0,8}", 2..8)
        ) {
            prop_assert_eq!(by_hand(&fields), by_the_csv_crate(&fields));
        }
    }
}
