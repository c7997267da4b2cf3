//! Loom model 3: park/ready of a G, a ready racing the park (park.rs protocol; docs/loom.md).
//!
//! Two Ps. G1 runs on M1 (P0): it touches its stack, then parks on a one-shot waiter (a loom
//! mutex around "fired" and the stored `Unparker`, the shape of a channel's wait queue). The
//! park is the real code around the switch (`model::Handle::park_g`: `park::park_callback` in a
//! `ParkFn`, called as `execute` does): `register` re-checks "fired" under the waiter's lock and
//! either stores the `Unparker` (G1 parked; M1 goes on scheduling and may park) or hands it back
//! (the park is cancelled; G1 runs on, on M1). The waker sets "fired" under the lock and
//! unparks what it took (`Unparker::unpark` = `ready_g`, then `wakep`). Two variants:
//!
//! * **3a**: the waker is a plain thread (G1 goes to the global queue);
//! * **3b**: the waker is M2 on P1 (G1 goes to P1's runnext; M1 may steal it back).
//!
//! Checked: G1 executes again exactly once after the park (never lost: a lost G leaves every
//! thread blocked, a loom deadlock; never twice: the recorded executions), and its stack (a loom
//! `UnsafeCell` that every execution of G1 writes) is never touched by two Ms without a
//! happens-before edge, i.e. the G never runs on two Ms at once, and whoever resumes it sees
//! everything it did before parking.
#![cfg(loom)]

use gort_runtime::model::Model;
use gort_runtime::park::Unparker;
use loom::cell::UnsafeCell;
use loom::sync::{Arc, Mutex};
use loom::thread;

type Waiter = Arc<Mutex<(bool, Option<Unparker>)>>;

/// G1's stack: written by whoever runs G1; loom reports unordered writes.
struct Stack(UnsafeCell<u32>);
// SAFETY: that is the point: loom checks every access for a happens-before order.
unsafe impl Sync for Stack {}

impl Stack {
    fn touch(&self) {
        // SAFETY: checked by loom (a causality violation panics).
        self.0.with_mut(|p| unsafe { *p += 1 });
    }
}

fn model3(waker_is_m: bool) {
    let stack = Arc::new(Stack(UnsafeCell::new(0)));
    let s2 = stack.clone();
    // Every execution of G1 writes its stack.
    let m = Model::with_on_run(2, Some(Box::new(move |_| s2.touch())));
    let h = m.handle();
    let w: Waiter = Arc::new(Mutex::new((false, None)));
    let g = h.new_g(1);
    let w1 = w.clone();
    assert!(h.start_m(false, move || {
        // G1 running on M1.
        stack.touch();
        let parked = h.park_g(g, move |u| {
            let mut s = w1.lock().unwrap();
            if s.0 {
                Some(u) // fired meanwhile: don't park
            } else {
                s.1 = Some(u);
                None
            }
        });
        if let Some(g) = parked {
            h.ran(g); // the park was cancelled: G1 runs on, here
        }
    }));
    let fire = move || {
        let u = {
            let mut s = w.lock().unwrap();
            s.0 = true;
            s.1.take()
        };
        if let Some(u) = u {
            u.unpark();
        }
    };
    let waker = if waker_is_m {
        assert!(h.start_m(false, fire));
        None
    } else {
        Some(thread::spawn(fire))
    };
    assert_eq!(h.wait_ran(1), [1]);
    if let Some(t) = waker {
        t.join().unwrap();
    }
    m.shutdown();
    assert_eq!(h.wait_ran(0), [1], "G1 executed twice");
    let (spinning, idle, nprocs, nglobal) = h.counters();
    assert_eq!((spinning, idle, nglobal), (0, nprocs, 0));
}

#[test]
fn model3a_park_ready_from_thread() {
    loom_tests::model("3a park/ready, waker a plain thread", || model3(false));
}

#[test]
fn model3b_park_ready_from_m() {
    loom_tests::model("3b park/ready, waker an M", || model3(true));
}
