//! synctest bubbles: Go's `testing/synctest` behaviour, ported from Go 1.27's
//! `src/internal/synctest/synctest_test.go` (test names kept, `Test` dropped, snake-cased; the
//! assertions are Go's), plus gort's own: virtual deadlines of channels, contexts, condvars and
//! sockets, panics, locked and unwinding green threads, seeded replay, `GORT_SEED`, and
//! `#[gort::test]`.

mod common;

use gort::synctest::{self, wait};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::{Duration, Instant};

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// The panic message of a failed call.
fn panic_message(f: impl FnOnce() + std::panic::UnwindSafe) -> String {
    let p = std::panic::catch_unwind(f).expect_err("expected a panic");
    match p.downcast::<String>() {
        Ok(s) => *s,
        Err(p) => p
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .unwrap_or_default(),
    }
}

// ---- Go's internal/synctest tests ------------------------------------------------------------

/// TestNow: the clock starts at a fixed instant (the same in every bubble), new green threads
/// see it, and it advances after a sleep.
#[test]
fn now() {
    let starts = Arc::new(StdMutex::new(Vec::new()));
    for _ in 0..2 {
        let s = starts.clone();
        synctest::test(move || {
            let start = gort::time::now();
            s.lock().unwrap().push(start);
            let child = gort::spawn(gort::time::now);
            // New goroutines see the same fake clock.
            assert_eq!(child.join().unwrap(), start);
            // Time advances after a sleep.
            gort::sleep(secs(1));
            assert_eq!(gort::time::now(), start + secs(1));
        });
    }
    let s = starts.lock().unwrap();
    assert_eq!(s[0], s[1], "every bubble starts at the same instant");
}

/// TestRunEmpty.
#[test]
fn run_empty() {
    synctest::test(|| {});
}

/// TestSimpleWait.
#[test]
fn simple_wait() {
    synctest::test(wait);
}

/// TestGoroutineWait.
#[test]
fn goroutine_wait() {
    synctest::test(|| {
        let _ = gort::spawn(|| {});
        wait();
    });
}

/// A chain of `n` green threads handing a counter down a channel; `done` once it reaches 0.
fn chain(n: usize) {
    let done = Arc::new(AtomicBool::new(false));
    let (tx, rx) = gort::chan::bounded::<usize>(0);
    fn f(tx: gort::chan::Sender<usize>, rx: gort::chan::Receiver<usize>, done: Arc<AtomicBool>) {
        let count = rx.recv().unwrap();
        if count == 0 {
            done.store(true, SeqCst);
        } else {
            let (t2, r2, d2) = (tx.clone(), rx.clone(), done.clone());
            let _ = gort::spawn(move || f(t2, r2, d2));
            tx.send(count - 1).unwrap();
        }
    }
    let (t2, r2, d2) = (tx.clone(), rx.clone(), done.clone());
    let _ = gort::spawn(move || f(t2, r2, d2));
    tx.send(n).unwrap();
    wait();
    assert!(done.load(SeqCst), "done = false, want true");
}

/// TestWait: wait returns only once the whole chain has run.
#[test]
fn wait_for_a_chain() {
    synctest::test(|| chain(100));
}

/// TestMallocs: the same, in 100 bubbles one after another.
#[test]
fn mallocs() {
    for _ in 0..100 {
        synctest::test(|| chain(100));
    }
}

/// TestTimerReadBeforeDeadline.
#[test]
fn timer_read_before_deadline() {
    synctest::test(|| {
        let start = gort::time::now();
        let tm = gort::time::Timer::new(secs(5));
        tm.receiver().recv().unwrap();
        assert_eq!(gort::time::now() - start, secs(5));
    });
}

/// TestTimerReadAfterDeadline: the value is the instant the timer was due.
#[test]
fn timer_read_after_deadline() {
    synctest::test(|| {
        let delay = secs(1);
        let want = gort::time::now() + delay;
        let tm = gort::time::Timer::new(delay);
        gort::sleep(2 * delay);
        assert_eq!(tm.receiver().recv().unwrap(), want);
    });
}

/// TestTimerReset.
#[test]
fn timer_reset() {
    synctest::test(|| {
        let start = gort::time::now();
        let tm = gort::time::Timer::new(secs(1));
        assert_eq!(tm.receiver().recv().unwrap(), start + secs(1));
        tm.reset(secs(2));
        assert_eq!(tm.receiver().recv().unwrap(), start + secs(1 + 2));
        tm.reset(secs(3));
        gort::sleep(secs(1));
        tm.reset(secs(3));
        assert_eq!(tm.receiver().recv().unwrap(), start + secs(1 + 2 + 4));
    });
}

