//! Running protocol code on states read from a file: a role's assertion, or a narration that
//! indexes a forged state, must become a clear error, not a crash. [`guarded`] catches the
//! panic and keeps its message off stderr (a process-wide hook, silent only on the thread
//! that asked, so other threads' panics still print).

use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Once;

thread_local! {
    static QUIET: Cell<bool> = const { Cell::new(false) };
}

fn install() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !QUIET.with(Cell::get) {
                previous(info);
            }
        }));
    });
}

fn message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic".into())
}

/// Run `f`; a panic inside becomes `Err("<what>: the protocol's code panicked: <message>")`.
pub fn guarded<T>(what: &str, f: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    install();
    let was = QUIET.with(|q| q.replace(true));
    let r = catch_unwind(AssertUnwindSafe(f));
    QUIET.with(|q| q.set(was));
    r.unwrap_or_else(|p| Err(format!("{what}: the protocol's code panicked: {}", message(&*p))))
}

#[cfg(test)]
mod tests {
    use super::guarded;

    #[test]
    fn a_panic_becomes_an_error() {
        let r: Result<(), String> = guarded("replay", || panic!("index out of bounds"));
        assert_eq!(r, Err("replay: the protocol's code panicked: index out of bounds".into()));
        assert_eq!(guarded("x", || Ok(3)), Ok(3));
    }
}
