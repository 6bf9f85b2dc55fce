use std::process::ExitCode;

/// mimalloc rather than the system allocator: reports and effective access make millions of
/// small strings and vectors on every worker thread, and glibc's malloc took a third of the time.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    actas::app::main().into()
}
