//! The HTML report in a real browser: Debian's Chromium, driven over WebDriver by chromedriver.
//! It checks that the table renders, that typing in the filter, picking a profile and ticking
//! "humans only" hide rows, and that a header click sorts.
//!
//! `scripts/install-browser` (run by `.ci/run`) installs Chromium and chromedriver. Without
//! them the test prints why and passes, unless `ACTAS_REQUIRE_BROWSER=1` (set by `.ci/run`),
//! where a missing browser fails it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test and benchmark code fails loudly"
)]

mod support;

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::output;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
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
        // Flags from ../shared/notes/browser-tests.md: no network, no first-run work.
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1280,2000",
        ]
        .iter()
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
    if !Path::new(CHROMIUM).exists() || !Path::new(CHROMEDRIVER).exists() {
        let required = std::env::var("ACTAS_REQUIRE_BROWSER").is_ok_and(|v| v == "1");
        assert!(
            !required,
            "ACTAS_REQUIRE_BROWSER=1 but {CHROMIUM} or {CHROMEDRIVER} is missing: run scripts/install-browser"
        );
        eprintln!("skipped: no {CHROMIUM} / {CHROMEDRIVER}; run scripts/install-browser to test the HTML report in a browser");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (code, html, stderr) = output(&["report", "--format", "html"]);
    assert_eq!(code, 0, "{stderr}");
    let page = dir.path().join("report.html");
    std::fs::write(&page, html).unwrap();

    let driver = Driver::start(&dir.path().join("chromium-profile"));
    driver.post("/url", json!({"url": format!("file://{}", page.display())}));

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
