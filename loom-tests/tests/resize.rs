//! Loom model 8: resizing the Ps (`gort::set_maxprocs`) while an M holds the P being removed
//! and has work queued on it (sched.rs, "Resizing the Ps"; docs/loom.md).
//!
//! 2 Ps. A model M runs on P1; the G running there readies G1 into P1's runnext (the real
//! `ready_g` on an M). Meanwhile the main thread shrinks to 1 P (`Sched::resize`, step R1):
//! P1 is held, so it becomes RETIRING, and its M retires it at its next round (R2: G1 to the
//! global queue, P1 dead, the M finds P0 or parks), or runs G1 first and retires it after.
//! Checked: G1 runs exactly once (a lost G is a loom deadlock: the main thread waits for it),
//! P1 ends DEAD and off the idle list, P0 is idle, nobody spins, the global queue is empty.
//! Model 8b then grows back to 2 while the M may still hold P1 (R1 revives a RETIRING P for its
//! M, or puts a DEAD one on the idle list): both Ps end LIVE and idle, G1 ran once.
#![cfg(loom)]

use gort_runtime::model::Model;
use loom::thread;

fn shrink_model(grow_back: bool) {
    let m = Model::new(2);
    let h = m.handle();
    // The M runs on P1, the P the shrink removes; P0 stays idle.
    let started = h.start_m_on(Some(1), false, move || {
        h.ready(h.new_g(1));
    });
    assert!(started);
    let resizer = thread::spawn(move || {
        let was = h.resize(1);
        assert_eq!(was, 2);
        if grow_back {
            assert_eq!(h.resize(2), 1);
        }
    });
    let ran = h.wait_ran(1);
    assert_eq!(ran, vec![1], "G1 must run exactly once");
    resizer.join().unwrap();
    m.shutdown();
    let (spinning, idle, nprocs, global) = h.counters();
    assert_eq!(spinning, 0, "a spinning token leaked");
    assert_eq!(global, 0, "a G was left in the global queue");
    if grow_back {
        assert_eq!(nprocs, 2);
        assert_eq!(idle, 2, "both Ps must be idle at the end");
        assert_eq!(h.p_life(1), 0, "P1 must be live again");
        assert!(h.p_idle(0) && h.p_idle(1));
    } else {
        assert_eq!(nprocs, 1);
        assert_eq!(idle, 1, "only P0 is idle");
        assert_eq!(h.p_life(1), 2, "P1 must be dead");
        assert!(h.p_idle(0) && !h.p_idle(1), "P1 must be off the idle list");
    }
}

#[test]
fn model8a_shrink_while_held() {
    loom_tests::model("8a resize: shrink while the P is held", || {
        shrink_model(false)
    });
}

#[test]
fn model8b_shrink_then_grow_while_held() {
    loom_tests::model("8b resize: shrink, grow back", || shrink_model(true));
}
