//! Loom model (7): Mutex hand-off and WaitGroup wait/done, driving the real
//! `gort_runtime::sync` code from plain loom threads. Under loom every parked Mutex waiter
//! counts as starved (sync/mutex.rs `starved`), so the hand-off path is explored.
//!
//! Run: `RUSTFLAGS="--cfg loom -C debug_assertions" LOOM_MAX_PREEMPTIONS=2 \
//!       CARGO_TARGET_DIR=target/loom cargo test -p loom-tests --release --test sync`
#![cfg(loom)]

use gort_runtime::sync::{Mutex, WaitGroup};
use loom::sync::Arc;
use loom::thread;

#[test]
fn mutex_handoff_exclusion() {
    loom::model(|| {
        let m = Arc::new(Mutex::new(0u32));
        let hs: Vec<_> = (0..2)
            .map(|_| {
                let m = m.clone();
                thread::spawn(move || {
                    let mut g = m.lock();
                    let v = *g;
                    thread::yield_now();
                    *g = v + 1;
                })
            })
            .collect();
        {
            let mut g = m.lock();
            *g += 1;
        }
        for h in hs {
            h.join().unwrap();
        }
        assert_eq!(*m.lock(), 3);
        assert!(!m.is_locked());
    });
}

#[test]
fn waitgroup_wait_done() {
    loom::model(|| {
        let wg = Arc::new(WaitGroup::new());
        let n = Arc::new(loom::sync::atomic::AtomicUsize::new(0));
        wg.add(2);
        let hs: Vec<_> = (0..2)
            .map(|_| {
                let (wg, n) = (wg.clone(), n.clone());
                thread::spawn(move || {
                    n.fetch_add(1, loom::sync::atomic::Ordering::Relaxed);
                    wg.done();
                })
            })
            .collect();
        wg.wait();
        assert_eq!(n.load(loom::sync::atomic::Ordering::Relaxed), 2);
        for h in hs {
            h.join().unwrap();
        }
    });
}
