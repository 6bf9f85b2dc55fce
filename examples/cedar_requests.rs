//! The requests of a workspace's scenario cases, written for another Cedar binding to evaluate
//! (`scripts/bench-shapes` times cedarpy's `is_authorized_batch` on them):
//! `cargo run --release --example cedar_requests -- WORKSPACE OUT`.
//!
//! Writes to OUT: `requests.json` (principal, action, resource, context of every request of
//! every scenario case: each hop's and the final one), `policies.cedar` (every policy as a
//! static one: template links written out with their slots filled, as bindings without
//! template support need them), and `expected.json` (raw Cedar's decision for each request,
//! `true` for allow). Prints raw Cedar's time for the loop over them, one thread.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "benchmark code fails loudly"
)]

use std::time::Instant;

use actas::commands::test::{self, TestOptions};
use actas::engine::Prepared;
use actas::workspace::scenario::CaseKind;
use cedar_policy::{Authorizer, Decision, Policy};
use serde_json::{json, Value};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(dir), Some(out)) = (args.first(), args.get(1)) else {
        panic!("usage: cedar_requests WORKSPACE OUT");
    };
    let out = std::path::PathBuf::from(out);
    std::fs::create_dir_all(&out).unwrap();
    let loaded = actas::workspace::load(std::path::Path::new(dir), &Default::default()).unwrap();
    assert!(loaded.problems.is_empty(), "{:?}", loaded.problems);
    let ws = loaded.workspace.unwrap();
    let engine = &ws.engine;
    let cases = test::load_cases(&ws, &TestOptions::default()).expect("scenario cases");
    let requests: Vec<&Prepared> = cases
        .iter()
        .filter_map(|c| match &c.kind {
            CaseKind::Request(r) => Some(r),
            _ => None,
        })
        .flat_map(|r| r.requests())
        .collect();
    let docs: Vec<Value> = requests
        .iter()
        .map(|p| {
            let context = p
                .request
                .context()
                .map_or(json!({}), |c| c.to_json_value().unwrap());
            json!({
                "principal": p.principal.to_string(),
                "action": p.action.to_string(),
                "resource": p.resource.to_string(),
                "context": context,
            })
        })
        .collect();
    std::fs::write(out.join("requests.json"), Value::Array(docs).to_string()).unwrap();
    let mut text = String::new();
    for p in engine.policies.policies() {
        let p = if p.is_static() {
            p.clone()
        } else {
            // A link's JSON form has its slots filled: parsed back, it is a static policy.
            Policy::from_json(None, p.to_json().unwrap()).unwrap()
        };
        text.push_str(&p.to_string());
        text.push('\n');
    }
    std::fs::write(out.join("policies.cedar"), text).unwrap();
    let authorizer = Authorizer::new();
    let start = Instant::now();
    let expected: Vec<bool> = requests
        .iter()
        .map(|p| {
            authorizer
                .is_authorized(&p.request, &engine.policies, &engine.entities)
                .decision()
                == Decision::Allow
        })
        .collect();
    let raw = start.elapsed();
    std::fs::write(
        out.join("expected.json"),
        serde_json::to_string(&expected).unwrap(),
    )
    .unwrap();
    println!(
        "{} requests; raw Cedar loop (one thread): {:.3} s",
        requests.len(),
        raw.as_secs_f64()
    );
}
