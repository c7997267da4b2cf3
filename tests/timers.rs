//! Timers and sleep through the public API.

mod common;

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
    // Debug build, 2 cores: an M descheduled by a loaded machine delays the Gs its timers
    // readied (173 ms was seen at load average ~8, where 50 ms had held on a quiet machine).
    // The deadlines span a second, so this still catches timers fired out of deadline order.
    let slack = Duration::from_millis(250);
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

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// `Timer::stop`/`reset` return what Go 1.23's do (true iff a value of the old setting was
/// still to come), and no receive after them yields a value of the old setting.
#[test]
fn timer_stop_and_reset_semantics() {
    use gort::time::Timer;
    // Stopped before it fired: true, and nothing ever comes.
    let t = Timer::new(ms(20));
    assert!(t.stop());
    assert!(!t.stop(), "a second stop has nothing to stop");
    assert!(t.receiver().recv_timeout(ms(60)).is_err());

    // Due but not received: stop drains it (true), and no stale value is received.
    let t = Timer::new(ms(1));
    std::thread::sleep(ms(10));
    assert!(t.stop());
    assert!(t.receiver().try_recv().is_err());

    // Received: stop and reset report false; reset fires it again.
    let t = Timer::new(ms(1));
    let first = t.receiver().recv().unwrap();
    assert!(!t.stop());
    let before = Instant::now();
    assert!(!t.reset(ms(5)));
    let second = t.receiver().recv().unwrap();
    assert!(second >= before + ms(5) && second > first);

    // Reset while active: true; the old due time's value never arrives, the new one does.
    let t = Timer::new(ms(1));
    std::thread::sleep(ms(10)); // due (and not looked at)
    let before = Instant::now();
    assert!(t.reset(ms(30)));
    assert!(
        t.receiver().try_recv().is_err(),
        "a stale value after reset"
    );
    let v = t.receiver().recv().unwrap();
    assert!(v >= before + ms(30), "received the old setting's value");
}

/// A G parked on a timer's channel: `stop` leaves it waiting (nothing comes), `reset` wakes it
/// with the new setting's value; other Gs blocked meanwhile are woken as the timer fires.
#[test]
fn timer_reset_wakes_a_parked_receiver() {
    use gort::time::Timer;
    let t = Arc::new(Timer::new(ms(30)));
    let t2 = t.clone();
    let h = gort::spawn(move || t2.receiver().recv_timeout(ms(2000)).map(|_| Instant::now()));
    gort::sleep(ms(5));
    assert!(t.stop());
    gort::sleep(ms(60)); // past the old due time: nothing may come
    assert!(!h.is_finished(), "received after stop");
    let before = Instant::now();
    assert!(!t.reset(ms(10)));
    let woke = h.join().unwrap().expect("the reset timer never fired");
    assert!(woke >= before + ms(10));
}

/// `Ticker`: ticks stay on the period grid (Go's phase), a slow receiver finds one tick waiting
/// and the ones it missed dropped, `stop` ends the ticks (no stale one), `reset` changes the
/// period.
#[test]
fn ticker_phase_drops_stop_reset() {
    use gort::time::Ticker;
    let period = ms(10);
    let t = Ticker::new(period);
    let a = t.receiver().recv().unwrap();
    std::thread::sleep(ms(55)); // misses about five ticks
    let before = Instant::now();
    let b = t
        .receiver()
        .try_recv()
        .expect("a tick waits for a slow receiver");
    assert!(
        t.receiver().try_recv().is_err(),
        "missed ticks must be dropped, not queued"
    );
    let after = Instant::now();
    let c = t.receiver().recv().unwrap();
    for (x, y) in [(a, b), (b, c)] {
        let gap = (y - x).as_nanos();
        assert!(
            gap > 0 && gap.is_multiple_of(period.as_nanos()),
            "off the grid: {gap} ns"
        );
    }
    // The tick after the missed run is the first grid point after the look that found it.
    assert!(
        c > before && c <= after + period,
        "the next tick is not the next grid point"
    );
    assert!(t.stop());
    assert!(
        t.receiver().recv_timeout(ms(40)).is_err(),
        "a tick after stop"
    );
    assert!(!t.reset(ms(2)));
    let d = t.receiver().recv().unwrap();
    let e = t.receiver().recv().unwrap();
    assert!((e - d).as_nanos().is_multiple_of(ms(2).as_nanos()));
}