/// TestTimeAfter: an after-func's green thread and the green threads it starts belong to the
/// bubble (they run on its clock, and wait sees them).
#[test]
fn time_after_func_membership() {
    synctest::test(|| {
        let i = Arc::new(AtomicU32::new(0));
        let i2 = i.clone();
        let _t = gort::time::after_func(secs(1), move || {
            i2.fetch_add(1, SeqCst); // 1
            let i3 = i2.clone();
            let _ = gort::spawn(move || {
                gort::sleep(secs(1));
                i3.fetch_add(1, SeqCst); // 2
            });
        });
        gort::sleep(secs(3));
        wait();
        assert_eq!(i.load(SeqCst), 2);
    });
}

/// TestTimerAfterBubbleExit: a bubble ends when its green threads do; a pending after-func
/// never runs.
#[test]
fn timer_after_bubble_exit() {
    let run = Arc::new(AtomicBool::new(false));
    let r = run.clone();
    synctest::test(move || {
        let _t = gort::time::after_func(secs(1), move || r.store(true, SeqCst));
    });
    assert!(!run.load(SeqCst), "timer ran before bubble exit");
}

/// TestTimerFromOutsideBubble: a timer made outside runs on the real clock; a bubble green
/// thread waiting for it is not durably blocked, so the bubble waits.
#[test]
fn timer_from_outside_bubble() {
    let tm = gort::time::Timer::new(Duration::from_millis(10));
    let rx = tm.receiver().clone();
    let t = Instant::now();
    synctest::test(move || {
        rx.recv().unwrap();
    });
    assert!(t.elapsed() >= Duration::from_millis(10));
    assert!(!tm.stop(), "synctest::test returned before the timer fired");
}

/// TestTimerNondeterminism: timers due at the same instant do not always fire in the same
/// order.
#[test]
fn timer_nondeterminism() {
    synctest::test(|| {
        let (mut seen1, mut seen2) = (false, false);
        for _ in 0..1000 {
            let tm1 = gort::time::Timer::new(Duration::from_nanos(1));
            let tm2 = gort::time::Timer::new(Duration::from_nanos(1));
            gort::select! {
                recv(tm1.receiver()) -> _ => seen1 = true,
                recv(tm2.receiver()) -> _ => seen2 = true,
            }
            if seen1 && seen2 {
                return;
            }
            wait();
        }
        panic!("after 1000 iterations, seen timer1: {seen1}, timer2: {seen2}; want both");
    });
}

/// TestSleepNondeterminism: green threads sleeping to the same instant do not always run in
/// the same order.
#[test]
fn sleep_nondeterminism() {
    synctest::test(|| {
        let (mut seen1, mut seen2) = (false, false);
        for _ in 0..1000 {
            let first = Arc::new(AtomicI32::new(0));
            for v in [1, 2] {
                let f = first.clone();
                let _ = gort::spawn(move || {
                    gort::sleep(Duration::from_nanos(1));
                    let _ = f.compare_exchange(0, v, SeqCst, SeqCst);
                });
            }
            gort::sleep(Duration::from_nanos(1));
            wait();
            match first.load(SeqCst) {
                1 => seen1 = true,
                2 => seen2 = true,
                v => panic!("first = {v}, want 1 or 2"),
            }
            if seen1 && seen2 {
                return;
            }
            wait();
        }
        panic!("after 1000 iterations, seen goroutine 1: {seen1}, 2: {seen2}; want both");
    });
}

/// TestTimerRunsImmediately: a zero-duration timer's channel is readable at once.
#[test]
fn timer_runs_immediately() {
    synctest::test(|| {
        let start = gort::time::now();
        let tm = gort::time::Timer::new(Duration::ZERO);
        gort::select! {
            recv(tm.receiver()) -> got => assert_eq!(got.unwrap(), start),
            default => panic!("0-duration timer channel is not readable; want it to be"),
        }
    });
}

/// TestTimerRanInPast: a receive gets the instant the timer fired, though that is past.
#[test]
fn timer_ran_in_past() {
    synctest::test(|| {
        let delay = secs(1);
        let want = gort::time::now() + delay;
        let tm = gort::time::Timer::new(delay);
        gort::sleep(2 * delay);
        gort::select! {
            recv(tm.receiver()) -> got => assert_eq!(got.unwrap(), want),
            default => panic!("timer channel is not readable; want it to be"),
        }
    });
}

/// TestAfterFuncRunsImmediately: a zero-duration after-func runs without waiting for the
/// bubble to block.
#[test]
fn after_func_runs_immediately() {
    synctest::test(|| {
        let b = Arc::new(AtomicBool::new(false));
        let b2 = b.clone();
        let _t = gort::time::after_func(Duration::ZERO, move || b2.store(true, SeqCst));
        while !b.load(SeqCst) {
            gort::yield_now();
        }
    });
}

