//! The `sync` facade: std's primitives in a normal build, loom's under `--cfg loom`, so the few
//! structures that threads share are checked by loom exactly as they are compiled for production.

#[cfg(loom)]
pub use loom::sync::{
    atomic::{AtomicU64, Ordering},
    Arc, Mutex, MutexGuard,
};

#[cfg(not(loom))]
pub use std::sync::{
    atomic::{AtomicU64, Ordering},
    Arc, Mutex, MutexGuard,
};
