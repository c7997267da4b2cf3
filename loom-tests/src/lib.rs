//! loom models of the gort engine (run with `loom-tests/run.sh`; see docs/loom.md).
//!
//! The models live in `tests/`; each is `#![cfg(loom)]`, so a normal `cargo test` builds none.
//! This library holds what they share.

/// Runs `f` under `loom::model`, counting executions (a plain std counter outside loom), and
/// prints `loom model <name>: <n> executions in <t> s` (run.sh collects these lines).
#[cfg(loom)]
pub fn model<F>(name: &str, f: F)
where
    F: Fn() + Sync + Send + 'static,
{
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let n = Arc::new(AtomicUsize::new(0));
    let n2 = n.clone();
    let t = std::time::Instant::now();
    loom::model(move || {
        n2.fetch_add(1, Ordering::Relaxed);
        f();
    });
    println!(
        "loom model {name}: {} executions in {:.1} s",
        n.load(Ordering::Relaxed),
        t.elapsed().as_secs_f64()
    );
}
