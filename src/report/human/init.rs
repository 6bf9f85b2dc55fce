//! `actas init`'s summary: what was written and what to do next.

use crate::commands::init::InitResult;
use crate::report::escape::terminal;

pub fn init(result: &InitResult, color: bool) -> String {
    let bold = |s: &str| {
        if color {
            format!("\x1b[1m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    };
    let mut out = String::new();
    for (file, what) in &result.written {
        out.push_str(&format!(
            "wrote {}: {}\n",
            bold(&terminal(file)),
            terminal(what)
        ));
    }
    for note in &result.notes {
        out.push_str(&format!("note: {}\n", terminal(note)));
    }
    out.push_str("\nnext:\n");
    if !result.actions.is_empty() {
        out.push_str("  check the impersonation actions and the `default` profile in actas.yaml\n");
    } else {
        out.push_str(
            "  name your impersonation actions under `impersonation.actions` in actas.yaml\n",
        );
    }
    out.push_str(
        "  actas test      run the example case (fixtures/scenarios/), then add your own\n",
    );
    out.push_str("  actas check     lint the policies for risky impersonation\n");
    out.push_str("  actas who-can   list who can impersonate whom\n");
    out
}
