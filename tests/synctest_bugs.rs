//! Classic concurrency bugs as ordinary gort programs, found by `synctest::explore` (random and
//! PCT schedules) within a stated number of iterations; each failing seed then fails the same
//! way, with the same schedule, ten times out of ten under `test_seeded`.
//!
//! The programs: a lost update (a yield between read and write), an ABA on a lock-free
//! (Treiber) stack, a missed notification on a Condvar used without its predicate, a
//! double-checked init without `Once`, an order-of-close race on a channel, and from SCTBench
//! (Thomson, Donaldson, Betts, PPoPP 2014; CHESS's and Concuerror's benchmarks) `deadlock01`
//! (lock-order inversion), `twostage` (two-stage locking), `lazy01` and `account` (a
//! check-then-act overdraft). Each test prints its row of the table in docs/testing.md
//! (`cargo test --test synctest_bugs -- --nocapture`).
//!
//! The bases seeds are fixed so that CI is deterministic; the bounds are what a fixed base
//! seed needs, with room (the expected counts, from the strategies' probabilities, are in each
//! test). Long explorations of the fixed programs (no false positives) are `#[ignore]`d: the
//! release stress step runs them.

mod common;

use gort::chan::bounded;
use gort::sync::{Condvar, Mutex};
use gort::synctest::{self, ExploreOptions, Strategy};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;

/// Explores `prog` with `strategy` from base seed `base`, expects a failure within `bound`
/// iterations that mentions `expect`, prints the table row, and replays the seed ten times:
/// the same failure and the same schedule every time.
fn find(bug: &str, strategy: Strategy, base: u64, bound: usize, expect: &str, prog: fn()) -> usize {
    let opts = ExploreOptions::default()
        .iterations(bound)
        .strategy(strategy)
        .seed(base);
    let fail = match synctest::try_explore(opts, prog) {
        Err(f) => f,
        Ok(r) => panic!(
            "{bug}: {strategy:?} did not find the bug in {} iterations ({} schedules)",
            r.iterations(),
            r.distinct_schedules()
        ),
    };
    assert!(
        fail.message().contains(expect),
        "{bug}: unexpected failure: {}",
        fail.message()
    );
    let n = fail.iteration() + 1;
    println!("| {bug} | {strategy:?} | {n} | {:#x} |", fail.seed());
    for _ in 0..10 {
        let r = synctest::try_test_seeded(fail.seed(), prog);
        assert_eq!(
            r.failure(),
            Some(fail.message()),
            "{bug}: seed {:#x} did not fail the same way",
            fail.seed()
        );
        assert_eq!(
            r.schedule_hash(),
            fail.report().schedule_hash(),
            "{bug}: seed {:#x} took another schedule",
            fail.seed()
        );
    }
    n
}

fn join_all(hs: Vec<gort::JoinHandle<()>>) {
    for h in hs {
        h.join().unwrap();
    }
}

// ---- the bugs ---------------------------------------------------------------------------------

use common::lost_update;

/// A Treiber stack of node indices (head and links are `index + 1`, 0 = none), whose pop is
/// preempted between reading `head.next` and the CAS.
struct Treiber {
    head: AtomicUsize,
    next: Vec<AtomicUsize>,
}

impl Treiber {
    fn pop(&self) -> Option<usize> {
        loop {
            let h = self.head.load(SeqCst);
            if h == 0 {
                return None;
            }
            let n = self.next[h - 1].load(SeqCst);
            gort::yield_now(); // a preemption here is what ABA needs
            if self.head.compare_exchange(h, n, SeqCst, SeqCst).is_ok() {
                return Some(h - 1);
            }
        }
    }

    fn push(&self, i: usize) {
        loop {
            let h = self.head.load(SeqCst);
            self.next[i].store(h, SeqCst);
            if self.head.compare_exchange(h, i + 1, SeqCst, SeqCst).is_ok() {
                return;
            }
        }
    }
}

/// One thread pops; another pops two and pushes the first back: the first thread's CAS sees
/// the same head (A) and installs a stale next (B, which the other thread holds).
fn aba_treiber_stack() {
    let s = Arc::new(Treiber {
        head: AtomicUsize::new(0),
        next: (0..3).map(|_| AtomicUsize::new(0)).collect(),
    });
    for i in (0..3).rev() {
        s.push(i); // stack: 0 -> 1 -> 2
    }
    let s1 = s.clone();
    let t1 = gort::spawn(move || s1.pop().into_iter().collect::<Vec<_>>());
    let s2 = s.clone();
    let t2 = gort::spawn(move || {
        let a = s2.pop();
        let b = s2.pop();
        if let Some(a) = a {
            s2.push(a);
        }
        b.into_iter().collect::<Vec<_>>()
    });
    let mut held = t1.join().unwrap();
    held.extend(t2.join().unwrap());
    // What is left on the stack (bounded: a corrupt stack may have a cycle).
    let mut h = s.head.load(SeqCst);
    for _ in 0..8 {
        if h == 0 {
            break;
        }
        held.push(h - 1);
        h = s.next[h - 1].load(SeqCst);
    }
    held.sort_unstable();
    assert_eq!(
        held,
        vec![0, 1, 2],
        "ABA: a node is both held and on the stack"
    );
}