/// TestTimerResetZeroDoNotHang (go.dev/issue/76052).
#[test]
fn timer_reset_zero_do_not_hang() {
    synctest::test(|| {
        let timer = Arc::new(gort::time::Timer::new(Duration::ZERO));
        let (ctx, cancel) = gort::context::with_cancel(&gort::context::background());
        let t2 = timer.clone();
        let _ = gort::spawn(move || loop {
            gort::select! {
                recv(ctx.done()) -> _ => return,
                recv(t2.receiver()) -> _ => {}
            }
        });
        wait();
        timer.reset(Duration::ZERO);
        wait();
        drop(cancel);
        wait();
    });
}

/// TestChannelFromOutsideBubble: a bubble green thread blocked on a channel made outside (or a
/// select with an outside arm) is not durably blocked: the bubble waits for the outside.
#[test]
fn channel_from_outside_bubble() {
    type Inside = fn(gort::chan::Receiver<i32>, gort::chan::Sender<i32>);
    let cases: [(&str, Inside); 4] = [
        ("read value", |rx, _| {
            rx.recv().unwrap();
        }),
        ("write value", |_, tx| tx.send(0).unwrap()),
        ("select outside only", |rx, _| {
            let (_keep, never) = gort::chan::bounded::<()>(0);
            gort::select! {
                recv(rx) -> _ => {},
                recv(never) -> _ => {},
            }
        }),
        ("select mixed", |rx, _| {
            let (_keep, inside) = gort::chan::bounded::<()>(0); // made in the bubble
            gort::select! {
                recv(rx) -> _ => {},
                recv(inside) -> _ => {},
            }
        }),
    ];
    for (desc, inside) in cases {
        // The outside: a plain thread that, after 1 ms of real time, sends (or receives).
        let (in_tx, in_rx) = gort::chan::bounded::<i32>(0); // outside -> inside
        let (out_tx, out_rx) = gort::chan::bounded::<i32>(0); // inside -> outside
        let outside = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(1));
            if desc == "write value" {
                out_rx.recv().unwrap();
            } else {
                in_tx.send(0).unwrap();
            }
        });
        synctest::test(move || inside(in_rx, out_tx));
        outside.join().unwrap();
    }
}

/// TestChannelMovedOutOfBubble / different_bubble: a bubble's channel used from outside while
/// the bubble lives is an error (Go: fatal; gort: a panic in the caller).
#[test]
fn channel_moved_out_of_bubble() {
    let (out_tx, out_rx) = gort::chan::bounded::<gort::chan::Receiver<()>>(0);
    let (release_tx, release_rx) = gort::chan::bounded::<()>(0);
    let outsider = gort::spawn(move || {
        let c = out_rx.recv().unwrap();
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| c.recv()));
        release_tx.send(()).unwrap();
        r.map(|_| ())
            .map_err(|p| p.downcast_ref::<String>().cloned().unwrap_or_default())
    });
    synctest::test(move || {
        let (keep, inner) = gort::chan::bounded::<()>(0);
        out_tx.send(inner).unwrap();
        release_rx.recv().unwrap(); // an outside channel: the bubble waits for the outsider
        drop(keep);
    });
    let err = outsider.join().unwrap().unwrap_err();
    assert!(
        err.contains("receive on a channel or timer of a synctest bubble from outside"),
        "{err}"
    );
}

/// TestTimerFromInsideBubble: resetting or stopping a bubble's timer from outside it panics.
#[test]
fn timer_from_inside_bubble() {
    for op in ["reset", "stop"] {
        let (out_tx, out_rx) = gort::chan::bounded::<Arc<gort::time::Timer>>(0);
        let (release_tx, release_rx) = gort::chan::bounded::<()>(0);
        let outsider = gort::spawn(move || {
            let tm = out_rx.recv().unwrap();
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                if op == "reset" {
                    tm.reset(secs(1));
                } else {
                    tm.stop();
                }
            }));
            release_tx.send(()).unwrap();
            r.err()
                .and_then(|p| p.downcast_ref::<String>().cloned())
                .unwrap_or_default()
        });
        synctest::test(move || {
            let tm = Arc::new(gort::time::Timer::new(secs(1)));
            out_tx.send(tm.clone()).unwrap();
            release_rx.recv().unwrap();
        });
        let err = outsider.join().unwrap();
        assert!(
            err.contains(&format!("{op} of a channel or timer of a synctest bubble")),
            "{op}: {err:?}"
        );
    }
}

/// TestDeadlockRoot.
#[test]
fn deadlock_root() {
    let msg = panic_message(|| synctest::test(|| gort::chan::never::<()>().recv().unwrap()));
    assert!(
        msg.contains("deadlock: all goroutines in bubble are blocked"),
        "{msg}"
    );
    assert!(
        msg.contains("goroutine #0 (root) [chan receive (durable)]"),
        "{msg}"
    );
    assert!(
        msg.contains("GORT_SEED="),
        "the failure names its seed: {msg}"
    );
}

