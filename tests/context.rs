//! gort::context, ported from Go's src/context tests (x_test.go, afterfunc_test.go; the linkage
//! tests of context_test.go are unit tests beside the code, runtime/src/context.rs), plus the
//! cancellable blocking calls.
//!
//! Not ported, on purpose:
//! * `TestTODO` (gort has no `TODO()`), `TestAllocs` (Go's allocation counts),
//!   `TestWithValueChecksKey` and `TestInvalidDerivedFail` (a key is a type and a parent is a
//!   reference in Rust: nil or non-comparable keys and nil parents cannot be written);
//! * `TestCustomContextPropagation`, `TestCustomContextCause`, the three custom-context rows of
//!   `TestCause`, and afterfunc_test.go's `TestCustomContextAfterFunc*`: they test user types
//!   implementing Go's `Context` interface (and its `AfterFunc` method); gort's `Context` is a
//!   concrete type. `otherContext{c}` (a forwarding wrapper) is played by `with_value(c, ())`.
use gort::context::{self, Canceled, Context, DeadlineExceeded};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Go's `shortDuration`.
const SHORT: Duration = Duration::from_millis(1);
/// Go's `veryLongDuration`.
const VERY_LONG: Duration = Duration::from_secs(1000 * 3600);
/// Go's `quiescent(t)`: how long a test waits for something that must happen (generous: a
/// loaded 2-core machine).
const QUIESCENT: Duration = Duration::from_secs(30);

/// `other_context(c)`: a context that forwards everything to `c` (Go's `otherContext{c}`).
fn other(c: &Context) -> Context {
    context::with_value(c, ())
}

fn is_done(c: &Context) -> bool {
    c.done().is_closed()
}

/// Waits (bounded) for `c` to end.
fn wait_done(c: &Context, what: &str) {
    let done = c.done();
    let t = gort::time::after(QUIESCENT);
    gort::select! {
        recv(done) -> _ => {},
        recv(t) -> _ => panic!("{what}: context not done after {QUIESCENT:?}"),
    }
}

fn cause_str(c: &Context) -> Option<String> {
    c.cause().map(|e| e.to_string())
}

// Go: x_test.go, TestBackground
#[test]
fn background() {
    let c = context::background();
    assert!(!is_done(&c));
    assert_eq!(c.done().try_recv(), Err(gort::chan::TryRecvError::Empty));
    assert_eq!(c.to_string(), "context.Background");
}

// Go: x_test.go, TestWithCancel
#[test]
fn with_cancel() {
    let (c1, cancel) = context::with_cancel(&context::background());
    assert_eq!(c1.to_string(), "context.Background.WithCancel");
    let o = other(&c1);
    let (c2, _c2cancel) = context::with_cancel(&o);
    let contexts = [c1, o, c2];
    for (i, c) in contexts.iter().enumerate() {
        assert_eq!(c.err(), None, "c[{i}].err()");
        assert!(!is_done(c), "<-c[{i}].done() should block");
    }
    cancel.cancel(); // propagates synchronously
    for (i, c) in contexts.iter().enumerate() {
        assert!(is_done(c), "<-c[{i}].done() blocked, but shouldn't have");
        assert_eq!(c.err(), Some(Canceled), "c[{i}].err()");
    }
}

fn test_deadline(c: &Context, name: &str) {
    wait_done(c, name);
    assert_eq!(c.err(), Some(DeadlineExceeded), "{name}: c.err()");
}

// Go: x_test.go, TestDeadline
#[test]
fn deadline() {
    let (c, _k1) = context::with_deadline(&context::background(), Instant::now() + SHORT);
    assert!(
        c.to_string()
            .starts_with("context.Background.WithDeadline("),
        "{c}"
    );
    test_deadline(&c, "WithDeadline");

    let (c, _k2) = context::with_deadline(&context::background(), Instant::now() + SHORT);
    test_deadline(&other(&c), "WithDeadline+otherContext");

    let (c, _k3) = context::with_deadline(&context::background(), Instant::now() + SHORT);
    let o = other(&c);
    let (c, _k4) = context::with_deadline(&o, Instant::now() + VERY_LONG);
    test_deadline(&c, "WithDeadline+otherContext+WithDeadline");

    let (c, _k5) = context::with_deadline(&context::background(), Instant::now() - SHORT);
    test_deadline(&c, "WithDeadline+inthepast");

    let (c, _k6) = context::with_deadline(&context::background(), Instant::now());
    test_deadline(&c, "WithDeadline+now");
}

