//! Timers and sleep through the public API.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// 10,000 Gs sleeping random durations wake in nondecreasing deadline order, within a slack.
#[test]
fn sleep_wakes_in_deadline_order() {
    const N: usize = 10_000;
    // Far enough ahead that every G is spawned and asleep before the first deadline.
    let t0 = Instant::now();
    let start = t0 + Duration::from_millis(400);
    let log = Arc::new(Mutex::new(Vec::with_capacity(N)));
    let seq = Arc::new(AtomicUsize::new(0));
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let hs: Vec<_> = (0..N)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let when = start + Duration::from_micros(x % 1_000_000);
            let (log, seq) = (log.clone(), seq.clone());
            gort::spawn(move || {
                gort::sleep_until(when);
                let woke = Instant::now();
                let i = seq.fetch_add(1, Ordering::SeqCst);
                log.lock().unwrap().push((i, when, woke));
            })
        })
        .collect();
    let spawned = t0.elapsed();
    for h in hs {
        h.join().unwrap();
    }
    assert!(
        spawned < Duration::from_millis(400),
        "spawning took {spawned:?}"
    );
    let mut v = log.lock().unwrap().clone();
    v.sort_by_key(|e| e.0);
    let slack = Duration::from_millis(50); // debug build, 2 noisy cores
    let mut max_seen = start;
    let mut late = Duration::ZERO;
    let mut inversion = Duration::ZERO;
    for &(_, when, woke) in &v {
        assert!(woke >= when, "woke before its deadline");
        late = late.max(woke - when);
        inversion = inversion.max(max_seen.saturating_duration_since(when));
        max_seen = max_seen.max(when);
    }
    eprintln!("max lateness {late:?}, max inversion {inversion:?}");
    assert!(
        inversion <= slack,
        "out of order by {inversion:?} (> {slack:?})"
    );
    assert!(
        late < Duration::from_millis(500),
        "a wakeup was {late:?} late"
    );
}

#[test]
fn sleep_on_a_plain_thread_sleeps_the_thread() {
    let t = Instant::now();
    gort::sleep(Duration::from_millis(5));
    assert!(t.elapsed() >= Duration::from_millis(5));
}

#[test]
fn thousands_of_sleeps_cost_no_threads() {
    let before = std::fs::read_to_string("/proc/self/status").ok();
    let hs: Vec<_> = (0..5000)
        .map(|_| gort::spawn(|| gort::sleep(Duration::from_millis(100))))
        .collect();
    std::thread::sleep(Duration::from_millis(50));
    if let Some(_b) = before {
        let s = std::fs::read_to_string("/proc/self/status").unwrap();
        let threads: usize = s
            .lines()
            .find_map(|l| l.strip_prefix("Threads:"))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        // test harness threads + Ps + sysmon + a poller; far fewer than 5000.
        assert!(threads < 64, "{threads} threads");
    }
    for h in hs {
        h.join().unwrap();
    }
}

#[test]
fn timer_add_cancel_contract() {
    use gort_runtime_api::*;
    let fired = Arc::new(AtomicUsize::new(0));
    let f2 = fired.clone();
    let id = timer::add(
        Instant::now() + Duration::from_millis(10),
        Box::new(move || {
            f2.fetch_add(1, Ordering::SeqCst);
        }),
    );
    let f3 = fired.clone();
    let id2 = timer::add(
        Instant::now() + Duration::from_millis(20),
        Box::new(move || {
            f3.fetch_add(10, Ordering::SeqCst);
        }),
    );
    assert!(timer::cancel(id2));
    std::thread::sleep(Duration::from_millis(60));
    assert_eq!(fired.load(Ordering::SeqCst), 1);
    assert!(!timer::cancel(id));
}

mod gort_runtime_api {
    pub use gort_runtime::timer;
}

/// Durations too long for `Instant` mean "for good", as in Go, and never panic: `sleep`, `after`
/// and `tick` with `Duration::MAX`, and a socket read timeout of `Duration::MAX` that data
/// arrives within.
#[test]
fn durations_too_long_for_instant_mean_forever() {
    let sleeper = gort::spawn(|| gort::sleep(Duration::MAX));
    let never = gort::time::after(Duration::MAX);
    let never_tick = gort::time::tick(Duration::MAX);
    let fired = gort::select! {
        recv(never) -> _ => "after",
        recv(never_tick) -> _ => "tick",
        default(Duration::from_millis(50)) => "timeout",
    };
    assert_eq!(fired, "timeout");
    // A panic in the sleeper would have finished it (and shown in its join).
    assert!(
        !sleeper.is_finished(),
        "sleep(Duration::MAX) returned or panicked"
    );

    let l = gort::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let server = gort::spawn(move || {
        use std::io::Write;
        let (mut s, _) = l.accept().unwrap();
        s.write_all(b"x").unwrap();
    });
    let got = gort::spawn(move || {
        use std::io::Read;
        let mut c = gort::net::TcpStream::connect_timeout(&addr, Duration::MAX).unwrap();
        c.set_read_timeout(Some(Duration::MAX)).unwrap();
        let mut b = [0u8; 1];
        c.read_exact(&mut b).map(|()| b[0])
    })
    .join()
    .unwrap();
    assert_eq!(got.unwrap(), b'x');
    server.join().unwrap();
}
