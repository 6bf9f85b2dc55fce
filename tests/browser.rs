//! The reports in a real browser: Debian's Chromium, driven over WebDriver by chromedriver or run
//! headless from the command line. It checks that the HTML table renders, that typing in the
//! filter, picking a profile and ticking "humans only" hide rows, that a header click sorts, that
//! the per-account drawings have every node and no two overlap (and saves a screenshot of one
//! under target/browser/ to look at), that the page printed to an A4 PDF (`--print-to-pdf`) reads
//! back with `pdftotext` with its evidence header and every path row, none cut by a page break,
//! and that Mermaid (the npm package's own bundle, loaded from disk) draws every diagram of the
//! Markdown report and the `--format mermaid` graph.
//!
//! `scripts/install-browser` (run by `.ci/run`) installs Chromium, chromedriver, pdftotext and
//! the Mermaid bundle. Without them a test prints why and passes, unless
//! `ACTAS_REQUIRE_BROWSER=1` (set by `.ci/run`), where anything missing fails it.

use crate::support;

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::output;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const PDFTOTEXT: &str = "/usr/bin/pdftotext";
const MERMAID: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/target/tools/mermaid/package/dist/mermaid.min.js"
);
/// Flags from the browser notes: no network, no first-run work.
const HEADLESS: [&str; 8] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
];

/// Whether every tool is there; when not, fails under `ACTAS_REQUIRE_BROWSER=1`, else says why.
fn have(tools: &[&str]) -> bool {
    let missing: Vec<&str> = tools
        .iter()
        .copied()
        .filter(|t| !Path::new(t).exists())
        .collect();
    if missing.is_empty() {
        return true;
    }
    let required = std::env::var("ACTAS_REQUIRE_BROWSER").is_ok_and(|v| v == "1");
    assert!(
        !required,
        "ACTAS_REQUIRE_BROWSER=1 but {missing:?} is missing: run scripts/install-browser"
    );
    eprintln!("skipped: {missing:?} missing; run scripts/install-browser to test the reports in a browser");
    false
}

/// Runs headless Chromium on `args` (a fresh profile), returning its standard output.
fn chromium(profile: &Path, args: &[&str]) -> String {
    let out = Command::new(CHROMIUM)
        .args(HEADLESS)
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .stderr(Stdio::null())
        .output()
        .expect("chromium runs");
    assert!(out.status.success(), "chromium failed: {:?}", out.status);
    String::from_utf8_lossy(&out.stdout).into_owned()
}
/// WebDriver's key for an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

struct Driver {
    child: Child,
    base: String,
    session: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = ureq::delete(&format!("{}/session/{}", self.base, self.session)).call();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    fn start(profile_dir: &Path) -> Driver {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        while ureq::get(&format!("{base}/status")).call().is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not come up");
            std::thread::sleep(Duration::from_millis(100));
        }
        let args = HEADLESS
            .iter()
            .chain(&["--window-size=1280,2000"])
            .map(|s| s.to_string())
            .chain([format!("--user-data-dir={}", profile_dir.display())])
            .collect::<Vec<_>>();
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": CHROMIUM, "args": args}
        }}});
        let mut driver = Driver {
            child,
            base,
            session: String::new(),
        };
        let v = driver.post("/session", caps);
        driver.session = v["sessionId"].as_str().expect("a session").to_string();
        driver
    }

    fn post(&self, path: &str, body: Value) -> Value {
        let url = if path == "/session" {
            format!("{}{path}", self.base)
        } else {
            format!("{}/session/{}{path}", self.base, self.session)
        };
        let mut response = ureq::post(&url).send_json(body).expect("webdriver call");
        let v: Value = response.body_mut().read_json().expect("json");
        v["value"].clone()
    }

    fn get(&self, path: &str) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let mut response = ureq::get(&url).call().expect("webdriver call");
        let v: Value = response.body_mut().read_json().expect("json");
        v["value"].clone()
    }

    fn find(&self, css: &str) -> String {
        let v = self.post("/element", json!({"using": "css selector", "value": css}));
        v[ELEMENT].as_str().expect("element").to_string()
    }

    fn script(&self, js: &str) -> Value {
        self.post("/execute/sync", json!({"script": js, "args": []}))
    }

    fn visible_rows(&self) -> Vec<String> {
        let v = self.script(
            "return Array.from(document.querySelectorAll('#path-table tbody tr'))\
             .filter(r => r.offsetParent !== null)\
             .map(r => r.cells[0].textContent.trim() + ' -> ' + r.cells[1].textContent.trim());",
        );
        serde_json::from_value(v).expect("rows")
    }

    fn shown(&self) -> String {
        let v = self.script("return document.getElementById('shown').textContent;");
        v.as_str().unwrap_or_default().to_string()
    }
}

