//! Stacks at scale, through the public API: the mprotect fallback's budget, and overflow
//! reports with many Gs parked. (The slab allocator's own tests are in runtime/tests/.)

mod common;

use std::time::Duration;

// The forced mprotect fallback reaches its budget and `Builder::spawn` returns the clear error
// (not a crash or a hang); Gs already running are unaffected.
child_test!(fn mprotect_budget_gives_clear_error() ["GORT_STACK_GUARD" => "mprotect", "GORT_MAXPROCS" => "2"] {
    let outcome = gort::spawn(|| {
        let mut hs = Vec::new();
        let err = loop {
            // The default stack size: the budget counts guarded stacks per size class (see
            // docs/stacks.md), and the final spawn below uses the default class too.
            match gort::Builder::new().spawn(|| gort::sleep(Duration::from_millis(1500)))
            {
                Ok(h) => hs.push(h),
                Err(e) => break e,
            }
            // Let the new G run and take its stack, so the budget check sees it.
            gort::yield_now();
            assert!(hs.len() < 200_000, "no budget error after {} Gs", hs.len());
        };
        let n = hs.len();
        for h in hs {
            if let Err(e) = h.join() { panic!("a G that started before the budget ran out failed: {:?}", e.downcast_ref::<String>().map(String::as_str).or(e.downcast_ref::<&str>().copied())); }
        }
        (n, err.to_string())
    })
    .join()
    .unwrap();
    let (n, msg) = outcome;
    eprintln!("budget reached after {n} Gs: {msg}");
    assert!(n > 1_000, "budget reached after only {n} stacks");
    assert!(msg.contains("vm.max_map_count"), "{msg}");
    assert!(msg.contains("live"), "{msg}");
    // The runtime still works once the stacks are free again.
    assert_eq!(gort::spawn(|| 1).join().unwrap(), 1);
});

// A stack overflow in a G carved from a slab, while 100,000 other Gs are parked, gives the named
// message.
#[test]
fn overflow_with_many_parked_child() {
    if !common::is_child() {
        return;
    }
    let parked: Vec<_> = (0..100_000)
        .map(|_| gort::spawn(|| gort::sleep(Duration::from_secs(60))))
        .collect();
    while gort::num_goroutine() < 100_000 {
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(200));
    #[allow(unconditional_recursion)]
    fn recurse(n: u64) -> u64 {
        let buf = std::hint::black_box([n; 32]);
        recurse(buf[1] + 1) + buf[2]
    }
    let h = gort::Builder::new()
        .name("overflower")
        .stack_size(32 * 1024)
        .spawn(|| recurse(0))
        .unwrap();
    let _ = h.join();
    drop(parked);
}

#[test]
fn overflow_with_many_parked() {
    if common::is_child() {
        return;
    }
    let out = common::run_child("overflow_with_many_parked_child", &[]);
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(out.status.signal(), Some(6), "{:?}", out.status);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("'overflower' has overflowed its stack (32 KiB); raise it with Builder::stack_size or GORT_STACK_SIZE"),
        "{stderr}"
    );
}

fn maps_lines() -> usize {
    std::fs::read_to_string("/proc/self/maps")
        .map(|s| s.lines().count())
        .unwrap_or(0)
}

// 1,000,000 Gs parked at once on unbuffered channel receives, with 2 Ps: all start,
// num_goroutine() counts them, /proc/self/maps stays at a few hundred lines (no mapping per
// stack), then all are released and joined with the right values, and RSS returns near its
// baseline.
child_test!(fn a_million_parked_gs() ["GORT_MAXPROCS" => "2"] {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    const N: usize = 1_000_000;
    let baseline = common::rss_trimmed();
    let maps_before = maps_lines();
    let started = Arc::new(AtomicUsize::new(0));
    let mut senders = Vec::with_capacity(N);
    let mut handles = Vec::with_capacity(N);
    for _ in 0..N {
        let (tx, rx) = gort::chan::bounded::<u64>(0);
        let started = started.clone();
        handles.push(gort::spawn(move || {
            started.fetch_add(1, Ordering::Relaxed);
            rx.recv().unwrap() * 2
        }));
        senders.push(tx);
    }
    while started.load(Ordering::Relaxed) < N {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(gort::num_goroutine(), N);
    let maps_parked = maps_lines();
    let rss_parked = common::rss_bytes();
    eprintln!(
        "1M parked: maps {maps_before} -> {maps_parked} lines, RSS {} MiB -> {} MiB ({} bytes per G)",
        baseline >> 20,
        rss_parked >> 20,
        (rss_parked - baseline) / N
    );
    assert!(maps_parked < maps_before + 300, "{maps_before} -> {maps_parked} mappings");
    for (i, tx) in senders.into_iter().enumerate() {
        tx.send(i as u64).unwrap();
    }
    for (i, h) in handles.into_iter().enumerate() {
        assert_eq!(h.join().unwrap(), 2 * i as u64);
    }
    assert_eq!(gort::num_goroutine(), 0);
    // Give the stack pool's warm window and trimming their say, then measure.
    std::thread::sleep(Duration::from_millis(100));
    let after = common::rss_trimmed();
    eprintln!("RSS after: {} MiB (baseline {} MiB)", after >> 20, baseline >> 20);
    assert!(
        after < baseline + (64 << 20),
        "RSS did not return near its baseline: {baseline} -> {after} bytes"
    );
});