/// TestDeadlockChild.
#[test]
fn deadlock_child() {
    let msg = panic_message(|| {
        synctest::test(|| {
            let _ = gort::Builder::new()
                .name("stuck")
                .spawn(|| gort::chan::never::<()>().recv().unwrap());
        })
    });
    assert!(
        msg.contains("deadlock: main bubble goroutine has exited but blocked goroutines remain"),
        "{msg}"
    );
    assert!(
        msg.contains("goroutine #1 'stuck' [chan receive (durable)]"),
        "{msg}"
    );
}

/// TestDeadlockTicker: a ticker keeps nothing alive once the root exited (the clock stops).
#[test]
fn deadlock_ticker() {
    let msg = panic_message(|| {
        synctest::test(|| {
            let _ = gort::spawn(|| {
                if gort::time::tick(secs(1)).recv().is_ok() {
                    panic!("ticker unexpectedly ran");
                }
            });
        })
    });
    assert!(
        msg.contains("deadlock: main bubble goroutine has exited but blocked goroutines remain"),
        "{msg}"
    );
}

/// TestCond: Condvar waits are durably blocking; signal and broadcast.
#[test]
fn cond() {
    synctest::test(|| {
        let mu = Arc::new(gort::sync::Mutex::new(()));
        let cond = Arc::new(gort::sync::Condvar::new());
        let start = gort::time::now();
        let wait_time = Duration::from_millis(1);
        let (m2, c2) = (mu.clone(), cond.clone());
        let _ = gort::spawn(move || {
            gort::sleep(wait_time);
            let g = m2.lock();
            c2.notify_one();
            drop(g);
            gort::sleep(wait_time);
            let g = m2.lock();
            c2.notify_all();
            drop(g);
        });
        let g = mu.lock();
        drop(cond.wait(g));
        assert_eq!(gort::time::now() - start, wait_time, "after notify_one");
        let waiter_done = Arc::new(AtomicBool::new(false));
        let (m3, c3, w3) = (mu.clone(), cond.clone(), waiter_done.clone());
        let _ = gort::spawn(move || {
            let g = m3.lock();
            drop(c3.wait(g));
            w3.store(true, SeqCst);
        });
        let g = mu.lock();
        drop(cond.wait(g));
        wait();
        assert!(
            waiter_done.load(SeqCst),
            "after notify_all: waiter not done"
        );
        assert_eq!(gort::time::now() - start, 2 * wait_time, "after notify_all");
    });
}

/// TestWaitGroupInBubble.
#[test]
fn wait_group_in_bubble() {
    synctest::test(|| {
        let wg = Arc::new(gort::sync::WaitGroup::new());
        wg.add(1);
        let delay = secs(1);
        let w2 = wg.clone();
        let _ = gort::spawn(move || {
            gort::sleep(delay);
            w2.done();
        });
        let start = gort::time::now();
        wg.wait();
        assert_eq!(gort::time::now() - start, delay);
    });
}

/// TestWaitGroupRacingAdds.
#[test]
fn wait_group_racing_adds() {
    synctest::test(|| {
        let wg = Arc::new(gort::sync::WaitGroup::new());
        for _ in 0..100 {
            wg.go(|| {});
        }
        wg.wait();
    });
}

/// TestWaitGroupOutOfBubble: a WaitGroup of the outside is not durably blocking: the bubble
/// waits for the outside's `done`.
#[test]
fn wait_group_out_of_bubble() {
    let wg = Arc::new(gort::sync::WaitGroup::new());
    wg.add(1);
    let (done_tx, done_rx) = gort::chan::bounded::<()>(1);
    let w2 = wg.clone();
    let bubble = std::thread::spawn(move || {
        synctest::test(move || {
            w2.wait();
            done_tx.send(()).unwrap();
        })
    });
    gort::select! {
        recv(done_rx) -> _ => panic!("synctest::test finished before WaitGroup::done"),
        default(Duration::from_millis(1)) => {}
    }
    wg.done();
    done_rx.recv().unwrap();
    bubble.join().unwrap();
}

/// TestWaitGroupManyBubbles (10 bubbles of 10 here, at once, from green threads).
#[test]
fn wait_group_many_bubbles() {
    let wg = Arc::new(gort::sync::WaitGroup::new());
    for _ in 0..10 {
        wg.go(|| {
            synctest::test(|| {
                let (cancel_tx, cancel_rx) = gort::chan::bounded::<()>(0);
                let wg2 = Arc::new(gort::sync::WaitGroup::new());
                for _ in 0..10 {
                    let c = cancel_rx.clone();
                    wg2.go(move || {
                        let _ = c.recv();
                    });
                }
                wait();
                drop(cancel_tx);
                wg2.wait();
            })
        });
    }
    wg.wait();
}

