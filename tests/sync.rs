//! gort::sync and gort::local! behaviour through the public API.
use gort::sync::{Barrier, Condvar, Mutex, Once, OnceLock, RwLock, Semaphore, WaitGroup};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// 1,000 Gs read-modify-write a `Mutex<u64>` with a yield inside the critical section: the
/// count ends exact, and no waiter waits unboundedly (starvation mode).
#[test]
fn mutex_contended_exclusion_and_bounded_wait() {
    let m = Arc::new(Mutex::new(0u64));
    let max_wait = Arc::new(std::sync::Mutex::new(Duration::ZERO));
    let hs: Vec<_> = (0..1000)
        .map(|_| {
            let (m, mw) = (m.clone(), max_wait.clone());
            gort::spawn(move || {
                for _ in 0..20 {
                    let t = Instant::now();
                    let mut g = m.lock();
                    let waited = t.elapsed();
                    let v = *g;
                    gort::yield_now();
                    *g = v + 1;
                    drop(g);
                    let mut w = mw.lock().unwrap();
                    *w = (*w).max(waited);
                }
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    assert_eq!(*m.lock(), 20_000);
    let w = *max_wait.lock().unwrap();
    // Generous: 1,000 Gs queue FIFO behind each other; each critical section is a yield.
    assert!(w < Duration::from_secs(10), "a waiter waited {w:?}");
}

#[test]
fn mutex_from_threads_and_gs() {
    let m = Arc::new(Mutex::new(0u64));
    let mut ts = Vec::new();
    for _ in 0..4 {
        let m = m.clone();
        ts.push(std::thread::spawn(move || {
            for _ in 0..5_000 {
                *m.lock() += 1;
            }
        }));
    }
    let gs: Vec<_> = (0..4)
        .map(|_| {
            let m = m.clone();
            gort::spawn(move || {
                for _ in 0..5_000 {
                    *m.lock() += 1;
                }
            })
        })
        .collect();
    ts.into_iter().for_each(|t| t.join().unwrap());
    gs.into_iter().for_each(|g| g.join().unwrap());
    assert_eq!(*m.lock(), 40_000);
}

#[test]
fn waitgroup_100k() {
    let wg = Arc::new(WaitGroup::new());
    let n = Arc::new(AtomicUsize::new(0));
    for _ in 0..100_000 {
        wg.add(1);
        let (wg, n) = (wg.clone(), n.clone());
        drop(gort::spawn(move || {
            n.fetch_add(1, Ordering::Relaxed);
            wg.done();
        }));
    }
    // Several waiters, on a G and on this thread.
    let w2 = wg.clone();
    let h = gort::spawn(move || w2.wait());
    wg.wait();
    h.join().unwrap();
    assert_eq!(n.load(Ordering::Relaxed), 100_000);
}

#[test]
#[should_panic(expected = "negative counter")]
fn waitgroup_negative_panics() {
    WaitGroup::new().done();
}

#[test]
fn rwlock_readers_and_writers() {
    let l = Arc::new(RwLock::new((0u64, 0u64)));
    let hs: Vec<_> = (0..200)
        .map(|i| {
            let l = l.clone();
            gort::spawn(move || {
                for _ in 0..50 {
                    if i % 4 == 0 {
                        let mut g = l.write();
                        g.0 += 1;
                        gort::yield_now();
                        g.1 += 1;
                    } else {
                        let g = l.read();
                        assert_eq!(g.0, g.1, "reader saw a half-done write");
                    }
                }
            })
        })
        .collect();
    hs.into_iter().for_each(|h| h.join().unwrap());
    assert_eq!(*l.read(), (2_500, 2_500));
}

#[test]
fn condvar_producer_consumer() {
    let s = Arc::new((Mutex::new(Vec::<u32>::new()), Condvar::new()));
    let consumers: Vec<_> = (0..4)
        .map(|_| {
            let s = s.clone();
            gort::spawn(move || {
                let mut got = 0u64;
                loop {
                    let mut q = s.1.wait_while(s.0.lock(), |q| q.is_empty());
                    let v = q.pop().unwrap();
                    if v == u32::MAX {
                        return got;
                    }
                    got += v as u64;
                }
            })
        })
        .collect();
    for i in 0..10_000u32 {
        s.0.lock().push(i);
        s.1.notify_one();
    }
    for _ in 0..4 {
        s.0.lock().insert(0, u32::MAX);
        s.1.notify_all();
    }
    let total: u64 = consumers.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(total, 10_000 * 9_999 / 2);
}

#[test]
fn once_and_oncelock() {
    static ONCE: Once = Once::new();
    static CELL: OnceLock<usize> = OnceLock::new();
    let runs = Arc::new(AtomicUsize::new(0));
    let hs: Vec<_> = (0..100)
        .map(|i| {
            let runs = runs.clone();
            gort::spawn(move || {
                ONCE.call_once(|| {
                    gort::sleep(Duration::from_millis(5));
                    runs.fetch_add(1, Ordering::SeqCst);
                });
                assert_eq!(runs.load(Ordering::SeqCst), 1);
                *CELL.get_or_init(|| i)
            })
        })
        .collect();
    let vals: Vec<usize> = hs.into_iter().map(|h| h.join().unwrap()).collect();
    assert!(vals.iter().all(|v| *v == vals[0]));
}

#[test]
fn semaphore_limits_concurrency() {
    let s = Arc::new(Semaphore::new(3));
    let inside = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let hs: Vec<_> = (0..100)
        .map(|_| {
            let (s, inside, peak) = (s.clone(), inside.clone(), peak.clone());
            gort::spawn(move || {
                s.acquire();
                let n = inside.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(n, Ordering::SeqCst);
                gort::yield_now();
                inside.fetch_sub(1, Ordering::SeqCst);
                s.release();
            })
        })
        .collect();
    hs.into_iter().for_each(|h| h.join().unwrap());
    assert!(peak.load(Ordering::SeqCst) <= 3);
    assert_eq!(s.available_permits(), 3);
}

#[test]
fn barrier_generations() {
    let b = Arc::new(Barrier::new(10));
    let leaders = Arc::new(AtomicUsize::new(0));
    let hs: Vec<_> = (0..10)
        .map(|_| {
            let (b, l) = (b.clone(), leaders.clone());
            gort::spawn(move || {
                for _ in 0..100 {
                    if b.wait().is_leader() {
                        l.fetch_add(1, Ordering::SeqCst);
                    }
                }
            })
        })
        .collect();
    hs.into_iter().for_each(|h| h.join().unwrap());
    assert_eq!(leaders.load(Ordering::SeqCst), 100);
}

static DROPS: AtomicUsize = AtomicUsize::new(0);
struct Tracked(u64);
impl Drop for Tracked {
    fn drop(&mut self) {
        DROPS.fetch_add(1, Ordering::SeqCst);
    }
}

gort::local! {
    static ID: std::cell::Cell<u64> = std::cell::Cell::new(0);
    static TRACKED: std::cell::RefCell<Option<Tracked>> = std::cell::RefCell::new(None);
}

#[test]
fn g_local_distinct_and_dropped() {
    let before = DROPS.load(Ordering::SeqCst);
    let hs: Vec<_> = (1..=1000u64)
        .map(|i| {
            gort::spawn(move || {
                ID.with(|c| c.set(i));
                TRACKED.with(|t| *t.borrow_mut() = Some(Tracked(i)));
                for _ in 0..3 {
                    gort::yield_now(); // may migrate between Ms: the value follows the G
                    assert_eq!(ID.with(|c| c.get()), i);
                }
                TRACKED.with(|t| t.borrow().as_ref().unwrap().0)
            })
        })
        .collect();
    for (i, h) in hs.into_iter().enumerate() {
        assert_eq!(h.join().unwrap(), i as u64 + 1);
    }
    assert_eq!(
        DROPS.load(Ordering::SeqCst) - before,
        1000,
        "G-locals dropped at G exit"
    );
    // Plain thread fallback: per thread.
    ID.with(|c| c.set(7));
    let other = std::thread::spawn(|| ID.with(|c| c.get())).join().unwrap();
    assert_eq!(other, 0);
    assert_eq!(ID.with(|c| c.get()), 7);
}

/// `Condvar::wait_timeout`: times out with nobody notifying; a notify wakes it before the
/// deadline; and a waiter that timed out never swallows a `notify_one` meant for another.
#[test]
fn condvar_wait_timeout() {
    let pair = Arc::new((Mutex::new(0u32), Condvar::new()));
    let (g, r) = pair.1.wait_timeout(pair.0.lock(), Duration::from_millis(5));
    assert!(r.timed_out());
    drop(g);

    let p2 = pair.clone();
    let h = gort::spawn(move || {
        let (g, r) =
            p2.1.wait_timeout_while(p2.0.lock(), Duration::from_secs(30), |n| *n == 0);
        (*g, r.timed_out())
    });
    gort::sleep(Duration::from_millis(5));
    *pair.0.lock() = 9;
    pair.1.notify_all();
    assert_eq!(h.join().unwrap(), (9, false));

    // Many timed waiters time out while a plain waiter waits; one notify must reach it.
    for _ in 0..20 {
        let pair = Arc::new((Mutex::new(false), Condvar::new()));
        let timed: Vec<_> = (0..20)
            .map(|_| {
                let p = pair.clone();
                gort::spawn(move || {
                    let g = p.0.lock();
                    drop(p.1.wait_timeout(g, Duration::from_micros(200)));
                })
            })
            .collect();
        let p = pair.clone();
        let plain = gort::spawn(move || {
            let mut g = p.0.lock();
            while !*g {
                g = p.1.wait(g);
            }
        });
        for t in timed {
            t.join().unwrap();
        }
        gort::sleep(Duration::from_millis(1));
        *pair.0.lock() = true;
        pair.1.notify_one();
        let t = Instant::now();
        while !plain.is_finished() {
            assert!(
                t.elapsed() < Duration::from_secs(30),
                "notify_one was swallowed"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        plain.join().unwrap();
    }
}

/// `WaitGroup::go` counts a panicking worker done (wait does not hang); the guard too.
#[test]
fn waitgroup_go_and_guard() {
    let wg = Arc::new(WaitGroup::new());
    let n = Arc::new(AtomicUsize::new(0));
    for i in 0..100 {
        let n = n.clone();
        wg.go(move || {
            if i % 10 == 0 {
                panic!("worker {i} panics");
            }
            n.fetch_add(1, Ordering::Relaxed);
        });
    }
    wg.wait();
    assert_eq!(n.load(Ordering::Relaxed), 90);

    let wg = WaitGroup::new();
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _g = wg.guard();
        panic!("holder panics");
    }));
    assert!(r.is_err());
    wg.wait(); // the guard's drop ran during the unwind
}

/// `sync::Pool` with no further use is emptied by the runtime within a few cleanup ticks (1 s
/// each), and every value is dropped exactly once.
#[test]
fn pool_values_are_dropped_over_time() {
    static MADE: AtomicUsize = AtomicUsize::new(0);
    static DROPPED: AtomicUsize = AtomicUsize::new(0);
    struct V;
    impl Drop for V {
        fn drop(&mut self) {
            DROPPED.fetch_add(1, Ordering::SeqCst);
        }
    }
    static POOL: gort::sync::Pool<V> = gort::sync::Pool::new(|| {
        MADE.fetch_add(1, Ordering::SeqCst);
        V
    });
    let hs: Vec<_> = (0..50)
        .map(|_| {
            gort::spawn(|| {
                let vs: Vec<V> = (0..4).map(|_| POOL.get()).collect();
                gort::yield_now();
                vs.into_iter().for_each(|v| POOL.put(v));
            })
        })
        .collect();
    hs.into_iter().for_each(|h| h.join().unwrap());
    let made = MADE.load(Ordering::SeqCst);
    assert!(made >= 4);
    let t = Instant::now();
    while DROPPED.load(Ordering::SeqCst) < made {
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "{} of {made} pooled values dropped after {:?}",
            DROPPED.load(Ordering::SeqCst),
            t.elapsed()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(DROPPED.load(Ordering::SeqCst), made);
}

/// Concurrent get/put from many Gs and plain threads: a value is never handed to two holders.
#[test]
fn pool_never_hands_a_value_out_twice() {
    let pool = Arc::new(gort::sync::Pool::new(|| Arc::new(AtomicUsize::new(0))));
    let mut hs = Vec::new();
    for _ in 0..64 {
        let pool = pool.clone();
        hs.push(gort::spawn(move || {
            for i in 0..2_000 {
                let v = pool.get();
                assert_eq!(
                    v.fetch_add(1, Ordering::SeqCst),
                    0,
                    "value shared by two holders"
                );
                if i % 7 == 0 {
                    gort::yield_now();
                }
                v.fetch_sub(1, Ordering::SeqCst);
                pool.put(v);
            }
        }));
    }
    let pool2 = pool.clone();
    let t = std::thread::spawn(move || {
        for _ in 0..2_000 {
            let v = pool2.get();
            assert_eq!(v.fetch_add(1, Ordering::SeqCst), 0);
            v.fetch_sub(1, Ordering::SeqCst);
            pool2.put(v);
        }
    });
    hs.into_iter().for_each(|h| h.join().unwrap());
    t.join().unwrap();
}

#[test]
fn lazy_lock_initialises_once_and_parks_others() {
    static N: AtomicUsize = AtomicUsize::new(0);
    static L: gort::sync::LazyLock<u64> = gort::sync::LazyLock::new(|| {
        N.fetch_add(1, Ordering::SeqCst);
        gort::sleep(Duration::from_millis(5)); // others park meanwhile
        42
    });
    let hs: Vec<_> = (0..100).map(|_| gort::spawn(|| *L)).collect();
    assert!(hs.into_iter().all(|h| h.join().unwrap() == 42));
    assert_eq!(N.load(Ordering::SeqCst), 1);
    let poisoned = gort::sync::LazyLock::new(|| -> u8 { panic!("init fails") });
    assert!(std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| *poisoned)).is_err());
    assert!(std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| *poisoned)).is_err());
}
