//! Behaviour of the engine (the G/M/P scheduler), through the public API.
//!
//! Tests that need their own `GORT_*` settings or an exact `num_goroutine()` run their body in a
//! child process (see `common::run_child`), because the runtime reads the environment once.

mod common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

// Go's TestGoroutineParallelism: with 2 Ps, two Gs that wait for each other by spinning on an
// atomic both make progress; with no real parallelism (or an M that is never woken) this hangs
// and the child is killed by the test harness timeout below.
child_test!(fn parallelism_is_real() ["GORT_MAXPROCS" => "2"] {
    const N: u64 = 2_000;
    let x = Arc::new(AtomicU64::new(0));
    let hs: Vec<_> = (0..2u64)
        .map(|p| {
            let x = x.clone();
            gort::spawn(move || {
                let deadline = Instant::now() + Duration::from_secs(20);
                for i in 0..N {
                    // Wait (spinning, no scheduling point) for our turn: even for G0, odd for G1.
                    while x.load(Ordering::SeqCst) != 2 * i + p {
                        assert!(Instant::now() < deadline, "no parallelism: G{p} starved at {i}");
                        std::hint::spin_loop();
                    }
                    x.fetch_add(1, Ordering::SeqCst);
                }
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    assert_eq!(x.load(Ordering::SeqCst), 2 * N);
});

// A burst spawned by one G is spread across Ps by stealing: count the OS threads (Ms) that ran
// the burst's Gs.
child_test!(fn burst_is_stolen() ["GORT_MAXPROCS" => "2"] {
    let seen = Arc::new(Mutex::new(HashSet::new()));
    let s2 = seen.clone();
    gort::spawn(move || {
        let hs: Vec<_> = (0..2_000)
            .map(|_| {
                let seen = s2.clone();
                gort::spawn(move || {
                    // ~50 µs of work so the spawner's queue builds up and an idle M steals.
                    let t = Instant::now();
                    while t.elapsed() < Duration::from_micros(50) {
                        std::hint::spin_loop();
                    }
                    seen.lock().unwrap().insert(std::thread::current().id());
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
    })
    .join()
    .unwrap();
    let n = seen.lock().unwrap().len();
    assert!(n >= 2, "the burst ran on {n} M(s); stealing should have spread it");
});

// The runnext back-off (sched.rs): a ping-pong phase on 2 Ps makes thieves wait longer before
// taking that P's runnext. A G spawned into runnext behind a G that then spins without a
// scheduling point must still be taken by the other M (this hangs if the back-off left it, or
// if a thief stopped looking), on a P whose back-off has grown.
child_test!(fn runnext_behind_a_spinner_is_stolen_after_a_pingpong() ["GORT_MAXPROCS" => "2"] {
    gort::spawn(|| {
        for _ in 0..5 {
            // A ping-pong phase: the two Gs take turns in this P's runnext.
            let (ping_tx, ping_rx) = gort::chan::bounded::<u32>(0);
            let (pong_tx, pong_rx) = gort::chan::bounded::<u32>(0);
            let echo = gort::spawn(move || {
                for v in ping_rx {
                    pong_tx.send(v).unwrap();
                }
            });
            for i in 0..20_000 {
                ping_tx.send(i).unwrap();
                assert_eq!(pong_rx.recv().unwrap(), i);
            }
            drop(ping_tx);
            echo.join().unwrap();
            // Now a G in runnext behind a spinner: only another M can run it.
            let ran = Arc::new(AtomicBool::new(false));
            let r2 = ran.clone();
            let h = gort::spawn(move || r2.store(true, Ordering::SeqCst));
            let deadline = Instant::now() + Duration::from_secs(20);
            while !ran.load(Ordering::SeqCst) {
                assert!(Instant::now() < deadline, "the runnext G was never taken");
                std::hint::spin_loop();
            }
            h.join().unwrap();
        }
    })
    .join()
    .unwrap();
});

// Global-queue fairness: with 1 P, a G that keeps its local queue full (spawning and yielding
// forever) must not starve a G readied from outside (the global queue), thanks to the 1-in-61
// global check.
child_test!(fn global_queue_is_not_starved() ["GORT_MAXPROCS" => "1"] {
    let stop = Arc::new(AtomicBool::new(false));
    let s2 = stop.clone();
    let hog = gort::spawn(move || {
        while !s2.load(Ordering::SeqCst) {
            drop(gort::spawn(gort::yield_now));
            gort::yield_now();
        }
    });
    // Give the hog time to fill its queue, then ready a G from this plain thread.
    std::thread::sleep(Duration::from_millis(50));
    let t = Instant::now();
    let s3 = stop.clone();
    let outsider = gort::spawn(move || s3.store(true, Ordering::SeqCst));
    outsider.join().unwrap();
    hog.join().unwrap();
    assert!(t.elapsed() < Duration::from_secs(10));
});

// With one P, Gs that only yield to each other take the scheduler's shortcut (sched.rs,
// `yield_swap`); a G sleeping on this P's timers and a G readied from a plain thread must still
// run while they do (a hang here is the failure; the deadline only bounds it).
child_test!(fn yielding_gs_let_timers_and_outside_readies_run() ["GORT_MAXPROCS" => "1"] {
    let stop = Arc::new(AtomicBool::new(false));
    let yielders: Vec<_> = (0..2)
        .map(|_| {
            let stop = stop.clone();
            gort::spawn(move || {
                let deadline = Instant::now() + Duration::from_secs(60);
                while !stop.load(Ordering::SeqCst) {
                    assert!(Instant::now() < deadline, "starved while Gs yield");
                    gort::yield_now();
                }
            })
        })
        .collect();
    let sleeper = gort::spawn(|| {
        for _ in 0..3 {
            gort::sleep(Duration::from_millis(2));
        }
    });
    sleeper.join().unwrap();
    let (tx, rx) = gort::chan::bounded::<u32>(0);
    let receiver = gort::spawn(move || rx.recv().unwrap());
    std::thread::sleep(Duration::from_millis(10));
    tx.send(7).unwrap();
    assert_eq!(receiver.join().unwrap(), 7);
    stop.store(true, Ordering::SeqCst);
    for y in yielders {
        y.join().unwrap();
    }
});

// num_goroutine() is exact before, during and after a burst (in a child: no other test's Gs).
child_test!(fn num_goroutine_is_exact() [] {
    assert_eq!(gort::num_goroutine(), 0);
    let release = Arc::new(AtomicBool::new(false));
    let started = Arc::new(AtomicUsize::new(0));
    let hs: Vec<_> = (0..1_000)
        .map(|_| {
            let (r, s) = (release.clone(), started.clone());
            gort::spawn(move || {
                s.fetch_add(1, Ordering::SeqCst);
                while !r.load(Ordering::SeqCst) {
                    gort::sleep(Duration::from_millis(1));
                }
            })
        })
        .collect();
    assert_eq!(gort::num_goroutine(), 1_000);
    while started.load(Ordering::SeqCst) < 1_000 {
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(gort::num_goroutine(), 1_000);
    release.store(true, Ordering::SeqCst);
    for h in hs {
        h.join().unwrap();
    }
    assert_eq!(gort::num_goroutine(), 0);
});

#[test]
fn join_from_thread_and_from_g() {
    let h = gort::spawn(|| 7);
    assert_eq!(h.join().unwrap(), 7);
    let outer = gort::spawn(|| {
        let inner = gort::spawn(|| {
            gort::sleep(Duration::from_millis(5));
            8
        });
        inner.join().unwrap()
    });
    assert_eq!(outer.join().unwrap(), 8);
    // A plain thread joining a G that finished long ago, and one that has not started.
    let done = gort::spawn(|| 1);
    std::thread::sleep(Duration::from_millis(10));
    assert!(done.is_finished());
    let t = std::thread::spawn(move || done.join().unwrap());
    assert_eq!(t.join().unwrap(), 1);
}

#[test]
fn nested_spawns() {
    fn tree(depth: u32) -> u64 {
        if depth == 0 {
            return 1;
        }
        let hs: Vec<_> = (0..3)
            .map(|_| gort::spawn(move || tree(depth - 1)))
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).sum()
    }
    assert_eq!(gort::spawn(|| tree(6)).join().unwrap(), 729);
}

#[test]
fn panic_propagates_to_join_and_others_go_on() {
    let bad = gort::Builder::new()
        .name("doomed")
        .spawn(|| -> u32 { panic!("deliberate") })
        .unwrap();
    let good: Vec<_> = (0..100).map(|i| gort::spawn(move || i)).collect();
    let err = bad.join().unwrap_err();
    assert_eq!(err.downcast_ref::<&str>(), Some(&"deliberate"));
    assert_eq!(
        good.into_iter().map(|h| h.join().unwrap()).sum::<i32>(),
        4950
    );
    // The runtime still works after the panic.
    assert_eq!(gort::spawn(|| 5).join().unwrap(), 5);
}

// An unjoined panic is printed with the G's id and name.
child_test!(fn unjoined_panic_names_the_g() [] {
    let h = gort::Builder::new().name("worker").spawn(|| panic!("oops")).unwrap();
    let id = h.id();
    drop(h);
    std::thread::sleep(Duration::from_millis(200));
    println!("PANICKED_ID={id}");
});

#[test]
fn unjoined_panic_message() {
    if common::is_child() {
        return;
    }
    let out = common::child_ok("unjoined_panic_names_the_g", &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let id = stdout
        .lines()
        .find_map(|l| l.split("PANICKED_ID=").nth(1))
        .expect("child printed no id");
    let want = format!("green thread {id} 'worker' panicked at");
    assert!(stderr.contains(&want), "stderr lacks {want:?}:\n{stderr}");
    assert!(stderr.contains("oops"), "{stderr}");
}

#[test]
fn builder_name_and_current() {
    let h = gort::Builder::new()
        .name("named-g")
        .stack_size(64 * 1024)
        .spawn(|| {
            (
                gort::current().id(),
                gort::current().name().map(String::from),
            )
        })
        .unwrap();
    let id = h.id();
    let (seen_id, name) = h.join().unwrap();
    assert_eq!(seen_id, id);
    assert_eq!(name.as_deref(), Some("named-g"));
    assert_eq!(gort::current().id(), 0, "a plain thread is not a G");
    assert!(!gort::in_green_thread());
    assert!(gort::spawn(gort::in_green_thread).join().unwrap());
}

#[test]
fn ids_are_unique() {
    let hs: Vec<_> = (0..5_000)
        .map(|_| gort::spawn(|| gort::current().id()))
        .collect();
    let ids: HashSet<u64> = hs.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(ids.len(), 5_000);
    assert!(!ids.contains(&0));
}

// Repeated rounds of 1,000,000 spawn/join keep RSS flat (no leak of stacks or G records).
// glibc keeps freed heap memory cached and fragmented (RSS wanders by ~100 MiB between rounds
// with nothing leaked), so each measurement first asks it to return what it caches
// (`malloc_trim`): what remains is what the program and the runtime actually hold.
child_test!(fn rounds_of_a_million_keep_rss_flat() [] {
    let round = || {
        let hs: Vec<_> = (0..1_000_000u64).map(|i| gort::spawn(move || i)).collect();
        let s: u64 = hs.into_iter().map(|h| h.join().unwrap()).sum();
        assert_eq!(s, 1_000_000 * 999_999 / 2);
    };
    round();
    round();
    let after_first = common::rss_trimmed();
    for _ in 0..2 {
        round();
    }
    let after_third = common::rss_trimmed();
    assert_eq!(gort::num_goroutine(), 0);
    eprintln!(
        "RSS after round 2: {after_first} bytes, after round 4: {after_third} bytes; {}",
        gort_runtime::stack::stats()
    );
    assert!(
        // Two more rounds of 1,000,000 Gs: a leak of even 32 bytes per G would add 64 MiB; the
        // allocator's own wandering (measured: 7-25 MiB after trimming) stays well below.
        after_third <= after_first + after_first / 4 + (40 << 20),
        "RSS grew from {after_first} to {after_third} bytes over two more rounds"
    );
});

// A stack overflow in a G gives the named message and aborts (never a bare segfault). The
// crashing body runs only in the child started by `stack_overflow_is_reported_by_name`.
#[test]
fn overflow_child() {
    if !common::is_child() {
        return;
    }
    #[allow(unconditional_recursion)]
    fn recurse(n: u64) -> u64 {
        let buf = std::hint::black_box([n; 64]);
        recurse(buf[3] + 1) + buf[5]
    }
    let h = gort::Builder::new()
        .name("deep")
        .stack_size(64 * 1024)
        .spawn(|| recurse(0))
        .unwrap();
    let _ = h.join();
}

#[test]
fn stack_overflow_is_reported_by_name() {
    if common::is_child() {
        return;
    }
    let out = common::run_child("overflow_child", &[]);
    assert!(!out.status.success());
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(
        out.status.signal(),
        Some(libc_sigabrt()),
        "{:?}",
        out.status
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("'deep' has overflowed its stack (64 KiB); raise it with Builder::stack_size or GORT_STACK_SIZE"),
        "{stderr}"
    );
}

fn libc_sigabrt() -> i32 {
    6
}

// Invalid environment values give one warning naming the variable and the value used.
child_test!(fn bad_env_child() ["GORT_MAXPROCS" => "zero", "GORT_STACK_SIZE" => "1", "GORT_DEBUG" => "bogus=1"] {
    assert!(gort::maxprocs() >= 1);
    assert_eq!(gort::spawn(|| 3).join().unwrap(), 3);
});

#[test]
fn bad_env_warns() {
    if common::is_child() {
        return;
    }
    let out = common::child_ok(
        "bad_env_child",
        &[
            ("GORT_MAXPROCS", "zero"),
            ("GORT_STACK_SIZE", "1"),
            ("GORT_DEBUG", "bogus=1"),
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    for var in ["GORT_MAXPROCS", "GORT_STACK_SIZE", "GORT_DEBUG"] {
        assert_eq!(
            stderr.lines().filter(|l| l.contains(var)).count(),
            1,
            "one warning for {var}:\n{stderr}"
        );
    }
    assert!(stderr.contains("using"), "{stderr}");
}

// schedtrace prints Go-format SCHED lines; scheddetail adds P, M and G lines.
child_test!(fn schedtrace_child() ["GORT_MAXPROCS" => "2", "GORT_DEBUG" => "schedtrace=20,scheddetail=1"] {
    let h = gort::Builder::new()
        .name("sleeper")
        .spawn(|| gort::sleep(Duration::from_millis(150)))
        .unwrap();
    h.join().unwrap();
});

#[test]
fn schedtrace_format() {
    if common::is_child() {
        return;
    }
    let out = common::child_ok(
        "schedtrace_child",
        &[
            ("GORT_MAXPROCS", "2"),
            ("GORT_DEBUG", "schedtrace=20,scheddetail=1"),
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    let sched: Vec<&str> = stderr.lines().filter(|l| l.starts_with("SCHED ")).collect();
    assert!(sched.len() >= 3, "{stderr}");
    // The first line comes at start-up, before the first 20 ms period ends ("SCHED 0ms" on a
    // quiet machine; a few ms under an emulator such as CI's qemu-aarch64).
    let first_ms: u64 = sched[0]
        .strip_prefix("SCHED ")
        .and_then(|r| r.split_once("ms: gomaxprocs=2 idleprocs="))
        .and_then(|(ms, _)| ms.parse().ok())
        .unwrap_or_else(|| panic!("{}", sched[0]));
    assert!(first_ms < 20, "{}", sched[0]);
    for l in &sched {
        let fields = [
            "gomaxprocs=",
            " idleprocs=",
            " threads=",
            " spinningthreads=",
            " needspinning=",
            " idlethreads=",
            " runqueue=",
            " gcwaiting=false nmidlelocked=0 stopwait=0 sysmonwait=false",
        ];
        let mut at = 0;
        for f in fields {
            let i = l[at..]
                .find(f)
                .unwrap_or_else(|| panic!("{f:?} missing or out of order in {l}"));
            at += i + f.len();
        }
    }
    assert!(
        stderr.lines().any(|l| l.starts_with("  P0: status=")),
        "{stderr}"
    );
    assert!(
        stderr.lines().any(|l| l.starts_with("  M1: p=")),
        "{stderr}"
    );
    assert!(
        stderr.lines().any(|l| l.starts_with("  G")
            && l.contains("status=4(sleep)")
            && l.contains("sleeper")),
        "no waiting G line:\n{stderr}"
    );
}

child_test!(fn schedtrace_summary_child() ["GORT_MAXPROCS" => "2", "GORT_DEBUG" => "schedtrace=20"] {
    gort::spawn(|| gort::sleep(Duration::from_millis(80))).join().unwrap();
});

#[test]
fn schedtrace_summary_format() {
    if common::is_child() {
        return;
    }
    let out = common::child_ok(
        "schedtrace_summary_child",
        &[("GORT_MAXPROCS", "2"), ("GORT_DEBUG", "schedtrace=20")],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = stderr
        .lines()
        .find(|l| l.starts_with("SCHED "))
        .expect("no SCHED line");
    // SCHED 0ms: gomaxprocs=2 idleprocs=2 threads=1 spinningthreads=0 needspinning=0 idlethreads=0 runqueue=0 [ 0 0 ] schedticks=[ 0 0 ]
    let re_ok = line.contains(": gomaxprocs=2 idleprocs=")
        && line.contains(" runqueue=")
        && line.contains(" [ ")
        && line.contains(" ] schedticks=[ ")
        && line.ends_with(" ]");
    assert!(re_ok, "{line}");
    let brackets = line
        .split(" [ ")
        .nth(1)
        .unwrap()
        .split(" ]")
        .next()
        .unwrap();
    assert_eq!(brackets.split_whitespace().count(), 2, "{line}");
}

// Gs spawned from a plain thread wait in the global queue without a G record (sched.rs,
// `FreshG`); they must not starve behind Gs that keep yielding (each yield goes through the
// global queue too), and they keep their names and stack sizes.
child_test!(fn plain_thread_spawns_run_beside_yielding_gs() ["GORT_MAXPROCS" => "1"] {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let stop = Arc::new(AtomicBool::new(false));
    let yielders: Vec<_> = (0..2)
        .map(|_| {
            let stop = stop.clone();
            gort::spawn(move || {
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    gort::yield_now();
                    n += 1;
                }
                n
            })
        })
        .collect();
    for i in 0..200u32 {
        let h = gort::Builder::new()
            .name(format!("fresh{i}"))
            .stack_size(64 << 10)
            .spawn(move || (i, gort::current().name().map(String::from)))
            .unwrap();
        assert_eq!(h.join().unwrap(), (i, Some(format!("fresh{i}"))));
    }
    stop.store(true, Ordering::Relaxed);
    for y in yielders {
        assert!(y.join().unwrap() > 0);
    }
});

// Task cells come from a block pool and are reused (task.rs): a `JoinHandle` must keep its own
// cell alive, whatever churn reuses the blocks around it. Here handles are held while many
// rounds of other Gs (joined and detached, with results of the same size class) come and go
// on every P and on plain threads, then joined out of order: each returns its own G's result,
// and `id()` stays its own G's id.
#[test]
fn join_handles_survive_task_block_reuse() {
    let held: Vec<(u64, gort::JoinHandle<(u64, u64)>)> = (0..200u64)
        .map(|i| {
            let h = gort::spawn(move || (i, gort::current().id()));
            (i, h)
        })
        .collect();
    for round in 0..20u64 {
        // Joined churn, from a G (the spawner's P) ...
        let churn = gort::spawn(move || {
            let hs: Vec<_> = (0..500u64)
                .map(|j| gort::spawn(move || (round, j)))
                .collect();
            for (j, h) in hs.into_iter().enumerate() {
                assert_eq!(h.join().unwrap(), (round, j as u64));
            }
        });
        // ... detached churn from a plain thread (its blocks freed on the Gs' Ms) ...
        let t = std::thread::spawn(move || {
            for j in 0..500u64 {
                drop(gort::spawn(move || (round, j)));
            }
        });
        churn.join().unwrap();
        t.join().unwrap();
    }
    // Joined in reverse, from a plain thread: every handle still sees its own G.
    for (i, h) in held.into_iter().rev() {
        assert!(h.is_finished(), "G {i} long finished");
        let id = h.id();
        assert_eq!(h.join().unwrap(), (i, id));
    }
}

// A handle joined from a different thread than the one that spawned it, while the spawning
// thread ends: the block outlives its allocating thread's free list (which ends with it).
#[test]
fn a_task_outlives_the_thread_that_made_it() {
    let hs = std::thread::spawn(|| {
        (0..1000u64)
            .map(|i| gort::spawn(move || i * 3))
            .collect::<Vec<_>>()
    })
    .join()
    .unwrap();
    let sum: u64 = gort::spawn(move || hs.into_iter().map(|h| h.join().unwrap()).sum())
        .join()
        .unwrap();
    assert_eq!(sum, 3 * 999 * 1000 / 2);
}