/// TestHappensBefore: wait, after-funcs and the end of a bubble order memory as Go's do.
#[test]
fn happens_before() {
    let v1 = Arc::new(AtomicUsize::new(0));
    let v2 = Arc::new(AtomicUsize::new(0));
    let (a, b) = (v1.clone(), v2.clone());
    let inc = |v: &Arc<AtomicUsize>| {
        v.fetch_add(1, SeqCst);
    };
    synctest::test(move || {
        let inc = |v: &Arc<AtomicUsize>| {
            v.fetch_add(1, SeqCst);
        };
        inc(&a); // 1
        inc(&b);
        let (a2, b2) = (a.clone(), b.clone());
        let _ = gort::spawn(move || inc(&a2)); // 2
        let _ = gort::spawn(move || inc(&b2));
        wait();
        inc(&a); // 3
        inc(&b);
        let (keep, ch1) = gort::chan::bounded::<()>(0);
        for v in [a.clone(), b.clone()] {
            let c = ch1.clone();
            let _ = gort::spawn(move || {
                inc(&v); // 4
                let _ = c.recv();
            });
        }
        wait();
        inc(&a); // 5
        inc(&b);
        drop(keep);
        for v in [a.clone(), b.clone()] {
            let _t = gort::time::after_func(Duration::ZERO, move || inc(&v)); // 6
        }
        wait();
        inc(&a); // 7
        inc(&b);
        let (keep2, ch2) = gort::chan::bounded::<()>(0);
        for v in [a.clone(), b.clone()] {
            let c = ch2.clone();
            let _t = gort::time::after_func(Duration::ZERO, move || {
                inc(&v); // 8
                let _ = c.recv();
            });
        }
        wait();
        inc(&a); // 9
        inc(&b);
        drop(keep2);
    });
    let (a, b) = (v1.clone(), v2.clone());
    synctest::test(move || {
        let _ = gort::spawn(move || {
            let _ = gort::spawn(move || inc(&a)); // 10
        });
        let _ = gort::spawn(move || {
            let _ = gort::spawn(move || inc(&b));
        });
    });
    assert_eq!(v1.load(SeqCst), 10);
    assert_eq!(v2.load(SeqCst), 10);
}

// ---- gort's own --------------------------------------------------------------------------------

/// The clock moves only when every green thread is blocked: while one keeps running (yields),
/// a sleeper's timer does not fire.
#[test]
fn time_advances_only_when_all_are_blocked() {
    synctest::test(|| {
        let start = gort::time::now();
        let woke = Arc::new(AtomicBool::new(false));
        let w = woke.clone();
        let _ = gort::spawn(move || {
            gort::sleep(Duration::from_nanos(1));
            w.store(true, SeqCst);
        });
        for _ in 0..1000 {
            gort::yield_now(); // runnable all along: the clock stands still
            assert_eq!(gort::time::now(), start);
            assert!(!woke.load(SeqCst));
        }
        gort::sleep(Duration::from_nanos(1));
        wait();
        assert!(woke.load(SeqCst));
    });
}

/// Timers fire in the order of their instants, each at its instant.
#[test]
fn timers_fire_in_order() {
    synctest::test(|| {
        let start = gort::time::now();
        let order = Arc::new(StdMutex::new(Vec::new()));
        let hs: Vec<_> = [5u64, 1, 4, 2, 3]
            .into_iter()
            .map(|n| {
                let o = order.clone();
                gort::spawn(move || {
                    gort::sleep(secs(n));
                    o.lock().unwrap().push((n, gort::time::now() - start));
                })
            })
            .collect();
        hs.into_iter().for_each(|h| h.join().unwrap());
        let got = order.lock().unwrap().clone();
        assert_eq!(got, (1..=5).map(|n| (n, secs(n))).collect::<Vec<_>>());
    });
}

/// A 100 ms ticker over one virtual hour: 36,000 ticks, each on its instant, in well under a
/// second of wall time (the bound here is generous for a loaded machine; the benchmark
/// measures the speed).
#[test]
fn ticker_one_virtual_hour() {
    let t = Instant::now();
    synctest::test(|| {
        let tk = gort::time::Ticker::new(Duration::from_millis(100));
        let start = gort::time::now();
        for i in 1..=36_000u32 {
            let at = tk.receiver().recv().unwrap();
            assert_eq!(at, start + Duration::from_millis(100) * i);
        }
        assert_eq!(gort::time::now() - start, secs(3600));
    });
    let wall = t.elapsed();
    eprintln!("36,000 ticks of virtual time in {wall:?} of wall time");
    assert!(wall < Duration::from_secs(30), "{wall:?}");
}

/// wait() panics outside a bubble, and while another wait is in progress.
#[test]
fn wait_misuse_panics() {
    let msg = panic_message(wait);
    assert!(msg.contains("outside a synctest bubble"), "{msg}");
    // Two green threads call wait: whichever comes second panics, the first returns.
    synctest::test(|| {
        let hs: Vec<_> = (0..2)
            .map(|_| {
                gort::spawn(|| {
                    std::panic::catch_unwind(wait)
                        .err()
                        .and_then(|p| p.downcast_ref::<&str>().map(|s| s.to_string()))
                })
            })
            .collect();
        let msgs: Vec<_> = hs.into_iter().filter_map(|h| h.join().unwrap()).collect();
        assert_eq!(msgs.len(), 1, "{msgs:?}");
        assert!(msgs[0].contains("wait already in progress"), "{msgs:?}");
    });
}