/// A condvar waited on without a predicate: a notify before the wait is lost.
fn condvar_missed_notification() {
    let m = Arc::new(Mutex::new(()));
    let cv = Arc::new(Condvar::new());
    let (m1, c1) = (m.clone(), cv.clone());
    let waiter = gort::spawn(move || {
        let g = m1.lock();
        drop(c1.wait(g)); // no predicate: nothing says whether the notify already came
    });
    let notifier = gort::spawn(move || {
        let _g = m.lock();
        cv.notify_one();
    });
    join_all(vec![waiter, notifier]);
}

/// Double-checked initialisation without the second check (and without `Once`): two green
/// threads both see "not ready" and both initialise.
fn double_checked_init() {
    struct Lazy {
        ready: AtomicBool,
        lock: Mutex<()>,
        inits: AtomicU32,
    }
    impl Lazy {
        fn get(&self) {
            if !self.ready.load(SeqCst) {
                let _g = self.lock.lock();
                // Missing: `if self.ready.load(SeqCst) { return; }`
                self.inits.fetch_add(1, SeqCst);
                self.ready.store(true, SeqCst);
            }
        }
    }
    let l = Arc::new(Lazy {
        ready: AtomicBool::new(false),
        lock: Mutex::new(()),
        inits: AtomicU32::new(0),
    });
    let hs = (0..2)
        .map(|_| {
            let l = l.clone();
            gort::spawn(move || l.get())
        })
        .collect();
    join_all(hs);
    assert_eq!(l.inits.load(SeqCst), 1, "initialised twice");
}

/// Two producers share a channel; one closes it when *it* is done, while the other may still
/// send (Go's "send on closed channel").
fn order_of_close() {
    let (tx, rx) = bounded::<u32>(4);
    let tx2 = tx.clone();
    let a = gort::spawn(move || {
        tx.send(1).unwrap();
        tx.close();
    });
    let b = gort::spawn(move || {
        tx2.send(2).expect("send on a closed channel");
    });
    let got: Vec<u32> = rx.iter().collect();
    a.join().unwrap();
    b.join().unwrap();
    assert_eq!(got.len(), 2);
}

/// SCTBench deadlock01: two locks taken in opposite orders.
fn deadlock01() {
    let a = Arc::new(Mutex::new(0));
    let b = Arc::new(Mutex::new(0));
    let (a1, b1) = (a.clone(), b.clone());
    let t1 = gort::spawn(move || {
        let _x = a1.lock();
        let _y = b1.lock();
    });
    let t2 = gort::spawn(move || {
        let _y = b.lock();
        let _x = a.lock();
    });
    join_all(vec![t1, t2]);
}

/// SCTBench twostage: data1 and data2 are set in two critical sections; a reader that sees
/// data1 set assumes data2 is too.
fn twostage() {
    let d1 = Arc::new(Mutex::new(0));
    let d2 = Arc::new(Mutex::new(0));
    let (a1, a2) = (d1.clone(), d2.clone());
    let writer = gort::spawn(move || {
        let v = {
            let mut g = a1.lock();
            *g = 1;
            *g
        };
        *a2.lock() = v + 1;
    });
    let reader = gort::spawn(move || {
        let g1 = d1.lock();
        if *g1 == 1 {
            let g2 = d2.lock();
            assert_eq!(*g2, *g1 + 1, "twostage: data2 read before the second stage");
        }
    });
    join_all(vec![writer, reader]);
}

/// SCTBench lazy01: two adders and a checker that assumes it runs before both.
fn lazy01() {
    let data = Arc::new(Mutex::new(0));
    let hs = [1, 2]
        .into_iter()
        .map(|k| {
            let d = data.clone();
            gort::spawn(move || *d.lock() += k)
        })
        .chain(std::iter::once({
            let d = data.clone();
            gort::spawn(move || assert!(*d.lock() < 3, "lazy01: checked after both adds"))
        }))
        .collect();
    join_all(hs);
}

/// SCTBench account: a withdrawal checks the balance and debits it in two critical sections.
fn account() {
    let balance = Arc::new(Mutex::new(100i64));
    let hs = (0..2)
        .map(|_| {
            let b = balance.clone();
            gort::spawn(move || {
                let enough = *b.lock() >= 60;
                if enough {
                    *b.lock() -= 60;
                }
            })
        })
        .collect();
    join_all(hs);
    assert!(*balance.lock() >= 0, "account: overdrawn");
}

// ---- the tests ----------------------------------------------------------------------------------

/// Random finds most of these within a few iterations (each needs one or two choices to go
/// one way among a handful); PCT with depth 2 or 3 within tens (probability at least
/// 1/(n·k^(d−1)) per run, with n ≤ 4 green threads and k ≤ ~20 steps).
const BOUND: usize = 1000;

