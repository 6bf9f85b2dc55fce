//! `actas can`: a yes/no answer with `kubectl auth can-i` exit codes (0 yes, 1 no, 2 bad input),
//! each profile's chain and policies or what blocks it, in text and JSON.

use crate::support;

use insta_cmd::assert_cmd_snapshot;
use support::{actas, output};

#[test]
fn yes_through_a_chain_under_one_profile() {
    assert_cmd_snapshot!(actas(&["can", "carol", "prod-deployer"]));
}

#[test]
fn no_under_the_profile_asked_names_the_forbid() {
    // erin's direct hop to the billing admin is forbidden outside break glass.
    assert_cmd_snapshot!(actas(&[
        "can",
        "User::\"erin\"",
        "ServiceAccount::\"billing-admin\"",
        "--profile",
        "routine"
    ]));
}

#[test]
fn a_request_made_as_the_account() {
    let (code, stdout, _) = output(&[
        "can",
        "carol",
        "prod-deployer",
        "--action",
        "Action::\"deploy\"",
        "--resource",
        "Cluster::\"prod\"",
        "--profile",
        "routine",
    ]);
    assert_eq!(code, 0, "{stdout}");
    assert!(
        stdout.contains("allowed by deployer-deploys-prod"),
        "{stdout}"
    );
    assert_cmd_snapshot!(actas(&[
        "can",
        "dave",
        "ci-runner",
        "--action",
        "Action::\"push\"",
        "--resource",
        "Bucket::\"artifacts\""
    ]));
}

#[test]
fn json() {
    assert_cmd_snapshot!(actas(&["can", "erin", "billing-admin", "--format", "json"]));
}

#[test]
fn bad_input_exits_2_with_the_argument_named() {
    for (args, message) in [
        (
            vec!["can", "nobody", "ci-runner"],
            "PRINCIPAL: no entity of type",
        ),
        (vec!["can", "carol", "carol"], "TARGET: no entity"),
        (
            vec![
                "can",
                "carol",
                "ci-runner",
                "--action",
                "Action::\"pushh\"",
                "--resource",
                "Bucket::\"artifacts\"",
            ],
            "did you mean `Action::\"push\"`?",
        ),
        (
            vec!["can", "carol", "ci-runner", "--profile", "weekend"],
            "weekend",
        ),
        (
            vec!["can", "carol", "ci-runner", "--action", "Action::\"push\""],
            "--resource",
        ),
    ] {
        let (code, _, stderr) = output(&args);
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    }
}
