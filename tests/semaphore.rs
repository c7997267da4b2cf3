//! gort::sync::Semaphore (weighted), ported from golang.org/x/sync semaphore/semaphore_test.go.
//!
//! Not ported: `TestWeightedPanic` (x/sync panics on a release of more than is held; gort's
//! counting semaphore always let a release add permits, and keeps doing so: the size grows).
use gort::context;
use gort::sync::Semaphore;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

const MAX_SLEEP: Duration = Duration::from_millis(1);

fn hammer_weighted(sem: &Semaphore, n: u32, loops: usize, seed: u64) {
    let mut r = seed | 1;
    for _ in 0..loops {
        let p = sem.acquire_many(n);
        r ^= r << 13;
        r ^= r >> 7;
        r ^= r << 17;
        gort::sleep(Duration::from_nanos(r % MAX_SLEEP.as_nanos() as u64));
        drop(p);
    }
}

// x/sync: TestWeighted
#[test]
fn weighted() {
    let n = gort::maxprocs().max(2);
    let loops = 10_000 / n;
    let sem = Semaphore::new(n as u32);
    gort::scope(|s| {
        for i in 0..n {
            let sem = &sem;
            s.spawn(move || hammer_weighted(sem, i as u32, loops / 10, i as u64));
        }
    });
    assert_eq!(sem.available_permits(), n as u32);
}

// x/sync: TestWeightedTryAcquire
#[test]
fn weighted_try_acquire() {
    let sem = Semaphore::new(2);
    let mut tries = Vec::new();
    sem.acquire_many(1).forget();
    tries.push(sem.try_acquire_many(1).map(|p| p.forget()).is_some());
    tries.push(sem.try_acquire_many(1).map(|p| p.forget()).is_some());
    sem.release_many(2);
    tries.push(sem.try_acquire_many(1).map(|p| p.forget()).is_some());
    sem.acquire_many(1).forget();
    tries.push(sem.try_acquire_many(1).map(|p| p.forget()).is_some());
    assert_eq!(tries, [true, false, true, false]);
}

// x/sync: TestWeightedAcquire (with a 10 ms context per try)
#[test]
fn weighted_acquire() {
    let sem = Semaphore::new(2);
    let try_acquire = |n| {
        let (ctx, _c) = context::with_timeout(&context::background(), Duration::from_millis(10));
        sem.acquire_many_ctx(&ctx, n).map(|p| p.forget()).is_ok()
    };
    let mut tries = Vec::new();
    sem.acquire_many(1).forget();
    tries.push(try_acquire(1));
    tries.push(try_acquire(1));
    sem.release_many(2);
    tries.push(try_acquire(1));
    sem.acquire_many(1).forget();
    tries.push(try_acquire(1));
    assert_eq!(tries, [true, false, true, false]);
}

// x/sync: TestWeightedDoesntBlockIfTooBig
#[test]
fn weighted_doesnt_block_if_too_big() {
    const N: u32 = 2;
    let sem = Arc::new(Semaphore::new(N));
    let (ctx, cancel) = context::with_cancel(&context::background());
    let s2 = sem.clone();
    let big = gort::spawn(move || s2.acquire_many_ctx(&ctx, N + 1).map(|p| p.forget()));
    let (g, ctx) = gort::errgroup::with_context::<String>(&context::background());
    for _ in 0..N * 3 {
        let (sem, ctx) = (sem.clone(), ctx.clone());
        g.go(move || {
            let p = sem.acquire_many_ctx(&ctx, 1).map_err(|e| e.to_string())?;
            gort::sleep(Duration::from_millis(1));
            drop(p);
            Ok(())
        });
    }
    assert_eq!(
        g.wait(),
        Ok(()),
        "Semaphore::new({N}) failed acquire_many_ctx(_, 1) with acquire_many_ctx(_, {}) pending",
        N + 1
    );
    cancel.cancel();
    assert_eq!(big.join().unwrap(), Err(context::Canceled));
}

