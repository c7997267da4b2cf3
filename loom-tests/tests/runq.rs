//! Loom model 1: a P's local run queue, runnext and the global queue (docs/loom.md).
//!
//! The owner of P0 puts six Gs (two into runnext, so one is displaced to the tail; with
//! `LOCAL_CAP` = 4 under loom the fifth tail push spills half the queue plus the G to the global
//! queue) and then takes Gs back, while two thieves (holding P1 and P2) each steal from P0 once,
//! as `steal_work`'s last round does (the queue, then runnext). Afterwards everything left is
//! drained. Checked: every G is dequeued exactly once (none lost, none duplicated), and every
//! queue is empty at the end. Real code: `Sched::runqput`/`runqputslow`/`runqget`/
//! `globrunqget`, `PLocal::put_runnext`, `PShared::take_runnext`, the `Stealer` (the loom
//! stand-in for the crossbeam deque: its internals are trusted, not modelled).
#![cfg(loom)]

use gort_runtime::model::Model;
use loom::thread;

const NG: u64 = 6;

#[test]
fn model1_runq_runnext_global() {
    loom_tests::model("1 runq/runnext/global", || {
        let m = Model::new(3);
        let h = m.handle();
        let owner = thread::spawn(move || {
            h.with_p(0, |p| {
                for i in 1..=NG {
                    // G2 and G4 go to runnext (G4 displaces G2 to the tail).
                    p.runqput(h.new_g(i), i == 2 || i == 4);
                }
                let mut got = Vec::new();
                while let Some((g, _)) = p.runqget() {
                    got.push(g.id());
                }
                got
            })
        });
        let thieves: Vec<_> = (0..2)
            .map(|i| {
                thread::spawn(move || {
                    h.with_p(1 + i, |p| {
                        let mut got = Vec::new();
                        if let Some(g) = p.steal(0) {
                            got.push(g.id());
                        }
                        // The stolen batch went into our own queue: run it.
                        while let Some((g, _)) = p.runqget() {
                            got.push(g.id());
                        }
                        got
                    })
                })
            })
            .collect();
        let mut all = owner.join().unwrap();
        for t in thieves {
            all.extend(t.join().unwrap());
        }
        // Drain what is left: the global queue (the spill) and, defensively, P0's queues.
        h.with_p(0, |p| {
            while let Some(g) = p.globrunqget() {
                all.push(g.id());
                while let Some((g, _)) = p.runqget() {
                    all.push(g.id());
                }
            }
            assert!(p.runqget().is_none());
        });
        all.sort_unstable();
        assert_eq!(
            all,
            (1..=NG).collect::<Vec<_>>(),
            "a G was lost or dequeued twice"
        );
        let (spinning, idle, nprocs, nglobal) = h.counters();
        assert_eq!((spinning, idle, nglobal), (0, nprocs, 0));
    });
}