/// Bubbles do not nest.
#[test]
fn nested_test_panics() {
    let msg = panic_message(|| synctest::test(|| synctest::test(|| {})));
    assert!(msg.contains("bubbles do not nest"), "{msg}");
}

/// Channel, context, condvar and select deadlines are on the virtual clock.
#[test]
fn deadlines_are_virtual() {
    let t = Instant::now();
    synctest::test(|| {
        let start = gort::time::now();
        let (_tx, rx) = gort::chan::bounded::<()>(0);
        assert!(rx.recv_timeout(secs(60)).is_err());
        assert_eq!(gort::time::now() - start, secs(60));
        let (ctx, _cancel) = gort::context::with_timeout(&gort::context::background(), secs(3600));
        let _ = ctx.done().recv();
        assert_eq!(ctx.err(), Some(gort::context::DeadlineExceeded));
        assert_eq!(gort::time::now() - start, secs(3660));
        let m = gort::sync::Mutex::new(());
        let cv = gort::sync::Condvar::new();
        let (_g, r) = cv.wait_timeout(m.lock(), secs(10));
        assert!(r.timed_out());
        let got = gort::select! {
            recv(rx) -> _ => false,
            default(secs(5)) => true,
        };
        assert!(got);
        assert_eq!(gort::time::now() - start, secs(3675));
    });
    assert!(t.elapsed() < secs(60), "virtual deadlines took real time");
}

/// Socket deadlines are on the virtual clock: one already past there times out at once, one
/// in the future does not (against the real clock, the virtual instants are all in the past).
/// I/O waits are not durable: the peer's write arrives through the netpoller.
#[test]
fn socket_deadlines_are_virtual() {
    synctest::test(|| {
        use std::io::{Read, Write};
        let l = gort::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let mut c = gort::net::TcpStream::connect(addr).unwrap();
        let (mut s, _) = l.accept().unwrap();
        s.set_read_deadline(Some(gort::time::now())).unwrap();
        let mut b = [0u8; 4];
        let e = s.read(&mut b).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::TimedOut);
        s.set_read_deadline(None).unwrap();
        s.set_read_timeout(Some(secs(5))).unwrap();
        c.write_all(b"ping").unwrap();
        s.read_exact(&mut b).unwrap();
        assert_eq!(&b, b"ping");
    });
}

/// gort locks are durably blocking (the rule): a green thread waiting for a Mutex held
/// by a sleeping one lets the clock move.
#[test]
fn mutex_wait_is_durable() {
    synctest::test(|| {
        let m = Arc::new(gort::sync::Mutex::new(0));
        let start = gort::time::now();
        let m2 = m.clone();
        let holder = gort::spawn(move || {
            let mut g = m2.lock();
            gort::sleep(secs(2));
            *g += 1;
        });
        gort::yield_now();
        while !m.is_locked() {
            gort::yield_now();
        }
        *m.lock() += 1;
        holder.join().unwrap();
        assert_eq!(*m.lock(), 2);
        assert_eq!(gort::time::now() - start, secs(2));
    });
}

/// The root's panic is the test's panic (its own payload); an unjoined panic of another green
/// thread fails the bubble; a joined one does not.
#[test]
fn panics() {
    let msg = panic_message(|| synctest::test(|| -> () { panic!("root says no") }));
    assert_eq!(msg, "root says no");
    let msg = panic_message(|| {
        synctest::test(|| {
            let _ = gort::spawn(|| panic!("child says no"));
        })
    });
    assert!(
        msg.contains("green thread #1 of the bubble panicked: child says no"),
        "{msg}"
    );
    synctest::test(|| {
        let h = gort::spawn(|| panic!("joined"));
        assert!(h.join().is_err());
    });
    let msg = panic_message(|| synctest::test(|| -> Result<(), String> { Err("bad".into()) }));
    assert!(msg.contains("the test returned an error: \"bad\""), "{msg}");
}

