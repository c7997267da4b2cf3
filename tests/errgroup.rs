//! gort::errgroup, ported from golang.org/x/sync errgroup/errgroup_test.go (the examples and
//! tests; `BenchmarkGo` is the comparison runner's `errgroup` workload), plus gort's rules for
//! panics and `wait_ctx`.
use gort::context;
use gort::errgroup::{self, Group};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;
use std::time::Duration;

fn fake_search(kind: &'static str) -> impl Fn(&context::Context, &str) -> Result<String, String> {
    move |_, query| Ok(format!("{kind} result for {query:?}"))
}

// x/sync: ExampleGroup_justErrors (the fetches are stand-ins: no network in tests)
#[test]
fn just_errors() {
    let g = Group::<String>::new();
    for url in [
        "http://www.golang.org/",
        "http://www.google.com/",
        "http://x.invalid/",
    ] {
        g.go(move || {
            if url.ends_with(".invalid/") {
                Err(format!("fetch {url}: no such host"))
            } else {
                Ok(())
            }
        });
    }
    assert_eq!(
        g.wait(),
        Err("fetch http://x.invalid/: no such host".to_string())
    );
}

// x/sync: ExampleGroup_parallel
#[test]
fn parallel() {
    fn google(ctx: &context::Context, query: &'static str) -> Result<Vec<String>, String> {
        let (g, ctx) = errgroup::with_context::<String>(ctx);
        type Search = Box<dyn Fn(&context::Context, &str) -> Result<String, String> + Send>;
        let searches: Vec<Search> = vec![
            Box::new(fake_search("web")),
            Box::new(fake_search("image")),
            Box::new(fake_search("video")),
        ];
        let results = Arc::new(gort::sync::Mutex::new(vec![String::new(); searches.len()]));
        for (i, search) in searches.into_iter().enumerate() {
            let (ctx, results) = (ctx.clone(), results.clone());
            g.go(move || {
                let r = search(&ctx, query)?;
                results.lock()[i] = r;
                Ok(())
            });
        }
        g.wait()?;
        let v = results.lock().clone();
        Ok(v)
    }
    let results = google(&context::background(), "golang").unwrap();
    assert_eq!(
        results,
        [
            "web result for \"golang\"",
            "image result for \"golang\"",
            "video result for \"golang\""
        ]
    );
}

// x/sync: TestZeroGroup
#[test]
fn zero_group() {
    let err1 = Some("errgroup_test: 1");
    let err2 = Some("errgroup_test: 2");
    let cases: [&[Option<&str>]; 5] = [&[], &[None], &[err1], &[err1, None], &[err1, None, err2]];
    for errs in cases {
        let g = Group::<&'static str>::new();
        let mut first = None;
        for (i, err) in errs.iter().copied().enumerate() {
            g.go(move || err.map_or(Ok(()), Err));
            if first.is_none() && err.is_some() {
                first = err;
            }
            assert_eq!(
                g.wait().err(),
                first,
                "after go(|| err) for err in {:?}",
                &errs[..=i]
            );
        }
    }
}

/// The cases of x/sync's TestWithContext and TestCancelCause: members return `errs`, through
/// `go` or `try_go`; `wait` must return `want`; then `check` looks at the derived context.
fn doom_cases(use_try_go: bool, check: impl Fn(&context::Context, Option<&str>)) {
    let doom = "group_test: doomed";
    let cases: [(&[Option<&str>], Option<&str>); 4] = [
        (&[], None),
        (&[None], None),
        (&[Some(doom)], Some(doom)),
        (&[Some(doom), None], Some(doom)),
    ];
    for (errs, want) in cases {
        let (g, ctx) = errgroup::with_context::<&'static str>(&context::background());
        for err in errs.iter().copied() {
            let f = move || err.map_or(Ok(()), Err);
            if use_try_go {
                assert!(g.try_go(f));
            } else {
                g.go(f);
            }
        }
        assert_eq!(g.wait().err(), want, "errs {errs:?}");
        check(&ctx, want);
    }
}

// x/sync: TestWithContext
#[test]
fn with_context() {
    doom_cases(false, |ctx, _| {
        assert!(ctx.done().is_closed(), "ctx.done() was not closed");
    });
}

