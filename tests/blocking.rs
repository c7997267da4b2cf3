// The 100,000-call burst is #[ignore]d (release stress step of .ci/run):
//   cargo test --release --test blocking -- --ignored
//! Blocking calls nobody wrapped (sysmon's check, docs/blocking.md) and the bounded blocking
//! pool (`GORT_MAXBLOCKING`).
//!
//! Timing bounds here are generous on purpose (a loaded 2-core machine): they separate "handed
//! off within ticks" from "handed off by the 10 ms hog rule", a factor of ten; the goals
//! themselves are measured by the comparison runner (`blocking_unwrapped`, `blockcheck_*`).

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Wall time of `n` Gs each running `f` once.
fn wall_of(n: usize, f: impl Fn(usize) + Send + Sync + 'static) -> Duration {
    let f = Arc::new(f);
    let t = Instant::now();
    gort::spawn(move || {
        let hs: Vec<_> = (0..n)
            .map(|i| {
                let f = f.clone();
                gort::spawn(move || f(i))
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
    })
    .join()
    .unwrap();
    t.elapsed()
}

// 200 Gs each in `std::thread::sleep(200 ms)` on one P: wrapped in `gort::blocking` and not.
// Unwrapped, only the 10 ms hog rule used to hand the P on (200 × 10 ms + 200 ms ≈ 2.2 s,
// measured 3.7 s); sysmon now sees each sleeping thread within a few ticks.
child_test!(fn unwrapped_sleep_finishes_near_the_wrapped_time() ["GORT_MAXPROCS" => "1"] {
    let d = Duration::from_millis(200);
    let wrapped = wall_of(200, move |_| gort::blocking(|| std::thread::sleep(d)));
    let unwrapped = wall_of(200, move |_| std::thread::sleep(d));
    eprintln!("200 x 200 ms sleeps on 1 P: wrapped {wrapped:?}, unwrapped {unwrapped:?}");
    assert!(
        unwrapped < wrapped * 3 + Duration::from_millis(300),
        "unwrapped sleeps took {unwrapped:?} against {wrapped:?} wrapped"
    );
});

/// Makes `n` FIFOs in a fresh directory (mkfifo(3)).
fn fifos(tag: &str, n: usize) -> Vec<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("gort-fifo-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    (0..n)
        .map(|i| {
            let p = dir.join(format!("f{i}"));
            let c = std::ffi::CString::new(p.to_str().unwrap()).unwrap();
            // SAFETY: `c` is a valid NUL-terminated path.
            assert_eq!(
                unsafe { libc::mkfifo(c.as_ptr(), 0o600) },
                0,
                "mkfifo {p:?}"
            );
            p
        })
        .collect()
}

/// `n` Gs each read one byte with `std::fs::read` from its own FIFO (a std::fs call that blocks
/// its thread in `open` until a writer comes), wrapped or not; a plain thread opens every FIFO
/// for writing after `delay`. Returns the wall time.
fn fifo_reads(tag: &str, n: usize, delay: Duration, wrapped: bool) -> Duration {
    let paths = fifos(tag, n);
    let ps = paths.clone();
    let writer = std::thread::spawn(move || {
        std::thread::sleep(delay);
        // Each open waits for its reader; the readers are all blocked in theirs by now (or
        // soon), in any order, so open in reverse and forwards alternately does not matter.
        for p in &ps {
            use std::io::Write;
            std::fs::OpenOptions::new()
                .write(true)
                .open(p)
                .unwrap()
                .write_all(b"x")
                .unwrap();
        }
    });
    let ps = Arc::new(paths);
    let rd = ps.clone();
    let took = wall_of(n, move |i| {
        let read = || std::fs::read(&rd[i]).unwrap();
        let got = if wrapped {
            gort::blocking(read)
        } else {
            read()
        };
        assert_eq!(got, b"x");
    });
    writer.join().unwrap();
    std::fs::remove_dir_all(ps[0].parent().unwrap()).unwrap();
    took
}

// The same with an unwrapped `std::fs` read: 50 Gs each block in `std::fs::read` of a FIFO
// until a writer thread comes 200 ms later. Without the check, the writer's sequential opens
// would wait for each reader to get the P in turn, 10 ms each.
child_test!(fn unwrapped_fs_read_finishes_near_the_wrapped_time() ["GORT_MAXPROCS" => "1"] {
    let d = Duration::from_millis(200);
    let wrapped = fifo_reads("w", 50, d, true);
    let unwrapped = fifo_reads("u", 50, d, false);
    eprintln!("50 FIFO reads on 1 P: wrapped {wrapped:?}, unwrapped {unwrapped:?}");
    assert!(
        unwrapped < wrapped * 3 + Duration::from_millis(300),
        "unwrapped reads took {unwrapped:?} against {wrapped:?} wrapped"
    );
});

// With the check off (GORT_DEBUG=blockcheck=0) unwrapped sleeps wait for the hog rule again:
// the knob really turns it off (the benchmark's baseline relies on it).
child_test!(fn blockcheck_off_restores_the_hog_rule() [
    "GORT_MAXPROCS" => "1", "GORT_DEBUG" => "blockcheck=0"
] {
    let d = Duration::from_millis(50);
    let unwrapped = wall_of(40, move |_| std::thread::sleep(d));
    eprintln!("40 x 50 ms unwrapped sleeps on 1 P, check off: {unwrapped:?}");
    // 40 hand-offs by the 10 ms rule: at least 390 ms (the first G needs none).
    assert!(unwrapped >= Duration::from_millis(390), "took only {unwrapped:?}");
});

/// In a G named `name`: spawns a G to wait behind it, then sleeps in `std::thread::sleep`
/// (unwrapped) until sysmon has taken its P (`should_yield` turns true; a loaded machine may
/// delay sysmon's ticks), at least 100 ms. Each sleep is 100 ms long: the check confirms a
/// sleeping thread over two sysmon ticks, which a loaded machine can space more than 20 ms
/// apart (shorter sleeps then look like a thread that keeps running, and the hog rule takes
/// the P without a blocktrace line).
fn sleep_until_handed_off() {
    let spinner = gort::spawn(gort::yield_now);
    let t = Instant::now();
    while (!gort::should_yield() || t.elapsed() < Duration::from_millis(100))
        && t.elapsed() < Duration::from_secs(10)
    {
        std::thread::sleep(Duration::from_millis(100));
    }
    spinner.join().unwrap();
}

/// Runs `test`'s child with one P and `blocktrace=1`, the child running `body` in a G named
/// `name`; returns the blocktrace line naming that G (failing if there is none).
fn blocktrace_line_of(test: &str, name: &str, body: fn()) -> Option<String> {
    if common::is_child() {
        gort::Builder::new()
            .name(name)
            .spawn(body)
            .unwrap()
            .join()
            .unwrap();
        return None;
    }
    let out = common::child_ok(
        test,
        &[("GORT_MAXPROCS", "1"), ("GORT_DEBUG", "blocktrace=1")],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    let line = err
        .lines()
        .find(|l| l.starts_with("gort: blocktrace:") && l.contains(&format!("'{name}'")))
        .unwrap_or_else(|| panic!("no blocktrace line for G '{name}' in:\n{err}"));
    Some(line.to_string())
}

// GORT_DEBUG=blocktrace=1 names the G whose P was handed off and the syscall.
#[test]
fn blocktrace_names_the_g_and_the_syscall() {
    let t = "blocktrace_names_the_g_and_the_syscall";
    if let Some(line) = blocktrace_line_of(t, "sleepy", sleep_until_handed_off) {
        assert!(line.contains("nanosleep"), "{line}");
        assert!(line.contains("without gort::blocking"), "{line}");
    }
}

// A G that computes for long before it blocks (sysmon then looks at its thread less often:
// at most 1 ms apart) is still caught by the check when work comes to wait behind it, rather
// than by the hog rule (its slice is long over, so the hog rule would take the P at once): the
// blocktrace line names it.
#[test]
fn blocking_after_computing_is_caught() {
    let t = "blocking_after_computing_is_caught";
    blocktrace_line_of(t, "computes-then-sleeps", || {
        // 30 ms of computing with nothing queued: the hog rule only flags the slice.
        let t = Instant::now();
        let mut x = 0u64;
        while t.elapsed() < Duration::from_millis(30) {
            x = std::hint::black_box(x.wrapping_add(1));
        }
        std::hint::black_box(x);
        sleep_until_handed_off();
    });
}

/// Runs `calls` concurrent `gort::blocking` calls of `d` each from as many Gs; returns the
/// most calls seen inside at once and the most threads seen, sampled by a plain thread.
fn burst(calls: usize, d: Duration) -> (usize, usize) {
    let inside = Arc::new(AtomicUsize::new(0));
    let peak_inside = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let (d2, i2, p2) = (done.clone(), inside.clone(), peak_inside.clone());
    let sampler = {
        let done = done.clone();
        std::thread::spawn(move || {
            let mut peak = 0;
            while done.load(Ordering::SeqCst) < calls {
                peak = peak.max(common::threads());
                std::thread::sleep(Duration::from_millis(5));
            }
            peak
        })
    };
    gort::spawn(move || {
        let hs: Vec<_> = (0..calls)
            .map(|_| {
                let (done, inside, peak) = (d2.clone(), i2.clone(), p2.clone());
                gort::spawn(move || {
                    gort::blocking(|| {
                        let n = inside.fetch_add(1, Ordering::SeqCst) + 1;
                        peak.fetch_max(n, Ordering::SeqCst);
                        std::thread::sleep(d);
                        inside.fetch_sub(1, Ordering::SeqCst);
                    });
                    done.fetch_add(1, Ordering::SeqCst);
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
    })
    .join()
    .unwrap();
    assert_eq!(done.load(Ordering::SeqCst), calls);
    (peak_inside.load(Ordering::SeqCst), sampler.join().unwrap())
}

// A small pool: 1,000 calls of 20 ms with GORT_MAXBLOCKING=16 never have more than 16 inside at
// once, the rest park (no abort at GORT_MAXTHREADS=40, which one thread per call would pass),
// and the thread count stays near pool + Ps.
child_test!(fn blocking_pool_bounds_concurrent_calls() [
    "GORT_MAXPROCS" => "2", "GORT_MAXBLOCKING" => "16", "GORT_MAXTHREADS" => "40"
] {
    let base = common::threads();
    let (inside, threads) = burst(1_000, Duration::from_millis(20));
    eprintln!("pool 16: at most {inside} calls inside at once, {threads} threads (base {base})");
    assert!(inside <= 16, "{inside} calls inside a pool of 16");
    assert!(inside >= 8, "the burst never filled the pool ({inside} inside at most)");
    // Ms: 16 in calls + 2 with Ps + one in the poller + a few on their way to the idle list.
    assert!(threads <= base + 16 + 2 + 6, "{threads} threads (base {base})");
});

// The burst: 100,000 concurrent `gort::blocking` calls with the default limits all
// complete, without an abort, and the thread count stays under the pool's 512 plus the Ps.
// Calls of 60 ms: long enough for the burst to fill the pool (sysmon hands off one P per tick
// or so, ~10,000 a second here), so that calls do park for a slot.
child_test!(
    #[ignore = "stress: run with --release --ignored (CI stress step)"]
    fn blocking_burst_of_100k_calls() ["GORT_MAXPROCS" => "2"] {
        let base = common::threads();
        let t = Instant::now();
        let (inside, threads) = burst(100_000, Duration::from_millis(60));
        eprintln!(
            "100,000 calls of 60 ms: {:?}, at most {inside} inside at once, {threads} threads \
             (base {base})",
            t.elapsed()
        );
        assert!(inside <= gort_runtime::env::DEFAULT_MAXBLOCKING, "{inside} inside");
        assert!(
            threads <= base + gort_runtime::env::DEFAULT_MAXBLOCKING + 2 + 8,
            "{threads} threads (base {base})"
        );
    }
);

// A blocking call inside a blocking call (gort::fs inside a user's gort::blocking) takes no
// second permit: with a pool of one it neither deadlocks nor corrupts the P's state.
child_test!(fn nested_blocking_calls_take_one_permit() [
    "GORT_MAXPROCS" => "1", "GORT_MAXBLOCKING" => "1"
] {
    let h = gort::spawn(|| {
        gort::blocking(|| {
            let s = gort::fs::read_to_string("/proc/self/status").unwrap();
            gort::block_in_place(|| std::thread::sleep(Duration::from_millis(5)));
            s.len()
        })
    });
    assert!(h.join().unwrap() > 0);
    // The runtime goes on normally afterwards.
    let hs: Vec<_> = (0..10).map(|i| gort::spawn(move || gort::blocking(move || i))).collect();
    assert_eq!(hs.into_iter().map(|h| h.join().unwrap()).sum::<i32>(), 45);
});
