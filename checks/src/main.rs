//! `rcopy-check`: list, run, trace, render, replay and explore the registered checks.

fn main() -> std::process::ExitCode {
    rcopy_checks::cli::main()
}
