use std::process::ExitCode;

/// mimalloc rather than the system allocator: reports and effective access make millions of
/// small strings and vectors on every worker thread, and glibc's malloc took a third of the time.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    no_transparent_huge_pages();
    actas::app::main().into()
}

/// Transparent huge pages off for this process. mimalloc asks for them (`MADV_HUGEPAGE`), and
/// where the kernel compacts memory to serve such a request (`defrag` set to `madvise`, as on
/// Debian) runs that follow one another stalled now and then in the kernel for up to a second:
/// `actas test` on 20,000 cases (deep shape), back to back, took 0.81-1.46 s with them (three
/// of nine runs stalled), 0.92-1.08 s without (see docs/performance.md, "Huge pages off").
#[cfg(target_os = "linux")]
fn no_transparent_huge_pages() {
    // SAFETY: PR_SET_THP_DISABLE takes plain integers, touches no memory of ours, and only
    // sets a flag of this process (a failure leaves huge pages on, which is harmless).
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

#[cfg(not(target_os = "linux"))]
fn no_transparent_huge_pages() {}
