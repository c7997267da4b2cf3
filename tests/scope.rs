//! gort::scope: Gs that borrow from the caller's stack (std::thread::scope's contract; the
//! compile_fail borrow rules are doctests on `gort::scope`).
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

#[test]
fn borrows_and_joins_every_g() {
    let mut v = vec![0u64; 1000];
    let base = 7u64;
    gort::scope(|s| {
        for (i, x) in v.iter_mut().enumerate() {
            s.spawn(move || *x = i as u64 * base);
        }
    });
    assert!(v.iter().enumerate().all(|(i, x)| *x == i as u64 * 7));
}

/// A G that parks inside the scope (a channel, a sleep) is still joined before scope returns.
#[test]
fn parked_gs_are_joined() {
    let finished = AtomicUsize::new(0);
    let (tx, rx) = gort::chan::bounded::<u32>(0);
    gort::scope(|s| {
        for _ in 0..10 {
            let rx = rx.clone();
            let finished = &finished;
            s.spawn(move || {
                let _ = rx.recv(); // parks until the value or the close
                gort::sleep(Duration::from_millis(2)); // and parks again
                finished.fetch_add(1, Ordering::SeqCst);
            });
        }
        drop(rx);
        // The scope closure returns while all ten are parked.
        drop(gort::spawn(move || {
            gort::sleep(Duration::from_millis(5));
            drop(tx);
        }));
    });
    assert_eq!(finished.load(Ordering::SeqCst), 10);
}

#[test]
fn join_returns_results_and_panics() {
    let data = [1, 2, 3];
    gort::scope(|s| {
        let a = s.spawn(|| data.iter().sum::<i32>());
        let b = s.spawn(|| -> i32 { panic!("scoped boom") });
        assert_eq!(a.join().unwrap(), 6);
        let p = b.join().unwrap_err();
        assert_eq!(p.downcast_ref::<&str>(), Some(&"scoped boom"));
    });
}

/// An unjoined panic makes `scope` panic, after every G ended.
#[test]
fn unjoined_panic_is_reraised_after_all_end() {
    let ended = AtomicUsize::new(0);
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        gort::scope(|s| {
            s.spawn(|| panic!("nobody joins me"));
            s.spawn(|| {
                gort::sleep(Duration::from_millis(10));
                ended.fetch_add(1, Ordering::SeqCst);
            });
        })
    }));
    let p = r.unwrap_err();
    assert_eq!(
        p.downcast_ref::<&str>(),
        Some(&"a scoped green thread panicked")
    );
    assert_eq!(ended.load(Ordering::SeqCst), 1);
}

/// A panic of the scope closure itself is re-raised, after its Gs ended.
#[test]
fn scope_closure_panic_waits_then_reraises() {
    let ended = AtomicUsize::new(0);
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        gort::scope(|s| {
            s.spawn(|| {
                gort::sleep(Duration::from_millis(10));
                ended.fetch_add(1, Ordering::SeqCst);
            });
            panic!("scope body failed");
        })
    }));
    assert_eq!(
        r.unwrap_err().downcast_ref::<&str>(),
        Some(&"scope body failed")
    );
    assert_eq!(ended.load(Ordering::SeqCst), 1);
}

/// Nested spawns through the scope, from a G, and scope used from inside a G.
#[test]
fn nested_spawns_and_scope_in_a_g() {
    let n = AtomicUsize::new(0);
    gort::spawn(|| ()).join().unwrap();
    let total = gort::spawn(move || {
        gort::scope(|s| {
            for _ in 0..10 {
                s.spawn(|| {
                    for _ in 0..10 {
                        s.spawn(|| {
                            n.fetch_add(1, Ordering::Relaxed);
                        });
                    }
                });
            }
        });
        n.load(Ordering::Relaxed)
    })
    .join()
    .unwrap();
    assert_eq!(total, 100);
}

/// Forgetting a handle is sound and does not hang the scope (no destructor is relied on).
#[test]
fn forgotten_handles_are_still_joined() {
    let hits = AtomicUsize::new(0);
    gort::scope(|s| {
        for _ in 0..5 {
            let h = s.spawn(|| {
                gort::sleep(Duration::from_millis(1));
                hits.fetch_add(1, Ordering::SeqCst);
            });
            std::mem::forget(h);
        }
    });
    assert_eq!(hits.load(Ordering::SeqCst), 5);
}
