//! Loom model 2: the spinning/parking protocol for Ms (sched.rs essay, S1-S3 / T1-T3;
//! docs/loom.md). Two variants, one per kind of readier, so each stays small:
//!
//! * **2a, plain thread → global queue.** Two Ps. M1 is started by the real `wakep` (the one
//!   spinning M, on P0; P1 stays idle). The main thread, a plain thread, readies G1 with
//!   `ready_g` (the global queue, then `wakep`) while M1 searches, gives P0 back and parks.
//! * **2b, M → runnext.** Two Ps. M1 as above; M2 holds P1 and, as if its running G did it,
//!   readies G2 with `ready_g` (P1's runnext, then `wakep`), then goes on scheduling, while M1
//!   searches (and may steal G2 from runnext), gives up and parks.
//!
//! `wakep` may start more Ms (`newm` spawns model Ms under loom). The main thread waits until
//! the G(s) executed, then shuts the Ms down.
//!
//! Checked:
//! * **No lost wakeup.** A parked M stays parked until someone wakes it, and the model's waiting
//!   main thread blocks too: if a G sits in a queue while every M is parked, every thread is
//!   blocked and loom reports a deadlock.
//! * **Exactly once.** Each G executes once.
//! * **Spinning bound.** At each `find_runnable` return, `nmspinning <= nprocs` (derivation in
//!   `model::check_spinning` and docs/loom.md); at the end, with every M parked, `nmspinning ==
//!   0` (no leaked spinning count, which would silence `wakep` forever) and every P is idle.
#![cfg(loom)]

use gort_runtime::model::{Handle, Model};

fn finish(m: Model, h: Handle, want: &[u64]) {
    let mut ran = h.wait_ran(want.len());
    ran.sort_unstable();
    assert_eq!(ran, want);
    m.shutdown();
    assert_eq!(h.wait_ran(0).len(), want.len(), "a G executed twice");
    let (spinning, idle, nprocs, nglobal) = h.counters();
    assert_eq!((spinning, idle, nglobal), (0, nprocs, 0));
    assert!(h.max_spinning() <= nprocs);
}

#[test]
fn model2a_spinning_parking_global() {
    loom_tests::model("2a spinning/parking, ready from a plain thread", || {
        let m = Model::new(2);
        let h = m.handle();
        h.wakep();
        h.ready(h.new_g(1));
        finish(m, h, &[1]);
    });
}

#[test]
fn model2b_spinning_parking_runnext() {
    loom_tests::model("2b spinning/parking, ready from an M into runnext", || {
        let m = Model::new(2);
        let h = m.handle();
        h.wakep();
        let g2 = h.new_g(2);
        assert!(h.start_m(false, move || h.ready(g2)));
        finish(m, h, &[2]);
    });
}
