//! What several test files share.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Run `f` on every item, on as many threads as the machine has; collect what it reports
/// (a failure's description), in no particular order.
pub fn each_in_parallel<T: Sync>(items: &[T], f: impl Fn(&T) -> Option<String> + Sync) -> Vec<String> {
    let next = AtomicUsize::new(0);
    let reports = Mutex::new(Vec::new());
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get()).min(items.len().max(1));
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                while let Some(item) = items.get(next.fetch_add(1, Ordering::Relaxed)) {
                    if let Some(r) = f(item) {
                        reports.lock().unwrap().push(r);
                    }
                }
            });
        }
    });
    reports.into_inner().unwrap()
}
