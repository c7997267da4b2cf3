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
    // Give the stack pool's warm window and trimming their say, then measure. The task pool's
    // blocks (runtime/src/task.rs) go back when the scavenger runs, once the drained burst has
    // stayed quiet for `scavenge::QUIET` (1 s): poll for up to 10 s.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let mut after;
    loop {
        std::thread::sleep(Duration::from_millis(100));
        after = common::rss_trimmed();
        if after < baseline + (64 << 20) || std::time::Instant::now() > deadline {
            break;
        }
    }
    eprintln!("RSS after: {} MiB (baseline {} MiB)", after >> 20, baseline >> 20);
    assert!(
        after < baseline + (64 << 20),
        "RSS did not return near its baseline: {baseline} -> {after} bytes"
    );
});

// ---- Shrinking the stacks of parked Gs (runtime/src/stack.rs, "Shrinking the stacks of parked
// Gs") ----

/// Recurses `n` frames of about 1 KiB, each filled with a pattern from `seed` and checked after
/// the deeper calls returned; the sum of all frames' words.
fn deep(n: u32, seed: u64) -> u64 {
    let mut buf = [0u64; 128];
    for (i, w) in buf.iter_mut().enumerate() {
        *w = seed ^ (u64::from(n) << 20) ^ i as u64;
    }
    let buf = std::hint::black_box(&mut buf);
    let below = if n > 0 { deep(n - 1, seed) } else { 0 };
    let mut sum = below;
    for (i, w) in buf.iter().enumerate() {
        assert_eq!(
            *w,
            seed ^ (u64::from(n) << 20) ^ i as u64,
            "frame {n} word {i} changed"
        );
        sum = sum.wrapping_add(*w);
    }
    sum
}

/// The status of G `id` (None: no such G).
fn status_of(id: u64) -> Option<gort_runtime::g::GStatus> {
    let mut s = None;
    gort_runtime::g::for_each_g(|g| {
        if g.id() == id {
            s = Some(g.status());
        }
    });
    s
}

/// Waits (10 s at most) until G `id` is parked; its stack pointer at that park.
fn wait_parked(id: u64) -> usize {
    let t = std::time::Instant::now();
    while status_of(id) != Some(gort_runtime::g::GStatus::Waiting) {
        assert!(t.elapsed() < Duration::from_secs(10), "G{id} never parked");
        std::thread::sleep(Duration::from_millis(1));
    }
    gort_runtime::stack::testing::parked_sp_of(id)
}

/// A G that recursed 192 KiB deep on a 1 MiB stack and then parked: what the test below and
/// its `shrinkstack=0` twin share. Returns the G's handle, its command channel, its reply
/// channel, and the sum the deep recursion gives.
#[allow(clippy::type_complexity)]
fn deep_then_park() -> (
    gort::JoinHandle<()>,
    gort::chan::Sender<u32>,
    gort::chan::Receiver<u64>,
    u64,
) {
    const PATTERN: u64 = 0x5eed_0000_0000_0001;
    let (cmd_tx, cmd_rx) = gort::chan::bounded::<u32>(0);
    let (rep_tx, rep_rx) = gort::chan::bounded::<u64>(1);
    let h = gort::Builder::new()
        .stack_size(1 << 20)
        .spawn(move || {
            let expect = deep(192, 7);
            // Data in this frame, above every park's stack pointer: it must survive shrinks.
            let mut data = [0u64; 64];
            for (i, w) in data.iter_mut().enumerate() {
                *w = PATTERN.wrapping_mul(i as u64 + 1);
            }
            let data = std::hint::black_box(&mut data);
            rep_tx.send(expect).unwrap();
            loop {
                let cmd = cmd_rx.recv().unwrap();
                for (i, w) in data.iter().enumerate() {
                    assert_eq!(*w, PATTERN.wrapping_mul(i as u64 + 1), "data word {i} lost");
                }
                match cmd {
                    // Checked; park again at the same site.
                    1 => rep_tx.send(1).unwrap(),
                    // Go deep again, on the shrunk stack.
                    _ => {
                        rep_tx.send(deep(192, 7)).unwrap();
                        return;
                    }
                }
            }
        })
        .unwrap();
    let expect = rep_rx.recv().unwrap();
    (h, cmd_tx, rep_rx, expect)
}