// Go: x_test.go, TestTimeout
#[test]
fn timeout() {
    let (c, _k1) = context::with_timeout(&context::background(), SHORT);
    assert!(
        c.to_string()
            .starts_with("context.Background.WithDeadline("),
        "{c}"
    );
    test_deadline(&c, "WithTimeout");

    let (c, _k2) = context::with_timeout(&context::background(), SHORT);
    test_deadline(&other(&c), "WithTimeout+otherContext");

    let (c, _k3) = context::with_timeout(&context::background(), SHORT);
    let o = other(&c);
    let (c, _k4) = context::with_timeout(&o, VERY_LONG);
    test_deadline(&c, "WithTimeout+otherContext+WithTimeout");
}

// Go: x_test.go, TestCanceledTimeout
#[test]
fn canceled_timeout() {
    let (c, _k) = context::with_timeout(&context::background(), Duration::from_secs(1));
    let o = other(&c);
    let (c, cancel) = context::with_timeout(&o, VERY_LONG);
    cancel.cancel(); // propagates synchronously
    assert!(is_done(&c), "<-c.done() blocked, but shouldn't have");
    assert_eq!(c.err(), Some(Canceled));
}

// Go: x_test.go, TestValues. Keys are types in gort: Go's key1(1), key2(1), key2(3) become
// three newtypes; Go's `WithValue(c3, k1, nil)` (which hides k1's value) becomes a K1 holding
// `None`.
#[derive(Debug)]
struct K1(Option<&'static str>);
#[derive(Debug)]
struct K2(Option<&'static str>);
#[derive(Debug)]
struct K3(Option<&'static str>);

#[test]
fn values() {
    fn check(c: &Context, nm: &str, v1: &str, v2: &str, v3: &str) {
        let got1 = c.value::<K1>().and_then(|k| k.0).unwrap_or("");
        let got2 = c.value::<K2>().and_then(|k| k.0).unwrap_or("");
        let got3 = c.value::<K3>().and_then(|k| k.0).unwrap_or("");
        assert_eq!((got1, got2, got3), (v1, v2, v3), "{nm}");
    }
    let name = |t: &str| format!("WithValue({t})");
    let (n1, n2, n3) = (
        name(std::any::type_name::<K1>()),
        name(std::any::type_name::<K2>()),
        name(std::any::type_name::<K3>()),
    );

    let c0 = context::background();
    check(&c0, "c0", "", "", "");

    let c1 = context::with_value(&context::background(), K1(Some("c1k1")));
    check(&c1, "c1", "c1k1", "", "");
    assert_eq!(c1.to_string(), format!("context.Background.{n1}"));

    let c2 = context::with_value(&c1, K2(Some("c2k2")));
    check(&c2, "c2", "c1k1", "c2k2", "");
    assert_eq!(c2.to_string(), format!("context.Background.{n1}.{n2}"));

    let c3 = context::with_value(&c2, K3(Some("c3k3")));
    check(&c3, "c3", "c1k1", "c2k2", "c3k3");

    let c4 = context::with_value(&c3, K1(None));
    check(&c4, "c4", "", "c2k2", "c3k3");
    assert_eq!(
        c4.to_string(),
        format!("context.Background.{n1}.{n2}.{n3}.{n1}")
    );

    let o0 = other(&context::background());
    check(&o0, "o0", "", "", "");

    let o1 = other(&context::with_value(
        &context::background(),
        K1(Some("c1k1")),
    ));
    check(&o1, "o1", "c1k1", "", "");

    let o2 = context::with_value(&o1, K2(Some("o2k2")));
    check(&o2, "o2", "c1k1", "o2k2", "");

    let o3 = other(&c4);
    check(&o3, "o3", "", "c2k2", "c3k3");

    let o4 = context::with_value(&o3, K3(None));
    check(&o4, "o4", "", "c2k2", "");
}

// Go: x_test.go, TestSimultaneousCancels
#[test]
fn simultaneous_cancels() {
    let (root, cancel) = context::with_cancel(&context::background());
    let mut all = vec![(root.clone(), cancel)];
    let mut q = std::collections::VecDeque::from([root]);
    // A tree of contexts.
    while let Some(parent) = q.pop_front() {
        if all.len() >= 100 {
            break;
        }
        for _ in 0..4 {
            let (ctx, cancel) = context::with_cancel(&parent);
            all.push((ctx.clone(), cancel));
            q.push_back(ctx);
        }
    }
    // Start all the cancels, in a random order (the order the Ps pick them up).
    let wg = Arc::new(gort::sync::WaitGroup::new());
    let mut ctxs = Vec::new();
    for (ctx, cancel) in all {
        ctxs.push(ctx);
        wg.go(move || cancel.cancel());
    }
    // Wait on all the contexts.
    for ctx in &ctxs {
        wait_done(ctx, "simultaneous cancels");
    }
    // Wait for all the cancel functions to return.
    let done = gort::spawn({
        let wg = wg.clone();
        move || wg.wait()
    });
    let t = Instant::now();
    while !done.is_finished() {
        assert!(t.elapsed() < QUIESCENT, "cancel functions did not return");
        std::thread::sleep(Duration::from_millis(1));
    }
}

// Go: x_test.go, TestInterlockedCancels
#[test]
fn interlocked_cancels() {
    let (parent, cancel_parent) = context::with_cancel(&context::background());
    let (child, cancel_child) = context::with_cancel(&parent);
    let p2 = parent.clone();
    let h = gort::spawn(move || {
        let _ = p2.done().recv();
        cancel_child.cancel();
    });
    cancel_parent.cancel();
    wait_done(&child, "interlocked cancels");
    h.join().unwrap();
}

/// Go: x_test.go, testLayers (TestLayersCancel, TestLayersTimeout).
fn layers(seed: u64, test_timeout: bool) {
    let mut r = seed;
    let mut next = |n: u64| {
        r ^= r << 13;
        r ^= r >> 7;
        r ^= r << 17;
        r % n
    };
    #[derive(Debug, PartialEq)]
    struct Value(usize);
    // One distinct type per value layer is not possible at run time: a layer holds a Vec of
    // the keys so far, and each key must be found at its own layer.
    #[derive(Debug)]
    struct Layer(usize);
    let mut vals = Vec::new();
    let mut cancels = Vec::new();
    let mut num_timers = 0;
    let mut ctx = context::background();
    let mut i = 0;
    while i < 30 || num_timers == 0 || cancels.is_empty() || vals.is_empty() {
        match next(3) {
            0 => {
                vals.push(i);
                ctx = context::with_value(&ctx, Value(i));
                ctx = context::with_value(&ctx, Layer(vals.len()));
            }
            1 => {
                let (c, cancel) = context::with_cancel(&ctx);
                ctx = c;
                cancels.push(cancel);
            }
            _ => {
                let d = if test_timeout { SHORT } else { VERY_LONG };
                let (c, cancel) = context::with_timeout(&ctx, d);
                ctx = c;
                cancels.push(cancel);
                num_timers += 1;
            }
        }
        i += 1;
    }
    let check_values = |when: &str| {
        // The innermost value is the last one set; the layer count says how many there are.
        assert_eq!(
            ctx.value::<Value>(),
            Some(&Value(*vals.last().unwrap())),
            "seed={seed} {when}"
        );
        assert_eq!(ctx.value::<Layer>().map(|l| l.0), Some(vals.len()));
    };
    if !test_timeout {
        assert!(
            !is_done(&ctx),
            "seed={seed}: ctx should not be canceled yet"
        );
    }
    assert!(ctx.to_string().starts_with("context.Background."), "{ctx}");
    check_values("before cancel");
    if test_timeout {
        wait_done(&ctx, "layers timeout");
        check_values("after timeout");
    } else {
        let k = next(cancels.len() as u64) as usize;
        cancels[k].cancel();
        assert!(is_done(&ctx), "seed={seed}: ctx should be canceled");
        check_values("after cancel");
    }
}

fn seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1
}

// Go: x_test.go, TestLayersCancel
#[test]
fn layers_cancel() {
    layers(seed(), false);
}

// Go: x_test.go, TestLayersTimeout
#[test]
fn layers_timeout() {
    layers(seed(), true);
}

// Go: x_test.go, TestWithCancelCanceledParent
#[test]
fn with_cancel_canceled_parent() {
    let (parent, pcancel) = context::with_cancel_cause(&context::background());
    pcancel.cancel("Because!");
    let (c, _k) = context::with_cancel(&parent);
    assert!(is_done(&c), "child not done immediately upon construction");
    assert_eq!(c.err(), Some(Canceled));
    assert_eq!(cause_str(&c).as_deref(), Some("Because!"));
}

// Go: x_test.go, TestWithCancelSimultaneouslyCanceledParent
#[test]
fn with_cancel_simultaneously_canceled_parent() {
    for _ in 0..100 {
        let (parent, pcancel) = context::with_cancel_cause(&context::background());
        let h = gort::spawn(move || pcancel.cancel("Because!"));
        let (c, _k) = context::with_cancel(&parent);
        let _ = c.done().recv();
        assert_eq!(c.err(), Some(Canceled));
        assert_eq!(cause_str(&c).as_deref(), Some("Because!"));
        h.join().unwrap();
    }
}

// Go: x_test.go, TestDeadlineExceededSupportsTimeout
#[test]
fn deadline_exceeded_supports_timeout() {
    assert!(DeadlineExceeded.is_timeout());
    assert_eq!(
        std::io::Error::from(DeadlineExceeded).kind(),
        std::io::ErrorKind::TimedOut
    );
}

// Go: x_test.go, TestCause (all rows but TODO and the three custom-context ones)
#[test]
fn cause() {
    const FOREVER: Duration = Duration::from_secs(1_000_000);
    fn bg() -> Context {
        context::background()
    }
    type Case = (
        &'static str,
        fn() -> Context,
        Option<context::Error>,
        Option<&'static str>,
    );
    let cases: Vec<Case> = vec![
        ("Background", || bg(), None, None),
        (
            "WithCancel",
            || context::with_cancel(&bg()).0, // the handle drops: cancel()
            Some(Canceled),
            Some("context canceled"),
        ),
        (
            "WithCancelCause",
            || {
                let (ctx, cancel) = context::with_cancel_cause(&bg());
                cancel.cancel("parentCause");
                ctx
            },
            Some(Canceled),
            Some("parentCause"),
        ),
        (
            "WithCancelCause nil",
            || context::with_cancel_cause(&bg()).0, // dropped: no cause
            Some(Canceled),
            Some("context canceled"),
        ),
        (
            "WithCancelCause: parent cause before child",
            || {
                let (ctx, cancel_parent) = context::with_cancel_cause(&bg());
                let (ctx, cancel_child) = context::with_cancel_cause(&ctx);
                cancel_parent.cancel("parentCause");
                cancel_child.cancel("childCause");
                ctx
            },
            Some(Canceled),
            Some("parentCause"),
        ),
        (
            "WithCancelCause: parent cause after child",
            || {
                let (ctx, cancel_parent) = context::with_cancel_cause(&bg());
                let (ctx, cancel_child) = context::with_cancel_cause(&ctx);
                cancel_child.cancel("childCause");
                cancel_parent.cancel("parentCause");
                ctx
            },
            Some(Canceled),
            Some("childCause"),
        ),
        (
            "WithCancelCause: parent cause before nil",
            || {
                let (ctx, cancel_parent) = context::with_cancel_cause(&bg());
                let (ctx, cancel_child) = context::with_cancel(&ctx);
                cancel_parent.cancel("parentCause");
                cancel_child.cancel();
                ctx
            },
            Some(Canceled),
            Some("parentCause"),
        ),
        (
            "WithCancelCause: parent cause after nil",
            || {
                let (ctx, cancel_parent) = context::with_cancel_cause(&bg());
                let (ctx, cancel_child) = context::with_cancel(&ctx);
                cancel_child.cancel();
                cancel_parent.cancel("parentCause");
                ctx
            },
            Some(Canceled),
            Some("context canceled"),
        ),
        (
            "WithCancelCause: child cause after nil",
            || {
                let (ctx, cancel_parent) = context::with_cancel(&bg());
                let (ctx, cancel_child) = context::with_cancel_cause(&ctx);
                cancel_parent.cancel();
                cancel_child.cancel("childCause");
                ctx
            },
            Some(Canceled),
            Some("context canceled"),
        ),
        (
            "WithCancelCause: child cause before nil",
            || {
                let (ctx, cancel_parent) = context::with_cancel(&bg());
                let (ctx, cancel_child) = context::with_cancel_cause(&ctx);
                cancel_child.cancel("childCause");
                cancel_parent.cancel();
                ctx
            },
            Some(Canceled),
            Some("childCause"),
        ),
        (
            "WithTimeout",
            || context::with_timeout(&bg(), Duration::ZERO).0,
            Some(DeadlineExceeded),
            Some("context deadline exceeded"),
        ),
        (
            "WithTimeout canceled",
            || context::with_timeout(&bg(), FOREVER).0,
            Some(Canceled),
            Some("context canceled"),
        ),
        (
            "WithTimeoutCause",
            || context::with_timeout_cause(&bg(), Duration::ZERO, "tooSlow").0,
            Some(DeadlineExceeded),
            Some("tooSlow"),
        ),
        (
            "WithTimeoutCause canceled",
            || context::with_timeout_cause(&bg(), FOREVER, "tooSlow").0,
            Some(Canceled),
            Some("context canceled"),
        ),
        (
            "WithTimeoutCause stacked",
            || {
                let (ctx, cancel) = context::with_cancel_cause(&bg());
                let (ctx, _k) = context::with_timeout_cause(&ctx, Duration::ZERO, "tooSlow");
                cancel.cancel("finishedEarly");
                drop(_k); // the deadline had passed already: this cancel is a no-op
                ctx
            },
            Some(DeadlineExceeded),
            Some("tooSlow"),
        ),
        (
            "WithTimeoutCause stacked canceled",
            || {
                let (ctx, cancel) = context::with_cancel_cause(&bg());
                let (ctx, k) = context::with_timeout_cause(&ctx, FOREVER, "tooSlow");
                cancel.cancel("finishedEarly");
                drop(k); // after the parent: the first cancellation counts
                ctx
            },
            Some(Canceled),
            Some("finishedEarly"),
        ),
        (
            "WithoutCancel",
            || context::without_cancel(&bg()),
            None,
            None,
        ),
        (
            "WithoutCancel canceled",
            || {
                let (ctx, cancel) = context::with_cancel_cause(&bg());
                let ctx = context::without_cancel(&ctx);
                cancel.cancel("finishedEarly");
                ctx
            },
            None,
            None,
        ),
        (
            "WithoutCancel timeout",
            || {
                let (ctx, cancel) = context::with_timeout_cause(&bg(), Duration::ZERO, "tooSlow");
                let ctx = context::without_cancel(&ctx);
                cancel.cancel();
                ctx
            },
            None,
            None,
        ),
    ];
    for (name, make, err, cause) in cases {
        let ctx = make();
        assert_eq!(ctx.err(), err, "{name}: ctx.err()");
        assert_eq!(cause_str(&ctx).as_deref(), cause, "{name}: cause");
    }
}

// Go: x_test.go, TestCauseRace
#[test]
fn cause_race() {
    let (ctx, cancel) = context::with_cancel_cause(&context::background());
    let h = gort::spawn(move || cancel.cancel("TestCauseRace"));
    loop {
        // Poll cause rather than wait for done: access to the cause must be synchronised.
        if let Some(c) = ctx.cause() {
            assert_eq!(c.to_string(), "TestCauseRace");
            break;
        }
        std::thread::yield_now();
    }
    h.join().unwrap();
}

// Go: x_test.go, TestWithoutCancel
#[test]
fn without_cancel() {
    #[derive(Debug, PartialEq)]
    struct Key(&'static str);
    let ctx = context::with_value(&context::background(), Key("value"));
    let ctx = context::without_cancel(&ctx);
    assert_eq!(ctx.deadline(), None);
    assert!(!is_done(&ctx));
    assert_eq!(ctx.err(), None);
    assert_eq!(ctx.value::<Key>(), Some(&Key("value")));
}

/// `after(d)` as a bool: true if `rx` got something within `d`.
fn recv_within(rx: &gort::chan::Receiver<()>, d: Duration) -> bool {
    rx.recv_timeout(d).is_ok()
}

// Go: x_test.go, TestAfterFuncCalledAfterCancel
#[test]
fn after_func_called_after_cancel() {
    let (ctx, cancel) = context::with_cancel(&context::background());
    let (tx, donec) = gort::chan::bounded(1);
    let stop = context::after_func(&ctx, move || tx.send(()).unwrap());
    assert!(
        !recv_within(&donec, SHORT),
        "after_func called before the context is done"
    );
    cancel.cancel();
    assert!(
        recv_within(&donec, QUIESCENT),
        "after_func not called after cancel"
    );
    assert!(!stop.stop(), "stop() = true, want false");
}

// Go: x_test.go, TestAfterFuncCalledAfterTimeout
#[test]
fn after_func_called_after_timeout() {
    let (ctx, _cancel) = context::with_timeout(&context::background(), SHORT);
    let (tx, donec) = gort::chan::bounded(1);
    let _stop = context::after_func(&ctx, move || tx.send(()).unwrap());
    assert!(
        recv_within(&donec, QUIESCENT),
        "after_func not called after timeout"
    );
}

// Go: x_test.go, TestAfterFuncCalledImmediately
#[test]
fn after_func_called_immediately() {
    let (ctx, cancel) = context::with_cancel(&context::background());
    cancel.cancel();
    let (tx, donec) = gort::chan::bounded(1);
    let _stop = context::after_func(&ctx, move || tx.send(()).unwrap());
    assert!(
        recv_within(&donec, QUIESCENT),
        "not called for a cancelled context"
    );
}

// Go: x_test.go, TestAfterFuncNotCalledAfterStop
#[test]
fn after_func_not_called_after_stop() {
    let (ctx, cancel) = context::with_cancel(&context::background());
    let (tx, donec) = gort::chan::bounded(1);
    let stop = context::after_func(&ctx, move || tx.send(()).unwrap());
    assert!(stop.stop(), "stop() = false, want true");
    cancel.cancel();
    assert!(!recv_within(&donec, SHORT), "after_func called after stop");
    assert!(!stop.stop(), "stop() = true, want false");
}

// Go: x_test.go, TestAfterFuncCalledAsynchronously: cancel does not wait for the after-funcs.
#[test]
fn after_func_called_asynchronously() {
    let (ctx, cancel) = context::with_cancel(&context::background());
    let (tx, donec) = gort::chan::bounded(0);
    let _stop = context::after_func(&ctx, move || {
        tx.send(()).unwrap(); // blocks until donec is read
    });
    cancel.cancel();
    assert!(
        recv_within(&donec, QUIESCENT),
        "after_func not called after cancel"
    );
}

// Go: x_test.go, TestContextErrDoneRace (issue #75533): once err() is set, done is closed.
#[test]
fn context_err_done_race() {
    for _ in 0..200 {
        let (ctx, cancel) = context::with_cancel(&context::background());
        let done = ctx.done().clone();
        let h = gort::spawn(move || cancel.cancel());
        while ctx.err().is_none() {
            std::hint::spin_loop();
        }
        assert!(
            done.is_closed(),
            "ctx.err() is set, but ctx.done() is not closed"
        );
        h.join().unwrap();
    }
}

// ---- gort: dropping handles, deep trees, and the cancellable blocking calls ------------------

#[test]
fn dropping_the_handle_cancels_and_unlinks() {
    let (parent, _keep) = context::with_cancel(&context::background());
    let child = {
        let (child, _cancel) = context::with_timeout(&parent, VERY_LONG);
        child
    };
    assert_eq!(child.err(), Some(Canceled));
    assert_eq!(parent.err(), None);
}

/// A tree of 100,000 contexts (fan-out 10) ends with one cancel; every Gs parked on a leaf's
/// done channel wakes.
#[test]
fn cancel_tree_of_100k_ends_every_descendant() {
    let (root, cancel) = context::with_cancel(&context::background());
    let mut level = vec![root];
    let mut handles = Vec::new();
    let mut all = Vec::new();
    while all.len() < 100_000 {
        let mut next = Vec::new();
        for p in &level {
            for _ in 0..10 {
                if all.len() >= 100_000 {
                    break;
                }
                let (c, h) = context::with_cancel(p);
                handles.push(h);
                all.push(c.clone());
                next.push(c);
            }
        }
        level = next;
    }
    let waiters: Vec<_> = all
        .iter()
        .step_by(1000)
        .map(|c| {
            let c = c.clone();
            gort::spawn(move || {
                let done = c.done();
                gort::select! { recv(done) -> _ => c.err() }
            })
        })
        .collect();
    cancel.cancel();
    assert!(all.iter().all(|c| c.err() == Some(Canceled) && is_done(c)));
    for w in waiters {
        assert_eq!(w.join().unwrap(), Some(Canceled));
    }
}

/// Runs `wait` in a G on a context cancelled ~5 ms later (while it waits); returns its result.
fn cancelled_while_waiting<T: Send + 'static>(
    wait: impl FnOnce(Context) -> T + Send + 'static,
) -> T {
    let (ctx, cancel) = context::with_cancel(&context::background());
    let started = Arc::new(AtomicBool::new(false));
    let s2 = started.clone();
    let h = gort::spawn(move || {
        s2.store(true, Ordering::SeqCst);
        wait(ctx)
    });
    while !started.load(Ordering::SeqCst) {
        std::thread::yield_now();
    }
    std::thread::sleep(Duration::from_millis(5));
    cancel.cancel();
    h.join().unwrap()
}

#[test]
fn blocking_calls_return_the_context_error_when_cancelled() {
    let r = cancelled_while_waiting(|ctx| gort::sleep_ctx(&ctx, VERY_LONG));
    assert_eq!(r, Err(Canceled));

    let (_tx, rx) = gort::chan::bounded::<u8>(0);
    let r = cancelled_while_waiting(move |ctx| rx.recv_ctx(&ctx));
    assert_eq!(r, Err(gort::chan::RecvCtxError::Context(Canceled)));

    let (tx, _rx) = gort::chan::bounded::<u8>(0);
    let r = cancelled_while_waiting(move |ctx| tx.send_ctx(&ctx, 3).map_err(|e| e.into_inner()));
    assert_eq!(r, Err(3));

    let sem = Arc::new(gort::sync::Semaphore::new(1));
    let held = sem.acquire_many(1);
    let s2 = sem.clone();
    let r = cancelled_while_waiting(move |ctx| s2.acquire_many_ctx(&ctx, 1).map(|p| p.forget()));
    assert_eq!(r, Err(Canceled));
    drop(held);
    assert_eq!(
        sem.available_permits(),
        1,
        "a cancelled acquire left permits taken"
    );

    let g = gort::errgroup::Group::<String>::new();
    let (stop_tx, stop_rx) = gort::chan::bounded::<()>(0);
    g.go(move || {
        let _ = stop_rx.recv();
        Ok(())
    });
    let g2 = g.clone();
    let r = cancelled_while_waiting(move |ctx| g2.wait_ctx(&ctx));
    assert_eq!(r, Err(Canceled));
    drop(stop_tx);
    assert_eq!(g.wait(), Ok(()));
}

/// The channel and sleep forms with a deadline end with `DeadlineExceeded`; an ended context
/// wins over a ready channel.
#[test]
fn blocking_calls_with_deadlines() {
    let (ctx, _c) = context::with_timeout(&context::background(), Duration::from_millis(5));
    assert_eq!(gort::sleep_ctx(&ctx, VERY_LONG), Err(DeadlineExceeded));
    let (tx, rx) = gort::chan::bounded(1);
    tx.send(1).unwrap();
    assert_eq!(
        rx.recv_ctx(&ctx),
        Err(gort::chan::RecvCtxError::Context(DeadlineExceeded))
    );
    assert_eq!(rx.recv_ctx(&context::background()), Ok(1));
    drop(tx);
    assert_eq!(
        rx.recv_ctx(&context::background()),
        Err(gort::chan::RecvCtxError::Closed)
    );
    // From a plain thread too.
    let (ctx, _c) = context::with_timeout(&context::background(), Duration::from_millis(5));
    let (_tx, rx) = gort::chan::bounded::<u8>(0);
    let r = std::thread::spawn(move || rx.recv_ctx(&ctx))
        .join()
        .unwrap();
    assert_eq!(r, Err(gort::chan::RecvCtxError::Context(DeadlineExceeded)));
}

/// A listener whose accept queue is full: further connects hang in SYN-SENT (Linux drops the
/// SYN), so only the context can end them.
#[cfg(target_os = "linux")]
fn unresponsive_listener() -> (
    std::net::TcpListener,
    Vec<std::net::TcpStream>,
    std::net::SocketAddr,
) {
    use std::os::fd::FromRawFd;
    // SAFETY: plain socket calls on a descriptor we own; the address struct is initialised.
    let l = unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        assert!(fd >= 0);
        let mut a: libc::sockaddr_in = std::mem::zeroed();
        a.sin_family = libc::AF_INET as libc::sa_family_t;
        a.sin_addr.s_addr = u32::from_ne_bytes([127, 0, 0, 1]);
        let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        assert_eq!(
            libc::bind(fd, &a as *const _ as *const libc::sockaddr, len),
            0
        );
        assert_eq!(libc::listen(fd, 0), 0);
        std::net::TcpListener::from_raw_fd(fd)
    };
    let addr = l.local_addr().unwrap();
    // Fill the queue (backlog 0 admits one; a second for good measure, with a short timeout).
    let mut fill = Vec::new();
    for _ in 0..2 {
        if let Ok(s) = std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
            fill.push(s);
        }
    }
    (l, fill, addr)
}