/// A green thread that blocks while unwinding is pinned to its OS thread (sched.rs, "Unwinding
/// Gs keep their M"): in a bubble the others go on on another thread, one at a time, and the
/// schedule still replays.
#[test]
fn unwinding_green_thread_keeps_its_thread_and_the_replay() {
    let run = || {
        struct SendOnDrop(gort::chan::Sender<std::thread::ThreadId>);
        impl Drop for SendOnDrop {
            fn drop(&mut self) {
                // Blocks (unbuffered) while the G unwinds.
                self.0.send(std::thread::current().id()).unwrap();
            }
        }
        let (tx, rx) = gort::chan::bounded(0);
        let h = gort::spawn(move || {
            let _guard = SendOnDrop(tx);
            let before = std::thread::current().id();
            panic!("{before:?}");
        });
        gort::sleep(secs(1)); // the panicking G blocks in its drop meanwhile
        let in_drop = rx.recv().unwrap();
        let err = h.join().unwrap_err();
        let before = err.downcast_ref::<String>().unwrap().clone();
        assert_eq!(
            format!("{in_drop:?}"),
            before,
            "the unwinding G changed threads"
        );
        let others = gort::spawn(std::thread::panicking).join().unwrap();
        assert!(!others, "another G saw the unwinding thread's panic state");
    };
    let a = synctest::test_seeded(3, run);
    let b = synctest::test_seeded(3, run);
    assert_eq!(a.schedule_hash(), b.schedule_hash());
}

/// lock_os_thread and pinned green threads work in a bubble: they keep their thread.
#[test]
fn locked_green_threads_in_a_bubble() {
    synctest::test(|| {
        let hs: Vec<_> = (0..3)
            .map(|i| {
                gort::Builder::new()
                    .pinned(i == 0)
                    .spawn(move || {
                        if i == 1 {
                            gort::lock_os_thread();
                        }
                        let t = std::thread::current().id();
                        for _ in 0..5 {
                            gort::sleep(secs(1));
                            if i < 2 {
                                assert_eq!(std::thread::current().id(), t);
                            }
                        }
                    })
                    .unwrap()
            })
            .collect();
        hs.into_iter().for_each(|h| h.join().unwrap());
    });
}

/// The same seed gives the same schedule (hash); some other seed gives another.
#[test]
fn seeded_schedules_replay() {
    let prog = || {
        let (tx, rx) = gort::chan::bounded(4);
        let hs: Vec<_> = (0..4)
            .map(|i| {
                let tx = tx.clone();
                gort::spawn(move || {
                    for j in 0..5 {
                        tx.send(i * 10 + j).unwrap();
                        gort::yield_now();
                    }
                })
            })
            .collect();
        drop(tx);
        let got: Vec<i32> = rx.iter().collect();
        hs.into_iter().for_each(|h| h.join().unwrap());
        got
    };
    let order = Arc::new(StdMutex::new(Vec::new()));
    let mut hashes = Vec::new();
    for seed in [1u64, 1, 2] {
        let o = order.clone();
        let r = synctest::test_seeded(seed, move || o.lock().unwrap().push(prog()));
        hashes.push(r.schedule_hash());
    }
    let order = order.lock().unwrap();
    assert_eq!(hashes[0], hashes[1]);
    assert_eq!(
        order[0], order[1],
        "the same seed gave different interleavings"
    );
    assert_ne!(hashes[0], hashes[2]);
}

/// `GORT_SEED` replays a failing schedule in a plain `cargo test` run: the child (this binary,
/// this test) runs `explore` with the seed a first run found and fails the same way.
#[test]
fn gort_seed_replays_in_cargo_test() {
    let bug = common::lost_update;
    if common::is_child() {
        // GORT_SEED is set: explore runs that one schedule.
        synctest::explore(synctest::ExploreOptions::default().iterations(1000), bug);
        return;
    }
    let fail = synctest::try_explore(
        synctest::ExploreOptions::default().iterations(1000).seed(7),
        bug,
    )
    .unwrap_err();
    assert!(fail
        .replay_command()
        .contains("--exact gort_seed_replays_in_cargo_test"));
    let seed = format!("{:#x}", fail.seed());
    let out = common::run_child("gort_seed_replays_in_cargo_test", &[("GORT_SEED", &seed)]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        !out.status.success(),
        "the replay passed:\n{stdout}\n{stderr}"
    );
    let all = format!("{stdout}{stderr}");
    assert!(all.contains("lost update"), "{all}");
    assert!(all.contains(&format!("GORT_SEED={seed}")), "{all}");
    assert!(
        all.contains(&format!(
            "schedule hash {:#018x}",
            fail.report().schedule_hash()
        )),
        "not the same schedule: {all}"
    );
    // A seed that is not a number is reported, not ignored.
    let out = common::run_child("gort_seed_replays_in_cargo_test", &[("GORT_SEED", "soon")]);
    let all = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(all.contains("GORT_SEED=\"soon\" is not a seed"), "{all}");
}

// ---- #[gort::test] ------------------------------------------------------------------------------

#[gort::test]
fn attribute_runs_the_body_in_a_green_thread() {
    assert_ne!(gort::current().id(), 0);
}

#[gort::test]
fn attribute_body_may_return_a_result() -> Result<(), String> {
    let (tx, rx) = gort::chan::bounded(1);
    tx.send(5).map_err(|e| e.to_string())?;
    assert_eq!(rx.recv(), Ok(5));
    Ok(())
}