// A G that recursed 192 KiB deep and then parked has the pages below its stack pointer
// discarded by sysmon's shrink pass (mincore); parked again at the same site, its switch wrote
// nothing below the cut (the slack covers the switch's frames); resumed, its data above the
// stack pointer is intact and it recurses as deep again correctly.
child_test!(fn parked_deep_stack_is_shrunk_and_resumes() ["GORT_MAXPROCS" => "2"] {
    use gort_runtime::stack::testing as st;
    if !cfg!(all(target_os = "linux", any(target_arch = "x86_64", target_arch = "aarch64"))) {
        return;
    }
    let (h, cmd, rep, expect) = deep_then_park();
    let id = h.id();
    let sp = wait_parked(id);
    assert_ne!(sp, 0, "no stack pointer recorded at the park");
    let (lo, cut) = st::shrink_range(sp).expect("a parked G's stack pointer in a slab stack");
    let before = st::resident_pages(lo, cut - lo).unwrap();
    assert!(before >= 40, "the recursion left only {before} pages resident below the cut");
    // sysmon asks for a pass every 100 ms; a G qualifies after 200 ms parked. Generous bound.
    let t = std::time::Instant::now();
    let after = loop {
        let r = st::resident_pages(lo, cut - lo).unwrap();
        if r <= 1 || t.elapsed() > Duration::from_secs(20) {
            break r;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    eprintln!("resident below the cut: {before} pages -> {after} after {:?}", t.elapsed());
    assert!(after <= 1, "parked stack not shrunk: {before} -> {after} pages resident");
    assert!(gort_runtime::stack::stats().shrinks >= 1);
    // Resume; the G checks its data and parks again at the same site.
    cmd.send(1).unwrap();
    assert_eq!(rep.recv().unwrap(), 1);
    assert_eq!(wait_parked(id), sp, "parked again at another depth");
    assert_eq!(st::nonzero_words(lo, cut - lo), 0, "a park wrote below the cut");
    // Resume and go deep again.
    cmd.send(2).unwrap();
    assert_eq!(rep.recv().unwrap(), expect);
    h.join().unwrap();
});

// `GORT_DEBUG=shrinkstack=0`: the same parked G keeps its pages.
child_test!(fn shrinkstack_off_keeps_parked_stacks() ["GORT_MAXPROCS" => "2", "GORT_DEBUG" => "shrinkstack=0"] {
    use gort_runtime::stack::testing as st;
    let (h, cmd, rep, expect) = deep_then_park();
    let sp = wait_parked(h.id());
    let Some((lo, cut)) = st::shrink_range(sp) else { return };
    // Well past the threshold plus several pass intervals.
    std::thread::sleep(Duration::from_millis(1500));
    let r = st::resident_pages(lo, cut - lo).unwrap();
    assert!(r >= 40, "shrunk with shrinkstack=0: {r} pages resident below the cut");
    assert_eq!(gort_runtime::stack::stats().shrinks, 0);
    cmd.send(2).unwrap();
    assert_eq!(rep.recv().unwrap(), expect);
    h.join().unwrap();
});

// Shrink passes racing resumes: 200 Gs each go 48 KiB deep, park with data in their frame, and
// are readied again at once, 30 rounds, while a plain thread runs passes back to back over
// every parked G (no minimum parked time). Each G checks its frame's data after every park and
// every frame of each recursion; the passes must have discarded something, and nothing may be
// lost or crash (a discard that raced a resume would zero live frames or saved registers).
child_test!(fn shrink_passes_race_resumes() ["GORT_MAXPROCS" => "2"] {
    use gort_runtime::stack::testing as st;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    if !cfg!(all(target_os = "linux", any(target_arch = "x86_64", target_arch = "aarch64"))) {
        return;
    }
    const GS: u64 = 200;
    const ROUNDS: u64 = 30;
    let stop = Arc::new(AtomicBool::new(false));
    let passer = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let (mut passes, mut shrunk) = (0u64, 0usize);
            while !stop.load(Ordering::Relaxed) {
                shrunk += st::shrink_now(0).shrunk;
                passes += 1;
            }
            (passes, shrunk)
        })
    };
    let mut txs = Vec::new();
    let mut hs = Vec::new();
    for id in 0..GS {
        let (tx, rx) = gort::chan::bounded::<u64>(0);
        txs.push(tx);
        hs.push(
            gort::Builder::new()
                .stack_size(256 << 10)
                .spawn(move || {
                    let mut total = 0u64;
                    for round in 0..ROUNDS {
                        total = total.wrapping_add(deep(48, id ^ (round << 32)));
                        let mut data = [0u64; 32];
                        for (i, w) in data.iter_mut().enumerate() {
                            *w = (id << 40) ^ (round << 20) ^ i as u64 ^ 0xa5a5;
                        }
                        let data = std::hint::black_box(&mut data);
                        assert_eq!(rx.recv().unwrap(), round);
                        for (i, w) in data.iter().enumerate() {
                            assert_eq!(*w, (id << 40) ^ (round << 20) ^ i as u64 ^ 0xa5a5);
                        }
                    }
                    total
                })
                .unwrap(),
        );
    }
    for round in 0..ROUNDS {
        // A different order each round, so that readies land at every point of a pass.
        for k in 0..GS {
            let i = (k * 7 + round * 13) % GS;
            txs[i as usize].send(round).unwrap();
        }
    }
    let totals: Vec<u64> = hs.into_iter().map(|h| h.join().unwrap()).collect();
    stop.store(true, Ordering::Relaxed);
    let (passes, shrunk) = passer.join().unwrap();
    eprintln!(
        "{passes} passes shrank {shrunk} stacks; {} resumes found a batch open",
        st::gate_waits()
    );
    for (id, t) in totals.into_iter().enumerate() {
        let want = (0..ROUNDS).fold(0u64, |a, r| a.wrapping_add(deep(48, id as u64 ^ (r << 32))));
        assert_eq!(t, want, "G{id}");
    }
    assert!(shrunk > 0, "{passes} passes never shrank a stack");
});