#[test]
fn lost_update_found() {
    find(
        "lost update",
        Strategy::Random,
        1,
        BOUND,
        "lost update",
        lost_update,
    );
    find(
        "lost update",
        Strategy::Pct { depth: 2 },
        1,
        BOUND,
        "lost update",
        lost_update,
    );
}

#[test]
fn aba_found() {
    let e = "ABA: a node is both held and on the stack";
    find(
        "ABA (Treiber stack)",
        Strategy::Random,
        2,
        BOUND,
        e,
        aba_treiber_stack,
    );
    find(
        "ABA (Treiber stack)",
        Strategy::Pct { depth: 3 },
        2,
        BOUND,
        e,
        aba_treiber_stack,
    );
}

#[test]
fn condvar_missed_notification_found() {
    let e = "deadlock";
    let f = condvar_missed_notification;
    find(
        "Condvar without predicate",
        Strategy::Random,
        3,
        BOUND,
        e,
        f,
    );
    find(
        "Condvar without predicate",
        Strategy::Pct { depth: 2 },
        3,
        BOUND,
        e,
        f,
    );
}

#[test]
fn double_checked_init_found() {
    let e = "initialised twice";
    find(
        "double-checked init",
        Strategy::Random,
        4,
        BOUND,
        e,
        double_checked_init,
    );
    find(
        "double-checked init",
        Strategy::Pct { depth: 2 },
        4,
        BOUND,
        e,
        double_checked_init,
    );
}

#[test]
fn order_of_close_found() {
    let e = "send on a closed channel";
    find(
        "order of close",
        Strategy::Random,
        5,
        BOUND,
        e,
        order_of_close,
    );
    find(
        "order of close",
        Strategy::Pct { depth: 2 },
        5,
        BOUND,
        e,
        order_of_close,
    );
}

#[test]
fn sctbench_deadlock01_found() {
    let e = "deadlock: all goroutines in bubble are blocked";
    find(
        "SCTBench deadlock01",
        Strategy::Random,
        6,
        BOUND,
        e,
        deadlock01,
    );
    find(
        "SCTBench deadlock01",
        Strategy::Pct { depth: 2 },
        6,
        BOUND,
        e,
        deadlock01,
    );
}

#[test]
fn sctbench_twostage_found() {
    let e = "twostage";
    find("SCTBench twostage", Strategy::Random, 7, BOUND, e, twostage);
    find(
        "SCTBench twostage",
        Strategy::Pct { depth: 2 },
        7,
        BOUND,
        e,
        twostage,
    );
}

#[test]
fn sctbench_lazy01_found() {
    let e = "lazy01";
    find("SCTBench lazy01", Strategy::Random, 8, BOUND, e, lazy01);
    find(
        "SCTBench lazy01",
        Strategy::Pct { depth: 2 },
        8,
        BOUND,
        e,
        lazy01,
    );
}

#[test]
fn sctbench_account_found() {
    let e = "account: overdrawn";
    find("SCTBench account", Strategy::Random, 9, BOUND, e, account);
    find(
        "SCTBench account",
        Strategy::Pct { depth: 2 },
        9,
        BOUND,
        e,
        account,
    );
}

// ---- no false positives (release stress step) -------------------------------------------------

/// The fixed programs pass every schedule of a long exploration.
#[test]
#[ignore = "long exploration: run by the release stress step"]
fn fixed_programs_pass_long_explorations() {
    fn fixed_update() {
        let n = Arc::new(Mutex::new(0));
        let hs = (0..3)
            .map(|_| {
                let n = n.clone();
                gort::spawn(move || {
                    let mut g = n.lock();
                    let v = *g;
                    gort::yield_now();
                    *g = v + 1;
                })
            })
            .collect();
        join_all(hs);
        assert_eq!(*n.lock(), 3);
    }
    fn fixed_condvar() {
        let m = Arc::new(Mutex::new(false));
        let cv = Arc::new(Condvar::new());
        let (m1, c1) = (m.clone(), cv.clone());
        let waiter = gort::spawn(move || {
            let g = m1.lock();
            drop(c1.wait_while(g, |ready| !*ready));
        });
        let notifier = gort::spawn(move || {
            *m.lock() = true;
            cv.notify_one();
        });
        join_all(vec![waiter, notifier]);
    }
    fn fixed_close() {
        let (tx, rx) = bounded::<u32>(4);
        let wg = Arc::new(gort::sync::WaitGroup::new());
        for i in 0..3 {
            let tx = tx.clone();
            wg.go(move || tx.send(i).unwrap());
        }
        let closer = gort::spawn(move || {
            wg.wait();
            tx.close();
        });
        assert_eq!(rx.iter().count(), 3);
        closer.join().unwrap();
    }
    for s in [Strategy::Random, Strategy::Pct { depth: 3 }] {
        let o = ExploreOptions::default()
            .iterations(5000)
            .strategy(s)
            .seed(11);
        for p in [fixed_update as fn(), fixed_condvar, fixed_close] {
            let r = synctest::explore(o.clone(), p);
            println!(
                "{s:?}: {} schedules, {} distinct",
                r.iterations(),
                r.distinct_schedules()
            );
        }
    }
}