// x/sync: TestTryGo
#[test]
fn try_go() {
    let g = Group::<()>::new();
    let n = 42;
    g.set_limit(42);
    let (tx, rx) = gort::chan::bounded::<()>(0);
    let f = move || {
        let tx = tx.clone();
        move || {
            tx.send(()).unwrap();
            Ok(())
        }
    };
    for i in 0..n {
        assert!(
            g.try_go(f()),
            "try_go should succeed but failed at call {i}"
        );
    }
    assert!(!g.try_go(f()), "try_go is expected to fail but succeeded");
    let rx2 = rx.clone();
    let h = gort::spawn(move || (0..n).for_each(|_| rx2.recv().unwrap()));
    g.wait().unwrap();
    h.join().unwrap();

    assert!(
        g.try_go(f()),
        "try_go should succeed after all members ended"
    );
    let rx2 = rx.clone();
    let h = gort::spawn(move || rx2.recv().unwrap());
    g.wait().unwrap();
    h.join().unwrap();

    // Switch the limit.
    g.set_limit(1);
    assert!(g.try_go(f()), "try_go should succeed");
    assert!(!g.try_go(f()), "try_go should fail");
    let rx2 = rx.clone();
    let h = gort::spawn(move || rx2.recv().unwrap());
    g.wait().unwrap();
    h.join().unwrap();

    // Block all calls.
    g.set_limit(0);
    for _ in 0..1 << 10 {
        assert!(!g.try_go(f()), "try_go should fail");
    }
    g.wait().unwrap();
}

// x/sync: TestGoLimit
#[test]
fn go_limit() {
    const LIMIT: i32 = 10;
    let g = Group::<String>::new();
    g.set_limit(LIMIT as isize);
    let active = Arc::new(AtomicI32::new(0));
    for _ in 0..=1 << 10 {
        let active = active.clone();
        g.go(move || {
            let n = active.fetch_add(1, Ordering::SeqCst) + 1;
            if n > LIMIT {
                return Err(format!("saw {n} active members; want <= {LIMIT}"));
            }
            gort::sleep(Duration::from_micros(1)); // let others increment `active`
            active.fetch_sub(1, Ordering::SeqCst);
            Ok(())
        });
    }
    g.wait().unwrap();
}

// x/sync: TestCancelCause
#[test]
fn cancel_cause() {
    doom_cases(true, |ctx, want| {
        let want_cause = want.unwrap_or("context canceled");
        assert_eq!(ctx.cause().unwrap().to_string(), want_cause);
    });
}

/// The first error cancels the derived context at once (before `wait`): members watching it
/// stop.
#[test]
fn first_error_cancels_the_others() {
    let (g, ctx) = errgroup::with_context::<String>(&context::background());
    for i in 0..8 {
        let ctx = ctx.clone();
        g.go(move || {
            if i == 3 {
                return Err("member 3 failed".into());
            }
            gort::sleep_ctx(&ctx, Duration::from_secs(3600)).map_err(|e| e.to_string())
        });
    }
    assert_eq!(g.wait(), Err("member 3 failed".to_string()));
    assert_eq!(ctx.err(), Some(context::Canceled));
}

/// gort's rule (errgroup.rs, "Panics in members"): a member's panic cancels the context and is
/// re-raised by `wait` after every member ended, with its payload; later waits panic too.
#[test]
fn member_panic_reaches_wait() {
    let (g, ctx) = errgroup::with_context::<String>(&context::background());
    let finished = Arc::new(AtomicI32::new(0));
    for i in 0..4 {
        let (ctx, finished) = (ctx.clone(), finished.clone());
        g.go(move || {
            if i == 0 {
                panic!("member 0 exploded");
            }
            let _ = ctx.done().recv(); // ended by the panic's cancel
            finished.fetch_add(1, Ordering::SeqCst);
            Ok(())
        });
    }
    let p = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| g.wait())).unwrap_err();
    assert_eq!(p.downcast_ref::<&str>(), Some(&"member 0 exploded"));
    assert_eq!(
        finished.load(Ordering::SeqCst),
        3,
        "wait returned before the members ended"
    );
    assert_eq!(
        ctx.cause().unwrap().to_string(),
        "errgroup: a member panicked"
    );
    assert!(std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| g.wait())).is_err());
}

#[test]
fn wait_ctx_gives_up_and_wait_still_works() {
    let g = Group::<String>::new();
    let (tx, rx) = gort::chan::bounded::<()>(0);
    g.go(move || {
        let _ = rx.recv();
        Ok(())
    });
    let (ctx, _c) = context::with_timeout(&context::background(), Duration::from_millis(5));
    assert_eq!(g.wait_ctx(&ctx), Err(context::DeadlineExceeded));
    drop(tx);
    assert_eq!(g.wait_ctx(&context::background()), Ok(Ok(())));
}

#[test]
fn set_limit_while_running_panics() {
    let g = Group::<()>::new();
    let (tx, rx) = gort::chan::bounded::<()>(0);
    g.go(move || {
        let _ = rx.recv();
        Ok(())
    });
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| g.set_limit(3)));
    assert!(r.is_err());
    drop(tx);
    g.wait().unwrap();
}
