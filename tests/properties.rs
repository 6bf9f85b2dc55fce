//! Properties over generated workspaces, some with one byte changed in one file: every run ends
//! with exit 0, 1 or 2; a run that cannot do its job (2) names a file; and the outputs do not
//! depend on the number of threads.

use crate::support;

use proptest::prelude::*;
use support::output_without_command_line;
use support::world::{generate, Size};

const FILES: [&str; 4] = [
    "actas.yaml",
    "policies/schema.cedarschema",
    "policies/world.cedar",
    "fixtures/entities.json",
];

fn run(dir: &std::path::Path, threads: &str, args: &[&str]) -> (i32, String, String) {
    let mut all = vec!["-C", dir.to_str().unwrap(), "--threads", threads];
    all.extend_from_slice(args);
    output_without_command_line(&all)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn any_workspace_gets_a_located_answer_independent_of_threads(
        seed in 0u64..1_000,
        corrupt in proptest::option::of((0usize..FILES.len(), 0.0f64..1.0, any::<u8>())),
    ) {
        let dir = tempfile::tempdir().unwrap();
        generate(seed, &Size::TINY, seed % 2 == 0).write(dir.path());
        if let Some((file, at, byte)) = corrupt {
            let path = dir.path().join(FILES[file]);
            let mut bytes = std::fs::read(&path).unwrap();
            let i = (((bytes.len() as f64) * at) as usize).min(bytes.len().saturating_sub(1));
            if let Some(b) = bytes.get_mut(i) {
                *b = byte;
            }
            std::fs::write(&path, bytes).unwrap();
        }
        for args in [&["check", "--format", "json"][..], &["report", "--format", "json"][..]] {
            let one = run(dir.path(), "1", args);
            let two = run(dir.path(), "2", args);
            prop_assert!((0..=2).contains(&one.0), "{args:?}: exit {} {}", one.0, one.2);
            prop_assert_eq!(&one, &two, "{:?}: one thread and two differ", args);
            if one.0 == 2 {
                prop_assert!(
                    FILES.iter().any(|f| one.2.contains(f)),
                    "{:?}: exit 2 without naming a file: {}", args, one.2
                );
            }
        }
    }
}