#[cfg(target_os = "linux")]
#[test]
fn connect_ctx_is_cancelled_and_times_out() {
    use gort::net::TcpStream;
    let (_l, _fill, addr) = unresponsive_listener();
    let r = cancelled_while_waiting(move |ctx| TcpStream::connect_ctx(&ctx, addr).map(drop));
    let e = r.expect_err("connect to a full accept queue completed");
    assert_eq!(
        e.get_ref().and_then(|e| e.downcast_ref::<context::Error>()),
        Some(&Canceled),
        "{e}"
    );
    let (ctx, _c) = context::with_timeout(&context::background(), Duration::from_millis(20));
    let e = TcpStream::connect_ctx(&ctx, addr).expect_err("connect completed");
    assert_eq!(e.kind(), std::io::ErrorKind::TimedOut, "{e}");
    // A live listener still connects.
    let ok = gort::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let (ctx, _c) = context::with_timeout(&context::background(), QUIESCENT);
    TcpStream::connect_ctx(&ctx, ok.local_addr().unwrap()).unwrap();
}

#[test]
fn contexts_and_handles_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Context>();
    send_sync::<context::CancelHandle>();
    send_sync::<context::CancelCauseHandle>();
    send_sync::<context::AfterFuncHandle>();
    send_sync::<gort::errgroup::Group<String>>();
    send_sync::<gort::sync::Pool<Vec<u8>>>();
    send_sync::<gort::sync::Semaphore>();
}
