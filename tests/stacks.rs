//! Stacks at scale, through the public API: the mprotect fallback's budget, and overflow
//! reports with many Gs parked. (The slab allocator's own tests are in runtime/tests/.)

mod common;

use std::time::Duration;

// The forced mprotect fallback reaches its budget and `Builder::spawn` returns the clear error
// (not a crash or a hang); Gs already running are unaffected.
child_test!(fn mprotect_budget_gives_clear_error() ["GORT_STACK_GUARD" => "mprotect", "GORT_MAXPROCS" => "2"] {
    let outcome = gort::spawn(|| {
        let mut hs = Vec::new();
        let err = loop {
            // The default stack size: the budget counts guarded stacks per size class (see
            // docs/stacks.md), and the final spawn below uses the default class too.
            match gort::Builder::new().spawn(|| gort::sleep(Duration::from_millis(1500)))
            {
                Ok(h) => hs.push(h),
                Err(e) => break e,
            }
            // Let the new G run and take its stack, so the budget check sees it.
            gort::yield_now();
            assert!(hs.len() < 200_000, "no budget error after {} Gs", hs.len());
        };
        let n = hs.len();
        for h in hs {
            if let Err(e) = h.join() { panic!("a G that started before the budget ran out failed: {:?}", e.downcast_ref::<String>().map(String::as_str).or(e.downcast_ref::<&str>().copied())); }
        }
        (n, err.to_string())
    })
    .join()
    .unwrap();
    let (n, msg) = outcome;
    eprintln!("budget reached after {n} Gs: {msg}");
    assert!(n > 1_000, "budget reached after only {n} stacks");
    assert!(msg.contains("vm.max_map_count"), "{msg}");
    assert!(msg.contains("live"), "{msg}");
    // The runtime still works once the stacks are free again.
    assert_eq!(gort::spawn(|| 1).join().unwrap(), 1);
});

// A stack overflow in a G carved from a slab, while 100,000 other Gs are parked, gives the named
// message.
#[test]
fn overflow_with_many_parked_child() {
    if !common::is_child() {
        return;
    }
    let parked: Vec<_> = (0..100_000)
        .map(|_| gort::spawn(|| gort::sleep(Duration::from_secs(60))))
        .collect();
    while gort::num_goroutine() < 100_000 {
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(200));
    #[allow(unconditional_recursion)]
    fn recurse(n: u64) -> u64 {
        let buf = std::hint::black_box([n; 32]);
        recurse(buf[1] + 1) + buf[2]
    }
    let h = gort::Builder::new()
        .name("overflower")
        .stack_size(32 * 1024)
        .spawn(|| recurse(0))
        .unwrap();
    let _ = h.join();
    drop(parked);
}

#[test]
fn overflow_with_many_parked() {
    if common::is_child() {
        return;
    }
    let out = common::run_child("overflow_with_many_parked_child", &[]);
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(out.status.signal(), Some(6), "{:?}", out.status);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("'overflower' has overflowed its stack (32 KiB); raise it with Builder::stack_size or GORT_STACK_SIZE"),
        "{stderr}"
    );
}