#[test]
fn html_report_renders_and_filters_in_chromium() {
    if !have(&[CHROMIUM, CHROMEDRIVER]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (code, html, stderr) = output(&["report", "--format", "html"]);
    assert_eq!(code, 0, "{stderr}");
    let page = dir.path().join("report.html");
    std::fs::write(&page, html).unwrap();

    let driver = Driver::start(&dir.path().join("chromium-profile"));
    driver.post("/url", json!({"url": format!("file://{}", page.display())}));

    // Each reached account is drawn with every identity reaching it, and no two boxes overlap.
    let drawings = driver.script(
        "return Array.from(document.querySelectorAll('figure.diagram')).map(f => {\
           const boxes = Array.from(f.querySelectorAll('g.node rect')).map(r => r.getBoundingClientRect());\
           let overlaps = 0;\
           for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {\
             const a = boxes[i], b = boxes[j];\
             if (a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom) overlaps++;\
           }\
           return [f.querySelector('figcaption code').textContent, boxes.length,\
                   f.querySelectorAll('g.hop').length, overlaps,\
                   Math.round(f.querySelector('svg').getBoundingClientRect().width)];\
         });",
    );
    let drawings: Vec<(String, usize, usize, usize, u64)> =
        serde_json::from_value(drawings).unwrap();
    let summary: Vec<(&str, usize, usize, usize)> = drawings
        .iter()
        .map(|(a, n, e, o, _)| (a.as_str(), *n, *e, *o))
        .collect();
    // prod-deployer: billing-admin, ci-runner, alice and erin directly; carol and dave through
    // ci-runner (7 boxes with the account, 6 hops).
    assert_eq!(
        summary,
        [
            (r#"ServiceAccount::"prod-deployer""#, 7, 6, 0),
            (r#"ServiceAccount::"log-reader""#, 5, 4, 0),
            (r#"ServiceAccount::"ci-runner""#, 3, 2, 0),
            (r#"ServiceAccount::"billing-admin""#, 2, 1, 0),
            (r#"ServiceAccount::"staging-deployer""#, 2, 1, 0),
        ]
    );
    assert!(drawings.iter().all(|d| d.4 > 0), "{drawings:?}");
    // A picture to look at: the first drawing, as the browser shows it.
    let figure = driver.find("figure.diagram");
    let png = driver.get(&format!("/element/{figure}/screenshot"));
    let png = base64_decode(png.as_str().expect("a screenshot"));
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 5_000,
        "{} bytes",
        png.len()
    );
    let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/browser");
    std::fs::create_dir_all(&shots).unwrap();
    std::fs::write(shots.join("chains-prod-deployer.png"), png).unwrap();

    // Rendered: every path is a row, all visible.
    let all = driver.visible_rows();
    assert_eq!(all.len(), 14, "{all:?}");
    assert_eq!(driver.shown(), "14 of 14 paths shown");

    // Typing in the filter hides the rows that do not match.
    let filter = driver.find("#filter");
    driver.post(
        &format!("/element/{filter}/value"),
        json!({"text": "carol"}),
    );
    let rows = driver.visible_rows();
    assert_eq!(
        rows,
        [
            r#"User::"carol" human -> ServiceAccount::"ci-runner""#,
            r#"User::"carol" human -> ServiceAccount::"prod-deployer""#
        ]
    );
    assert_eq!(driver.shown(), "2 of 14 paths shown");
    // The state is kept in the address, for sharing a filtered view.
    let url = driver.post(
        "/execute/sync",
        json!({"script": "return location.hash;", "args": []}),
    );
    assert_eq!(url, "#q=carol");

    // A policy id matches too; then the profile selector narrows further.
    driver.post(&format!("/element/{filter}/clear"), json!({}));
    driver.post(
        &format!("/element/{filter}/value"),
        json!({"text": "break-glass"}),
    );
    let rows = driver.visible_rows();
    assert!(
        rows.iter().all(|r| r.starts_with(r#"User::"erin""#)),
        "{rows:?}"
    );
    assert_eq!(rows.len(), 3, "{rows:?}");
    driver.post(&format!("/element/{filter}/clear"), json!({}));
    let option = driver.find("#profile option[value='break_glass']");
    driver.post(&format!("/element/{option}/click"), json!({}));
    let under_break_glass = driver.visible_rows();
    assert!(under_break_glass.len() < 14 && !under_break_glass.is_empty());
    assert!(!under_break_glass
        .iter()
        .any(|r| r.starts_with(r#"ServiceAccount::"ci-runner""#)));
    let humans = driver.find("#humans");
    driver.post(&format!("/element/{humans}/click"), json!({}));
    let human_rows = driver.visible_rows();
    assert!(
        human_rows.iter().all(|r| r.contains(" human -> ")),
        "{human_rows:?}"
    );
    assert!(human_rows.len() < under_break_glass.len());

    // Sorting: clicking "hops" twice puts the longest chains first.
    driver.post(&format!("/element/{humans}/click"), json!({}));
    let any = driver.find("#profile option[value='']");
    driver.post(&format!("/element/{any}/click"), json!({}));
    let hops = driver.find("#path-table th:nth-child(3)");
    driver.post(&format!("/element/{hops}/click"), json!({}));
    driver.post(&format!("/element/{hops}/click"), json!({}));
    let first = driver.script(
        "return document.querySelector('#path-table tbody tr').cells[2].textContent.trim();",
    );
    assert_eq!(first, "2");
    let sort = driver.script(
        "return document.querySelector('#path-table th:nth-child(3)').getAttribute('aria-sort');",
    );
    assert_eq!(sort, "descending");
}

/// Standard base64 (WebDriver's screenshots), without a crate for one call.
fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    };
    let digits: Vec<u8> = text.bytes().filter_map(value).collect();
    digits
        .chunks(4)
        .flat_map(|c| {
            let n = c.iter().fold(0u32, |n, d| n << 6 | u32::from(*d)) << (6 * (4 - c.len()));
            let bytes = n.to_be_bytes();
            bytes[1..c.len()].to_vec()
        })
        .collect()
}

#[test]
fn html_report_prints_on_a4_with_its_header_and_every_row_whole() {
    if !have(&[CHROMIUM, PDFTOTEXT]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (code, html, stderr) = output(&["report", "--format", "html"]);
    assert_eq!(code, 0, "{stderr}");
    let (code, json, stderr) = output(&["report", "--format", "json"]);
    assert_eq!(code, 0, "{stderr}");
    let report: Value = serde_json::from_str(&json).unwrap();
    let page = dir.path().join("report.html");
    std::fs::write(&page, html).unwrap();
    let pdf = dir.path().join("report.pdf");
    // The route docs/commands/report.md gives auditors.
    chromium(
        &dir.path().join("profile"),
        &[
            "--no-pdf-header-footer",
            &format!("--print-to-pdf={}", pdf.display()),
            &format!("file://{}", page.display()),
        ],
    );
    let text = Command::new(PDFTOTEXT)
        .args(["-layout".as_ref(), pdf.as_os_str(), "-".as_ref()])
        .output()
        .expect("pdftotext runs");
    assert!(text.status.success());
    let text = String::from_utf8(text.stdout).unwrap();
    let pages: Vec<&str> = text
        .split('\x0c')
        .filter(|p| !p.trim().is_empty())
        .collect();
    assert!(pages.len() >= 2, "{} pages", pages.len());

    // The evidence header, on the first page.
    let first = pages[0];
    for want in [
        "Impersonation report",
        "Scope",
        "Method",
        "Hop decisions from actas's class matrix over Cedar 4.14.1",
        "Inputs",
        report["provenance"]["inputs_sha256"].as_str().unwrap(),
        "Profiles",
    ] {
        assert!(
            first.contains(want),
            "no {want:?} on the first page:\n{first}"
        );
    }

    // Every path row is there: its principal and account on one line.
    let rows: Vec<(String, String)> = report["paths"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["principal"].as_str().unwrap().to_string(),
                p["target"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let is_row = |line: &str| {
        rows.iter().any(|(principal, target)| {
            line.trim_start().starts_with(principal.as_str())
                && line.find(target.as_str()) > line.find(principal.as_str())
        })
    };
    let lines: Vec<&str> = text.lines().collect();
    for (principal, target) in &rows {
        assert!(
            lines
                .iter()
                .any(|l| l.trim_start().starts_with(principal.as_str())
                    && l.contains(target.as_str())),
            "no row {principal} -> {target} in the PDF"
        );
    }
    // ...and whole: where the path table goes on over a page break, the page starts with the
    // repeated header and then a row's first line, never the rest of a row cut in two.
    let mut continued = 0;
    for p in &pages[1..] {
        let mut body = p.lines().map(str::trim).filter(|l| !l.is_empty());
        let Some(top) = body.next() else { continue };
        if top.starts_with("principal") && top.contains("chain and conditions") {
            continued += 1;
            let next = body.next().unwrap_or_default();
            assert!(
                is_row(next),
                "a path row is cut by a page break; the page goes on with {next:?}"
            );
        }
    }
    assert!(
        continued >= 1,
        "the path table never crossed a page: the check checked nothing"
    );
}

#[test]
fn mermaid_draws_every_diagram_of_the_markdown_report_and_the_graph() {
    if !have(&[CHROMIUM, MERMAID]) {
        return;
    }
    let (code, markdown, stderr) = output(&["report", "--format", "markdown"]);
    assert_eq!(code, 0, "{stderr}");
    let (code, graph, stderr) = output(&["report", "--format", "mermaid"]);
    assert_eq!(code, 0, "{stderr}");
    let mut diagrams: Vec<String> = markdown
        .split("```mermaid\n")
        .skip(1)
        .map(|b| b.split("```").next().unwrap().to_string())
        .collect();
    assert_eq!(diagrams.len(), 5, "one per reached account");
    diagrams.push(graph);
    // Rendered one after another with ids of our own (ids made from the clock can collide).
    let page = format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><script src=\"file://{MERMAID}\"></script></head><body><script>\
         const diagrams = {};\
         mermaid.initialize({{ startOnLoad: false, securityLevel: 'strict' }});\
         (async () => {{ for (let i = 0; i < diagrams.length; i++) {{\
           const f = document.createElement('figure'); f.id = 'figure-' + i;\
           try {{ f.innerHTML = (await mermaid.render('diagram-' + i, diagrams[i])).svg; }}\
           catch (e) {{ f.setAttribute('data-error', String(e)); }}\
           document.body.appendChild(f); }}\
           document.body.setAttribute('data-done', '1'); }})();</script></body></html>",
        serde_json::to_string(&diagrams).unwrap().replace("</", "<\\/")
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("mermaid.html");
    std::fs::write(&file, page).unwrap();
    let dom = chromium(
        &dir.path().join("profile"),
        &[
            "--virtual-time-budget=20000",
            "--dump-dom",
            &format!("file://{}", file.display()),
        ],
    );
    assert!(dom.contains("data-done=\"1\""), "Mermaid did not finish");
    for (i, source) in diagrams.iter().enumerate() {
        let start = dom
            .find(&format!("<figure id=\"figure-{i}\""))
            .unwrap_or_else(|| panic!("no figure {i}"));
        let figure = &dom[start
            ..dom[start..]
                .find("</figure>")
                .map_or(dom.len(), |e| start + e)];
        assert!(
            !figure.contains("data-error"),
            "diagram {i} failed: {}",
            &figure[..figure.len().min(300)]
        );
        let nodes = source
            .lines()
            .filter(|l| l.trim_start().starts_with('n') && l.contains("[\""))
            .count();
        let drawn = figure.matches("class=\"nodeLabel\"").count();
        assert_eq!(
            drawn, nodes,
            "diagram {i}: {nodes} nodes written, {drawn} drawn"
        );
        assert!(
            figure.contains("User::\"") || figure.contains("ServiceAccount::\""),
            "diagram {i}"
        );
    }
}
