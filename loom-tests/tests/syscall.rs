//! Loom model 5: a blocking call's exit racing sysmon's retake of the same P (p.rs ownership
//! word; syscall.rs protocol; docs/loom.md).
//!
//! An M's G is inside `gort::blocking`: its P is in `SYSCALL`. Concurrently the G leaves the
//! call (`exit_syscall`, the CAS `SYSCALL → RUNNING_G`) and sysmon retakes the P
//! (`try_retake`, the CAS `SYSCALL → OWNED` by sysmon). Checked: exactly one of them owns the P
//! afterwards, and the owner's use of the P's owner-only state (a loom `UnsafeCell` standing for
//! `PLocal`) is ordered after the previous owner's (no causality violation).
//! `gort_mutate="retake_without_cas"` replaces the retake's CAS with a load and a store: the
//! model must then fail.
#![cfg(loom)]

use gort_runtime::model::Model;
use loom::cell::UnsafeCell;
use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::sync::Arc;
use loom::thread;

/// The P's owner-only state, as loom sees it: only the P's owner may touch it.
struct Local(UnsafeCell<u32>);
// SAFETY: loom checks every access for a happens-before order.
unsafe impl Sync for Local {}

impl Local {
    fn touch(&self) {
        // SAFETY: checked by loom.
        self.0.with_mut(|p| unsafe { *p += 1 });
    }
}

#[test]
fn model5_syscall_exit_vs_retake() {
    loom_tests::model("5 syscall exit vs sysmon retake", || {
        let m = Model::new(1);
        let h = m.handle();
        let local = Arc::new(Local(UnsafeCell::new(0)));
        let winners = Arc::new(AtomicUsize::new(0));
        // The M, before the call, owns the P and uses it.
        local.touch();
        let p = h.enter_syscall(0);
        let (l2, w2) = (local.clone(), winners.clone());
        let sysmon = thread::spawn(move || {
            if let Some(r) = h.sysmon_retake(0) {
                w2.fetch_add(1, Ordering::SeqCst);
                l2.touch(); // handoffp's new owner uses the P
                h.give_back(r);
            }
        });
        if p.exit() {
            winners.fetch_add(1, Ordering::SeqCst);
            local.touch(); // the G runs on with its P
            p.finish_to_idle(&h);
        }
        sysmon.join().unwrap();
        assert_eq!(
            winners.load(Ordering::SeqCst),
            1,
            "the P must have exactly one owner"
        );
        m.shutdown();
    });
}
