#![no_main]

use actas::app::fuzzing::{run, Target};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| run(Target::Scenarios, data));