/// `after_func` runs `f` on a new G; `stop` prevents it (true) or reports it started (false);
/// `reset` after it ran schedules it again (false).
#[test]
fn after_func_semantics() {
    let runs = Arc::new(AtomicUsize::new(0));
    let on_g = Arc::new(AtomicUsize::new(0));
    let (r, g) = (runs.clone(), on_g.clone());
    let t = gort::time::after_func(ms(5), move || {
        if gort::in_green_thread() {
            g.fetch_add(1, Ordering::SeqCst);
        }
        r.fetch_add(1, Ordering::SeqCst);
    });
    let wait_for = |n| {
        let start = Instant::now();
        while runs.load(Ordering::SeqCst) < n {
            assert!(start.elapsed() < Duration::from_secs(10), "f did not run");
            std::thread::sleep(ms(1));
        }
    };
    wait_for(1);
    assert_eq!(on_g.load(Ordering::SeqCst), 1, "f must run on a G");
    assert!(!t.stop(), "f had already started");
    assert!(!t.reset(ms(5)), "the timer had fired");
    wait_for(2);
    assert!(!t.stop());

    let stopped = gort::time::after_func(ms(1000), || panic!("a stopped after_func ran"));
    assert!(stopped.stop());
    assert!(!stopped.stop());
    let moved = gort::time::after_func(ms(1000), || panic!("a reset after_func ran early"));
    assert!(moved.reset(Duration::from_secs(3600)));
    assert!(moved.stop(), "the reset timer was still pending");
}

/// A loop of selects, each with a fresh `after(1 s)` that never fires, leaves no timers behind:
/// a timer nobody waits on is never heaped, and one a parked select waited on is cancelled when
/// its receiver is dropped, so the timer heaps and RSS stay flat. (Go collects such timers with
/// its GC.) Phase 1: the data is ready when the select looks; phase 2: the select parks first,
/// so every timer is heaped and then released. 1,000,000 selects each.
/// Runs in a child process of its own: the timer counts it checks are process-wide.
#[test]
fn fresh_after_per_select_keeps_timers_flat() {
    if !common::is_child() {
        common::child_ok("fresh_after_per_select_keeps_timers_flat", &[]);
        return;
    }
    gort::spawn(|| timer_churn(1_000_000, 1_000_000))
        .join()
        .unwrap();
}

/// The body of `fresh_after_per_select_keeps_timers_flat`.
fn timer_churn(ready: u64, parked: u64) {
    let base = gort_runtime::timer::pending();
    let check = |i: u64, rss_mid: &mut u64| {
        if i == 1000 {
            *rss_mid = rss_kib();
        }
        if i.is_multiple_of(50_000) {
            let heap = gort_runtime::timer::heap_entries();
            assert!(heap < 1000, "{heap} timer heap entries after {i} selects");
        }
    };
    // Phase 1: a buffered channel the producer keeps ahead of the select.
    let (tx, rx) = gort::chan::bounded::<u64>(1024);
    let producer = gort::spawn(move || (0..ready).for_each(|i| tx.send(i).unwrap()));
    let mut rss_mid = 0;
    for i in 0..ready {
        gort::select! {
            recv(rx) -> v => assert_eq!(v, Ok(i)),
            recv(gort::time::after(Duration::from_secs(1))) -> _ => unreachable!(),
        }
        check(i, &mut rss_mid);
    }
    producer.join().unwrap();

    // Phase 2: the select asks for each value and parks before it comes; the producer checks
    // that the waiting select's timer is in the heap.
    let (req_tx, req_rx) = gort::chan::bounded::<()>(0);
    let (tx, rx) = gort::chan::bounded::<u64>(0);
    let producer = gort::spawn(move || {
        let mut seen_heaped = 0u64;
        for i in 0..parked {
            req_rx.recv().unwrap();
            for _ in 0..100 {
                if gort_runtime::timer::pending() > base {
                    seen_heaped += 1;
                    break;
                }
                gort::yield_now();
            }
            tx.send(i).unwrap();
        }
        seen_heaped
    });
    for i in 0..parked {
        req_tx.send(()).unwrap();
        gort::select! {
            recv(rx) -> v => assert_eq!(v, Ok(i)),
            recv(gort::time::after(Duration::from_secs(1))) -> _ => unreachable!(),
        }
        check(i, &mut rss_mid);
    }
    let seen_heaped = producer.join().unwrap();
    assert!(
        seen_heaped > parked / 2,
        "the parked selects' timers were heaped only {seen_heaped} times of {parked}"
    );
    assert!(
        gort_runtime::timer::pending() <= base,
        "timers left pending: {} (before: {base})",
        gort_runtime::timer::pending()
    );
    let rss_end = rss_kib();
    assert!(
        rss_end < rss_mid + 8 * 1024,
        "RSS grew from {rss_mid} KiB to {rss_end} KiB"
    );
}

fn rss_kib() -> u64 {
    common::rss_bytes() as u64 / 1024
}
