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
            push_row(&mut head, &header);
            out.write_all(&head)?;
            for bytes in r.reached.map_principals(|paths| {
                // Room for the rows of the paths to come (about 160 bytes a row on the
                // generator's shapes), so that a principal of thousands is not copied as the
                // bytes grow.
                let mut rows = Vec::with_capacity(paths.size_hint().0.max(16) * 160);
                let mut room = Room::default();
                for p in paths {
                    write_rows(&mut rows, r, &cells, &p, &mut room);
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

/// An identity's name made ready for CSV cells once: millions of rows name the same
/// identities, and Cedar uids always hold quotes (`User::"alice"`), so every name is quoted.
struct NameCell {
    /// The name as a whole cell, then the comma that ends it.
    cell_then_comma: Box<[u8]>,
    /// The name as a cell's first text: guarded (`escape::csv_cell`), quotes doubled.
    first: Box<[u8]>,
    /// ` > ` and the name, later in a cell (unguarded: the guard looks at a cell's start),
    /// quotes doubled.
    later: Box<[u8]>,
    /// Whether a cell holding the name needs quotes around it.
    quoted: bool,
}

impl NameCell {
    fn new(name: &str) -> Self {
        let guarded = escape::csv_cell(name);
        let mut first = Vec::new();
        push_doubled(&mut first, guarded.as_bytes());
        let mut cell_then_comma = Vec::new();
        push_cell(&mut cell_then_comma, name);
        cell_then_comma.push(b',');
        let mut later = b" > ".to_vec();
        push_doubled(&mut later, name.as_bytes());
        Self {
            cell_then_comma: cell_then_comma.into(),
            first: first.into(),
            later: later.into(),
            quoted: guarded.bytes().any(needs_quotes),
        }
    }
}

/// Appends `bytes` with each quote doubled, as inside a quoted CSV cell.
fn push_doubled(out: &mut Vec<u8>, bytes: &[u8]) {
    for &b in bytes {
        if b == b'"' {
            out.push(b'"');
        }
        out.push(b);
    }
}

/// The bytes that make a CSV cell need quotes (RFC 4180, as the csv crate's `Necessary` style
/// has them: the delimiter, the quote and both line-break bytes).
fn needs_quotes(b: u8) -> bool {
    matches!(b, b',' | b'"' | b'\r' | b'\n')
}

/// Appends a row of `fields` (each as [`push_cell`] writes it) and its line break.
fn push_row(out: &mut Vec<u8>, fields: &[&str]) {
    for (k, field) in fields.iter().enumerate() {
        if k > 0 {
            out.push(b',');
        }
        push_cell(out, field);
    }
    out.push(b'\n');
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
        push_doubled(out, bytes);
        out.push(b'"');
    } else {
        out.extend_from_slice(bytes);
    }
}

/// Appends a chain cell (the principal's name and the accounts', ` > ` between them) from the
/// names' cell texts: quoting and doubling quotes work byte by byte and the guard looks only at
/// the cell's start (the principal's name), so the parts join as the whole would be written.
fn push_chain(out: &mut Vec<u8>, cells: &[NameCell], principal: u32, chain: &[u32]) {
    let principal = &cells[principal as usize];
    let quoted = principal.quoted || chain.iter().any(|&n| cells[n as usize].quoted);
    if quoted {
        out.push(b'"');
    }
    out.extend_from_slice(&principal.first);
    for &n in chain {
        out.extend_from_slice(&cells[n as usize].later);
    }
    if quoted {
        out.push(b'"');
    }
}

/// Room the rows of a worker are made in.
#[derive(Default)]
struct Room {
    /// A cell being made.
    cell: String,
    /// The profiles of the route last written and their cell: most routes hold under the same.
    profiles: (smallvec::SmallVec<[usize; 4]>, Vec<u8>),
}

/// A path's rows: one per route, cells guarded against formula injection.
fn write_rows(
    out: &mut Vec<u8>,
    r: &ReportResult,
    cells: &[NameCell],
    p: &NumberedPath<'_>,
    room: &mut Room,
) {
    let human = r.summary.is_human_number(p.principal);
    let principal = &cells[p.principal as usize];
    for route in &p.routes {
        out.extend_from_slice(&principal.cell_then_comma);
        out.extend_from_slice(&cells[p.target as usize].cell_then_comma);
        out.extend_from_slice(if human { b"true," } else { b"false," });
        match route.chain.len() {
            n @ 0..10 => out.push(b'0' + n as u8),
            n => out.extend_from_slice(n.to_string().as_bytes()),
        }
        out.push(b',');
        push_chain(out, cells, p.principal, &route.chain);
        out.push(b',');
        if room.profiles.0 != route.profiles {
            room.cell.clear();
            for (k, &i) in route.profiles.iter().enumerate() {
                if k > 0 {
                    room.cell.push(';');
                }
                room.cell.push_str(r.reached.profiles[i].name.as_str());
            }
            room.profiles.0.clone_from(&route.profiles);
            room.profiles.1.clear();
            push_cell(&mut room.profiles.1, &room.cell);
        }
        out.extend_from_slice(&room.profiles.1);
        out.push(b',');
        room.cell.clear();
        let mut policies: smallvec::SmallVec<[&str; 8]> = smallvec::SmallVec::new();
        for id in route.hops.iter().flat_map(|hop| hop.1.iter()) {
            if !policies.contains(&id.as_str()) {
                if !policies.is_empty() {
                    room.cell.push(';');
                }
                policies.push(id);
                room.cell.push_str(id);
            }
        }
        push_cell(out, &room.cell);
        out.push(b'\n');
    }
}

#[cfg(test)]
mod tests {
    use super::{push_chain, push_row, NameCell};
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
        push_row(
            &mut out,
            &fields.iter().map(String::as_str).collect::<Vec<_>>(),
        );
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

        #[test]
        fn any_chain_is_written_as_the_csv_crate_writes_it(
            names in proptest::collection::vec("[a-z,\"\r\n\t #=+@'\\-:>é]{0,6}", 1..6),
            chain in proptest::collection::vec(0..6_u32, 0..5)
        ) {
            let chain: Vec<u32> = chain.into_iter().filter(|&n| (n as usize) < names.len()).collect();
            let cells: Vec<NameCell> = names.iter().map(|n| NameCell::new(n)).collect();
            let mut whole = names[0].clone();
            for &n in &chain {
                whole.push_str(" > ");
                whole.push_str(&names[n as usize]);
            }
            let mut made = Vec::new();
            push_chain(&mut made, &cells, 0, &chain);
            made.extend_from_slice(b",");
            made.extend_from_slice(&cells[0].cell_then_comma);
            made.pop();
            made.push(b'\n');
            prop_assert_eq!(made, by_the_csv_crate(&[whole, names[0].clone()]));
        }
    }
}