#[gort::test(synctest)]
fn attribute_synctest_has_a_virtual_clock() {
    let start = gort::time::now();
    gort::sleep(secs(86_400));
    assert_eq!(gort::time::now() - start, secs(86_400));
}

#[gort::test(explore = 50)]
fn attribute_explore_runs_schedules() {
    let m = Arc::new(gort::sync::Mutex::new(0));
    let m2 = m.clone();
    let h = gort::spawn(move || *m2.lock() += 1);
    *m.lock() += 1;
    h.join().unwrap();
    assert_eq!(*m.lock(), 2);
}

#[gort::test(explore = 50, pct = 3, seed = 9)]
#[should_panic(expected = "under seed")]
fn attribute_explore_finds_a_lost_update() {
    let n = Arc::new(AtomicU32::new(0));
    let n2 = n.clone();
    let h = gort::spawn(move || {
        let v = n2.load(SeqCst);
        gort::yield_now();
        n2.store(v + 1, SeqCst);
    });
    let v = n.load(SeqCst);
    gort::yield_now();
    n.store(v + 1, SeqCst);
    h.join().unwrap();
    assert_eq!(n.load(SeqCst), 2);
}

/// Blocking calls in a bubble keep its private P on its thread (the other members wait: one
/// M), and a green thread spawned inside `blocking` is still a member (it runs on the clock).
#[test]
fn blocking_calls_in_a_bubble() {
    synctest::test(|| {
        let start = gort::time::now();
        let h = gort::blocking(|| gort::spawn(|| gort::sleep(secs(7))));
        let r = gort::block_in_place(|| 5);
        assert_eq!(r, 5);
        h.join().unwrap();
        assert_eq!(gort::time::now() - start, secs(7));
    });
}

// ---- docs/testing.md's examples, compiled and run -----------------------------------------------

#[gort::test]
fn doc_echo_round_trip() -> std::io::Result<()> {
    use std::io::{Read, Write};
    let l = gort::net::TcpListener::bind("127.0.0.1:0")?;
    let addr = l.local_addr()?;
    let server = gort::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        let mut b = [0; 4];
        s.read_exact(&mut b).unwrap();
        s.write_all(&b).unwrap();
    });
    let mut c = gort::net::TcpStream::connect(addr)?;
    c.write_all(b"ping")?;
    let mut b = [0; 4];
    c.read_exact(&mut b)?;
    assert_eq!(&b, b"ping");
    server.join().unwrap();
    Ok(())
}

/// A client that retries with exponential back-off gives up after 5 attempts.
#[gort::test(synctest)]
fn doc_back_off_gives_up() {
    let (req_tx, req_rx) = gort::chan::bounded::<u32>(0);
    let _server = gort::spawn(move || for _ in req_rx {}); // takes requests, never answers
    let start = gort::time::now();
    let mut attempts = 0;
    for attempt in 0..5 {
        attempts += 1;
        req_tx.send(attempt).unwrap();
        let (_answer_tx, answer) = gort::chan::bounded::<()>(0);
        if answer
            .recv_timeout(Duration::from_millis(100 << attempt))
            .is_ok()
        {
            break;
        }
    }
    assert_eq!(attempts, 5);
    assert_eq!(gort::time::now() - start, Duration::from_millis(3100)); // exactly
}

#[gort::test(synctest)]
fn doc_cache_entry_expires_after_its_ttl() {
    let expired = Arc::new(AtomicBool::new(false));
    let e = expired.clone();
    let _t = gort::time::after_func(Duration::from_secs(60), move || e.store(true, SeqCst));
    gort::synctest::sleep(Duration::from_secs(59));
    assert!(!expired.load(SeqCst));
    gort::synctest::sleep(Duration::from_secs(1));
    assert!(expired.load(SeqCst));
}

#[test]
fn doc_transfer_keeps_the_total() {
    use gort::synctest::{explore, ExploreOptions, Strategy};
    explore(
        ExploreOptions::default()
            .iterations(1000)
            .strategy(Strategy::Pct { depth: 3 }),
        || {
            let accounts = Arc::new([gort::sync::Mutex::new(50), gort::sync::Mutex::new(50)]);
            let hs: Vec<_> = [(0, 1), (1, 0)]
                .into_iter()
                .map(|(from, to)| {
                    let a = accounts.clone();
                    gort::spawn(move || {
                        // Lock in a global order: the other order deadlocks, and explore finds it.
                        let (lo, hi) = (from.min(to), from.max(to));
                        let mut l = a[lo].lock();
                        let mut h = a[hi].lock();
                        let (f, t) = if from == lo {
                            (&mut *l, &mut *h)
                        } else {
                            (&mut *h, &mut *l)
                        };
                        *f -= 10;
                        *t += 10;
                    })
                })
                .collect();
            hs.into_iter().for_each(|h| h.join().unwrap());
            assert_eq!(*accounts[0].lock() + *accounts[1].lock(), 100);
        },
    );
}
