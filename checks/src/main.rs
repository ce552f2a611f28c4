//! `rcopy-check`: list, run, trace, render, replay and explore the registered checks.

/// Exploration allocates and frees a state per transition, on every thread, and a state made
/// on one thread is freed on another: mimalloc's per-thread heaps do this without the locking
/// of glibc's arenas.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    rcopy_checks::cli::main()
}