// x/sync: TestLargeAcquireDoesntStarve (returning is success)
#[test]
fn large_acquire_doesnt_starve() {
    let n = gort::maxprocs().max(2) as u32;
    let sem = Arc::new(Semaphore::new(n));
    let running = Arc::new(AtomicBool::new(true));
    let wg = Arc::new(gort::sync::WaitGroup::new());
    for _ in 0..n {
        sem.acquire_many(1).forget();
        let (sem, running) = (sem.clone(), running.clone());
        wg.go(move || {
            while running.load(Ordering::SeqCst) {
                gort::sleep(Duration::from_millis(1));
                sem.release_many(1);
                sem.acquire_many(1).forget();
            }
            sem.release_many(1);
        });
    }
    let all = sem.acquire_many(n);
    running.store(false, Ordering::SeqCst);
    drop(all);
    wg.wait();
}

// x/sync: TestAllocCancelDoesntStarve
#[test]
fn alloc_cancel_doesnt_starve() {
    let sem = Arc::new(Semaphore::new(10));
    // Hold 1 "read lock".
    sem.acquire_many(1).forget();
    // A "write lock" request that gives up after 300 ms.
    let s2 = sem.clone();
    let writer = gort::spawn(move || {
        let (ctx, _c) = context::with_timeout(&context::background(), Duration::from_millis(300));
        s2.acquire_many_ctx(&ctx, 10).map(|p| p.forget())
    });
    // Long enough for the write request to be queued.
    gort::sleep(Duration::from_millis(100));
    // A read lock queued behind the write request: it must be let through when that gives up.
    let s3 = sem.clone();
    let (tx, done) = gort::chan::bounded(1);
    drop(gort::spawn(move || {
        s3.acquire_many(1).forget();
        tx.send(()).unwrap();
    }));
    assert!(
        done.recv_timeout(Duration::from_secs(30)).is_ok(),
        "the read request starved after the write request was cancelled"
    );
    assert_eq!(writer.join().unwrap(), Err(context::DeadlineExceeded));
}

/// FIFO, no barging: a queued large request is served before later small ones, and
/// `try_acquire_many` fails while anyone waits.
#[test]
fn fifo_no_barging() {
    let sem = Arc::new(Semaphore::new(3));
    let held = sem.acquire_many(3);
    let order = Arc::new(gort::sync::Mutex::new(Vec::new()));
    let (s2, o2) = (sem.clone(), order.clone());
    let big = gort::spawn(move || {
        let _p = s2.acquire_many(3);
        o2.lock().push("big");
    });
    while format!("{sem:?}").contains("waiters: 0") {
        gort::yield_now();
    }
    let (s3, o3) = (sem.clone(), order.clone());
    let small = gort::spawn(move || {
        let _p = s3.acquire_many(1);
        o3.lock().push("small");
    });
    while !format!("{sem:?}").contains("waiters: 2") {
        gort::yield_now();
    }
    // One permit free: the small request would fit, but the big one is first.
    sem.release_many(1);
    held.forget();
    assert!(sem.try_acquire_many(1).is_none(), "barged past the queue");
    sem.release_many(2);
    big.join().unwrap();
    small.join().unwrap();
    assert_eq!(*order.lock(), ["big", "small"]);
}

#[test]
fn acquire_many_timeout_and_plain_threads() {
    let sem = Arc::new(Semaphore::new(1));
    let p = sem.acquire_many(1);
    assert!(sem
        .acquire_many_timeout(1, Duration::from_millis(5))
        .is_none());
    let s2 = sem.clone();
    let t = std::thread::spawn(move || {
        s2.acquire_many_timeout(1, Duration::from_secs(30))
            .map(|p| p.num_permits())
    });
    std::thread::sleep(Duration::from_millis(5));
    drop(p);
    assert_eq!(t.join().unwrap(), Some(1));
    assert_eq!(sem.available_permits(), 1);
}
