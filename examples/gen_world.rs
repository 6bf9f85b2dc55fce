//! Writes a generated workspace (the differential tests' generator, scaled up) for timing runs:
//!
//! ```sh
//! cargo run --release --example gen_world -- /tmp/world 2000 400 300 [SEED] [GRANT_POLICIES]
//! actas -C /tmp/world report --format json > /dev/null
//! ```
//! Arguments: folder, people, accounts, policies, seed (default 1), policies on a `read` action
//! over folders (default 0: no such action, so no grants).

#[path = "../tests/support/world.rs"]
#[allow(dead_code, reason = "shared with the tests, which use all of it")]
mod world;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let number = |i: usize, default: usize| {
        args.get(i)
            .map(|s| s.parse().expect("a number"))
            .unwrap_or(default)
    };
    let Some(dir) = args.first() else {
        eprintln!("usage: gen_world DIR [PEOPLE] [ACCOUNTS] [POLICIES] [SEED] [GRANT_POLICIES]");
        std::process::exit(2);
    };
    let people = number(1, 200);
    let accounts = number(2, 100);
    let size = world::Size {
        teams: (people / 40).max(3),
        people,
        robots: (people / 20).max(1),
        folders: (accounts / 10).max(2),
        accounts,
        policies: number(3, 100),
        grants: number(5, 0),
    };
    let w = world::generate(number(4, 1) as u64, &size, false);
    w.write(std::path::Path::new(dir));
    println!(
        "{dir}: {} identities, {} accounts, {} policies",
        w.principals.len(),
        w.accounts.len(),
        size.policies
    );
}
