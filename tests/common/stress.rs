//! Helpers shared by the stress suites (tests/stress.rs, tests/stress_net.rs).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// splitmix64: the deterministic pseudo-random source of every choice in the stress suites.
pub fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// Aborts the process with a message if `armed` is still set after `limit`: a hang becomes a
/// failure of the child (the parent prints its stderr).
pub fn watchdog(what: &'static str, limit: Duration) -> Arc<AtomicBool> {
    let armed = Arc::new(AtomicBool::new(true));
    let a = armed.clone();
    std::thread::spawn(move || {
        let t = Instant::now();
        while t.elapsed() < limit {
            std::thread::sleep(Duration::from_millis(100));
            if !a.load(Ordering::SeqCst) {
                return;
            }
        }
        eprintln!(
            "WATCHDOG: {what} still running after {limit:?} (hang?): num_goroutine={} threads={}",
            gort::num_goroutine(),
            super::threads()
        );
        std::process::exit(3);
    });
    armed
}

/// Starts the runtime and gets every P an M (a G per P spinning briefly), then returns the
/// process's thread count: the baseline the tests come back to.
pub fn warm_up() -> usize {
    let n = gort::maxprocs();
    let hs: Vec<_> = (0..n)
        .map(|_| {
            gort::spawn(|| {
                let t = Instant::now();
                while t.elapsed() < Duration::from_millis(20) {
                    std::hint::spin_loop();
                }
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    assert_eq!(gort::num_goroutine(), 0);
    super::threads()
}

/// No leaked Gs, and the thread count back near `baseline` within a few seconds (idle Ms beyond
/// GORT_MAXPROCS exit after 2 s; the floor is GORT_MAXPROCS idle Ms plus sysmon).
pub fn assert_no_leaks(baseline: usize) {
    assert_eq!(gort::num_goroutine(), 0, "leaked green threads");
    // Ms that may stay: one per P (the idle floor) plus one that is still on its way out.
    let ceiling = baseline.max(3 + gort::maxprocs()) + 1;
    let t = Instant::now();
    let mut n = super::threads();
    while n > ceiling && t.elapsed() < Duration::from_secs(8) {
        std::thread::sleep(Duration::from_millis(50));
        n = super::threads();
    }
    eprintln!(
        "threads: baseline {baseline}, now {n} (ceiling {ceiling}) after {:?}",
        t.elapsed()
    );
    assert!(
        n <= ceiling,
        "threads did not come back: baseline {baseline}, {n} after {:?}",
        t.elapsed()
    );
    assert_eq!(gort::num_goroutine(), 0, "leaked green threads");
}
