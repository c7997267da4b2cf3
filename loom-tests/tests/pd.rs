//! Loom model 6: the poll descriptor (runtime/src/netpoll/pd.rs), driven through its real code.
//!
//! A waiter's arm races readiness from the poller, its deadline timer and a close. Checked in
//! every interleaving: the waiter is handed out exactly once (by arm itself, notify, expire or
//! close), and the outcome recorded for its ticket names whoever handed it out.
//!
//! Run: `RUSTFLAGS="--cfg loom -C debug_assertions" cargo test -p loom-tests --release --test pd`
#![cfg(loom)]

use gort_runtime::netpoll::pd::{Arm, Dir, Outcome, PollDesc};
use loom::sync::Arc;
use loom::thread;

const W: u32 = 7;

/// Who handed the waiter out, and the outcome that implies.
fn check(pd: &PollDesc<u32>, t: u64, handed: Vec<(&'static str, u32)>) {
    assert_eq!(handed.len(), 1, "waiter handed out {handed:?}");
    let (who, w) = handed[0];
    assert_eq!(w, W);
    let want = match who {
        "arm-ready" | "notify" => Outcome::Ready,
        "expire" => Outcome::TimedOut,
        "arm-closed" | "close" => Outcome::Closed,
        _ => unreachable!(),
    };
    assert_eq!(pd.outcome(Dir::Read, t), want, "handed out by {who}");
}

fn race(arm_first: bool) {
    loom::model(move || {
        let pd = Arc::new(PollDesc::<u32>::new());
        let t = pd.ticket();
        let mut handed = Vec::new();
        if arm_first {
            assert!(matches!(pd.arm(Dir::Read, t, W, |_| {}), Arm::Parked));
        }
        let p = pd.clone();
        let ready = thread::spawn(move || {
            let mut v = Vec::new();
            // The poller's form: an event's read and write edges under one lock.
            p.notify_edges(true, true, &mut v);
            v
        });
        let p = pd.clone();
        let expire = thread::spawn(move || p.expire(Dir::Read, t));
        let p = pd.clone();
        let close = thread::spawn(move || {
            let mut v = Vec::new();
            p.close(&mut v);
            v
        });
        if !arm_first {
            match pd.arm(Dir::Read, t, W, |_| {}) {
                Arm::Parked => {}
                Arm::Ready(w) => handed.push(("arm-ready", w)),
                Arm::Closed(w) => handed.push(("arm-closed", w)),
            }
        }
        handed.extend(ready.join().unwrap().into_iter().map(|w| ("notify", w)));
        handed.extend(expire.join().unwrap().map(|w| ("expire", w)));
        handed.extend(close.join().unwrap().into_iter().map(|w| ("close", w)));
        check(&pd, t, handed);
        // After the close, nothing can park again.
        let t2 = pd.ticket();
        assert!(matches!(pd.arm(Dir::Read, t2, W, |_| {}), Arm::Closed(W)));
    });
}

/// The waiter is already parked; readiness, its deadline and a close race to wake it.
#[test]
fn parked_waiter_woken_exactly_once() {
    race(true);
}

/// The waiter's arm (on its M, after the G switched out) races all three.
#[test]
fn arming_waiter_woken_exactly_once() {
    race(false);
}
