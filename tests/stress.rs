// CI: cargo test --release --test stress -- --ignored --test-threads=1
//! Stress and fault suite: long churns of spawn / channels / select / sleep / yield / blocking
//! calls on all Ps, random panics, the churn again on one CPU with four Ps, and the dynamic
//! `Select` with timers.
//!
//! Every test is `#[ignore]` so the normal `cargo test --workspace` stays fast, and runs its body
//! in a child process (`child_test!`): exact `num_goroutine()` and thread counts need a process
//! of their own. `GORT_STRESS_SECS` sets the main churn's duration (default 30 s; the one-CPU
//! churn runs a sixth of it, at least 1 s). Each test ends with exact counts of every message,
//! `num_goroutine()` back to 0, and the thread count back near its baseline (idle Ms beyond
//! `GORT_MAXPROCS` exit after `M_IDLE_EXIT`, 2 s).
//!
//! A watchdog thread turns a hang (lost wakeup, deadlock) into a failure with a message instead
//! of a CI job that never ends.

mod common;

use common::stress::{assert_no_leaks, mix, warm_up, watchdog};

use gort::chan::{bounded, unbounded, Receiver, RecvTimeoutError, Select, Sender};
use gort::time::Ticker;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

// ---- helpers --------------------------------------------------------------------------------

/// The churn's duration: `GORT_STRESS_SECS` (default 30).
fn stress_secs() -> u64 {
    std::env::var("GORT_STRESS_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30)
}

// ---- the churn ------------------------------------------------------------------------------

/// Gs per round of one driver.
const ROUND: usize = 2048;
/// Values one G sends at most (value id = G index * SLOTS + slot).
const SLOTS: u64 = 16;

/// Exact accounting of one round's values: a bitmap (each id received at most once), counts and
/// checksums on both sides.
struct Acct {
    seen: Vec<AtomicU64>,
    sent: AtomicU64,
    recvd: AtomicU64,
    sent_sum: AtomicU64,
    recv_sum: AtomicU64,
    /// Values taken by the timed receivers (role 7), and timeouts (roles 1 and 7).
    steals: AtomicU64,
    timeouts: AtomicU64,
}

impl Acct {
    fn new(n: usize) -> Self {
        Acct {
            seen: (0..(n as u64 * SLOTS).div_ceil(64))
                .map(|_| AtomicU64::new(0))
                .collect(),
            sent: AtomicU64::new(0),
            recvd: AtomicU64::new(0),
            sent_sum: AtomicU64::new(0),
            recv_sum: AtomicU64::new(0),
            steals: AtomicU64::new(0),
            timeouts: AtomicU64::new(0),
        }
    }
    fn sent(&self, v: u64) {
        self.sent.fetch_add(1, Ordering::Relaxed);
        self.sent_sum.fetch_add(mix(v), Ordering::Relaxed);
    }
    fn got(&self, v: u64) {
        let bit = 1u64 << (v % 64);
        let old = self.seen[(v / 64) as usize].fetch_or(bit, Ordering::Relaxed);
        assert_eq!(old & bit, 0, "value {v} received twice");
        self.recvd.fetch_add(1, Ordering::Relaxed);
        self.recv_sum.fetch_add(mix(v), Ordering::Relaxed);
    }
}

/// What G `i` of a round does (its role) and how many values it sends to the consumers.
fn role(i: usize) -> usize {
    i % 8
}

fn expected_sends(i: usize) -> u64 {
    match role(i) {
        0..=2 => 8,
        4 => 4,
        6 if i % 128 == 6 => 1,
        _ => 0,
    }
}

/// Totals over a whole churn.
#[derive(Default)]
struct Totals {
    gs: AtomicU64,
    values: AtomicU64,
    pingpongs: AtomicU64,
    rounds: AtomicU64,
    steals: AtomicU64,
    timeouts: AtomicU64,
    locked_exits: AtomicU64,
}

struct Round {
    tx_a: Sender<u64>, // bounded(16)
    tx_b: Sender<u64>, // unbounded
    tx_z: Sender<u64>, // unbuffered
    rx_a: Receiver<u64>,
    rx_z: Receiver<u64>,
    acct: Arc<Acct>,
    mutex: Arc<gort::sync::Mutex<u64>>,
    seed: u64,
}

/// A consumer: select! over the three channels until all are closed. It holds no `Round` (whose
/// senders must all drop for the channels to close).
fn consumer(rxs: [Receiver<u64>; 3], acct: &Acct) -> u64 {
    let [a, b, z] = rxs;
    // A channel that never becomes ready replaces each closed one.
    let (_keep, never) = bounded::<u64>(0);
    let (mut a, mut b, mut z) = (Some(a), Some(b), Some(z));
    let mut n = 0u64;
    while a.is_some() || b.is_some() || z.is_some() {
        let (ra, rb, rz) = (
            a.as_ref().unwrap_or(&never),
            b.as_ref().unwrap_or(&never),
            z.as_ref().unwrap_or(&never),
        );
        let which = gort::select! {
            recv(ra) -> v => v.map(|v| acct.got(v)).map_err(|_| 0),
            recv(rb) -> v => v.map(|v| acct.got(v)).map_err(|_| 1),
            recv(rz) -> v => v.map(|v| acct.got(v)).map_err(|_| 2),
        };
        match which {
            Ok(()) => n += 1,
            Err(0) => a = None,
            Err(1) => b = None,
            Err(_) => z = None,
        }
        if n % 64 == 63 {
            gort::yield_now();
        }
    }
    0
}

/// One G of a round (any role but the consumers'). Returns the number of Gs it spawned itself
/// (children), for the totals.
fn worker(i: usize, r: &Round) -> u64 {
    let v0 = i as u64 * SLOTS;
    let rnd = mix(r.seed ^ i as u64);
    match role(i) {
        // Producer on the bounded channel.
        0 => {
            for j in 0..8 {
                r.tx_a.send(v0 + j).unwrap();
                r.acct.sent(v0 + j);
                if j % 4 == 3 {
                    gort::yield_now();
                }
            }
            0
        }
        // Producer with a sleep: `send_timeout` on the unbuffered channel, and what times out
        // goes to the unbounded one (a timed-out send must not have delivered its value: the
        // receivers' duplicate check would see it twice).
        1 => {
            gort::sleep(Duration::from_micros(rnd % 300));
            for j in 0..8 {
                let d = Duration::from_micros(mix(rnd ^ j) % 64);
                if let Err(e) = r.tx_z.send_timeout(v0 + j, d) {
                    assert!(e.is_timeout(), "send_timeout on an open channel: {e:?}");
                    r.acct.timeouts.fetch_add(1, Ordering::Relaxed);
                    r.tx_b.send(e.into_inner()).unwrap();
                }
                r.acct.sent(v0 + j);
            }
            0
        }
        // select! sender: each value goes to exactly one of two channels (bounded, unbuffered);
        // the losing arm's copy is dropped unsent.
        2 => {
            for j in 0..8 {
                let v = v0 + j;
                gort::select! {
                    send(r.tx_a, v) -> res => res.unwrap(),
                    send(r.tx_z, v) -> res => res.unwrap(),
                }
                r.acct.sent(v);
            }
            0
        }
        3 => unreachable!("consumers run `consumer`"),
        // Sleeper that spawns a child, which yields and sends 4 values.
        4 => {
            gort::sleep(Duration::from_micros(rnd % 1000));
            let tx = r.tx_b.clone();
            let acct = r.acct.clone();
            gort::spawn(move || {
                for j in 8..12 {
                    gort::yield_now();
                    tx.send(v0 + j).unwrap();
                    acct.sent(v0 + j);
                }
            })
            .join()
            .unwrap();
            1
        }
        // Ping-pong with a spawned partner over two unbuffered channels.
        5 => {
            let (ptx, prx) = bounded::<u64>(0);
            let (qtx, qrx) = bounded::<u64>(0);
            let partner = gort::spawn(move || {
                let mut n = 0;
                for v in prx.iter() {
                    qtx.send(v + 1).unwrap();
                    n += 1;
                }
                n
            });
            for k in 0..16u64 {
                ptx.send(rnd.wrapping_add(k)).unwrap();
                assert_eq!(qrx.recv().unwrap(), rnd.wrapping_add(k).wrapping_add(1));
            }
            drop(ptx);
            assert_eq!(partner.join().unwrap(), 16);
            1
        }
        // Locks and blocking calls; now and then lock_os_thread and block_in_place.
        6 => {
            for _ in 0..4 {
                *r.mutex.lock() += 1;
                gort::yield_now();
            }
            let x = gort::blocking(|| (0..100u64).fold(rnd, |a, b| mix(a ^ b)));
            std::hint::black_box(x);
            if i % 64 == 14 {
                gort::block_in_place(|| std::thread::sleep(Duration::from_micros(200)));
            }
            if i % 128 == 6 {
                gort::lock_os_thread();
                let me = std::thread::current().id();
                gort::sleep(Duration::from_micros(50));
                r.tx_b.send(v0).unwrap();
                r.acct.sent(v0);
                gort::yield_now();
                assert_eq!(std::thread::current().id(), me, "locked G moved threads");
                // Some locked Gs end while locked: their thread ends with them.
                if i % 1024 != 6 {
                    gort::unlock_os_thread();
                }
            }
            0
        }
        // Timers racing deliveries: receives with short timeouts on the channels the consumers
        // read (select! with `default(d)`, and `recv_timeout`), and a receive that can never
        // complete. What they take is accounted like the consumers' takings.
        _ => {
            for k in 0..4u64 {
                let d = Duration::from_micros(mix(rnd ^ k) % 100);
                let got = if k % 2 == 0 {
                    gort::select! {
                        recv(r.rx_a) -> v => v.ok(),
                        recv(r.rx_z) -> v => v.ok(),
                        default(d) => None,
                    }
                } else {
                    r.rx_z.recv_timeout(d).ok()
                };
                match got {
                    Some(v) => {
                        r.acct.got(v);
                        r.acct.steals.fetch_add(1, Ordering::Relaxed);
                    }
                    None => {
                        r.acct.timeouts.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            let (_keep, never) = bounded::<u64>(1);
            let timed_out = gort::select! {
                recv(never) -> _v => false,
                default(Duration::from_micros(rnd % 200)) => true,
            };
            assert!(timed_out);
            gort::yield_now();
            0
        }
    }
}

/// One round: `ROUND` Gs with every role, then exact accounting.
fn round(seed: u64, totals: &Totals) {
    let (tx_a, rx_a) = bounded(16);
    let (tx_b, rx_b) = unbounded();
    let (tx_z, rx_z) = bounded(0);
    let r = Arc::new(Round {
        tx_a,
        tx_b,
        tx_z,
        rx_a: rx_a.clone(),
        rx_z: rx_z.clone(),
        acct: Arc::new(Acct::new(ROUND)),
        mutex: Arc::new(gort::sync::Mutex::new(0)),
        seed,
    });
    let mut hs = Vec::with_capacity(ROUND);
    for i in 0..ROUND {
        if role(i) == 3 {
            let rxs = [rx_a.clone(), rx_b.clone(), rx_z.clone()];
            let acct = r.acct.clone();
            hs.push(gort::spawn(move || consumer(rxs, &acct)));
        } else {
            let r = r.clone();
            hs.push(gort::spawn(move || worker(i, &r)));
        }
    }
    drop((rx_a, rx_b, rx_z));
    // The round's senders drop with the last producer's `Arc<Round>`: the consumers then see the
    // channels close.
    let acct = r.acct.clone();
    let mutex = r.mutex.clone();
    drop(r);
    let mut children = 0;
    for h in hs {
        children += h.join().unwrap();
    }
    let want_sent: u64 = (0..ROUND).map(expected_sends).sum();
    let sent = acct.sent.load(Ordering::Relaxed);
    let recvd = acct.recvd.load(Ordering::Relaxed);
    assert_eq!(sent, want_sent, "sent count");
    assert_eq!(recvd, want_sent, "received count (sent {sent})");
    assert_eq!(
        acct.sent_sum.load(Ordering::Relaxed),
        acct.recv_sum.load(Ordering::Relaxed),
        "checksums differ"
    );
    // Every expected id was received (exactly once: `got` checks for duplicates).
    for i in 0..ROUND {
        let slots: Vec<u64> = match role(i) {
            0..=2 => (0..8).collect(),
            4 => (8..12).collect(),
            6 if i % 128 == 6 => vec![0],
            _ => vec![],
        };
        for j in slots {
            let v = i as u64 * SLOTS + j;
            assert_ne!(
                acct.seen[(v / 64) as usize].load(Ordering::Relaxed) & (1 << (v % 64)),
                0,
                "value {v} (G {i}, slot {j}) never received"
            );
        }
    }
    assert_eq!(*mutex.lock(), 4 * (ROUND as u64 / 8), "mutex count");
    totals
        .gs
        .fetch_add(ROUND as u64 + children, Ordering::Relaxed);
    totals.values.fetch_add(recvd, Ordering::Relaxed);
    totals
        .steals
        .fetch_add(acct.steals.load(Ordering::Relaxed), Ordering::Relaxed);
    totals
        .timeouts
        .fetch_add(acct.timeouts.load(Ordering::Relaxed), Ordering::Relaxed);
    totals
        .pingpongs
        .fetch_add(16 * (ROUND as u64 / 8), Ordering::Relaxed);
    totals.locked_exits.fetch_add(
        (0..ROUND).filter(|i| i % 1024 == 6).count() as u64,
        Ordering::Relaxed,
    );
    totals.rounds.fetch_add(1, Ordering::Relaxed);
}

/// Runs rounds from `2 * maxprocs` driver Gs until `dur` has passed; returns the totals.
fn churn(dur: Duration) -> Totals {
    let totals = Arc::new(Totals::default());
    let deadline = Instant::now() + dur;
    let drivers: Vec<_> = (0..2 * gort::maxprocs() as u64)
        .map(|d| {
            let totals = totals.clone();
            gort::spawn(move || {
                // At least one round each, however late the driver starts.
                for k in 0u64.. {
                    round(mix(d << 32 | k), &totals);
                    if Instant::now() >= deadline {
                        break;
                    }
                }
            })
        })
        .collect();
    let n = drivers.len() as u64;
    for h in drivers {
        h.join().unwrap();
    }
    totals.gs.fetch_add(n, Ordering::Relaxed);
    Arc::into_inner(totals).unwrap()
}

fn report(what: &str, t: &Totals, took: Duration) {
    let gs = t.gs.load(Ordering::Relaxed);
    eprintln!(
        "{what}: {gs} Gs in {} rounds, {} values received exactly once ({} by timed receives; \
         {} timeouts), {} ping-pongs, {} Gs ended locked, in {took:?} ({:.0} Gs/s)",
        t.rounds.load(Ordering::Relaxed),
        t.values.load(Ordering::Relaxed),
        t.steals.load(Ordering::Relaxed),
        t.timeouts.load(Ordering::Relaxed),
        t.pingpongs.load(Ordering::Relaxed),
        t.locked_exits.load(Ordering::Relaxed),
        gs as f64 / took.as_secs_f64()
    );
}

// 1. A million Gs churning through spawn / channels / select / sleep / yield / locks / blocking
// calls on all Ps for GORT_STRESS_SECS: every value received exactly once, no leaks.
child_test!(
    #[ignore = "stress: run with --release --ignored (CI stress step)"]
    fn churn_a_million_gs() [] {
        let secs = stress_secs();
        let dog = watchdog("churn", Duration::from_secs(secs + 90));
        let baseline = warm_up();
        let t = Instant::now();
        let totals = churn(Duration::from_secs(secs));
        let took = t.elapsed();
        report("churn", &totals, took);
        // A million Gs over the default 30 s (pro rata for a shorter run).
        let want = 1_000_000 * secs / 30;
        assert!(
            totals.gs.load(Ordering::Relaxed) >= want,
            "only {} Gs in {took:?} (want {want})",
            totals.gs.load(Ordering::Relaxed)
        );
        assert_no_leaks(baseline);
        // The runtime still works.
        assert_eq!(gort::spawn(|| 42).join().unwrap(), 42);
        dog.store(false, Ordering::SeqCst);
    }
);

// ---- random panics --------------------------------------------------------------------------

/// Gs spawned by `random_panics`.
const PANIC_GS: u64 = 200_000;

/// Whether G `i` panics (1%, deterministic), and where.
fn doomed(i: u64) -> Option<u64> {
    let r = mix(i ^ 0xdead_beef);
    r.is_multiple_of(100).then_some((r >> 8) % 5)
}

// 2. 1% of Gs panic (in plain code, inside `blocking`, inside `block_in_place`, while holding a
// gort Mutex, while locked to their thread); the rest are unaffected: exact Ok/Err counts and
// payloads, every value sent before a panic received, the runtime keeps working.
// The parent checks the child's stderr: one message per panic, naming the G's payload.
#[test]
#[ignore = "stress: run with --release --ignored (CI stress step)"]
fn random_panics() {
    if !common::is_child() {
        let out = common::child_ok("random_panics", &[("RUST_BACKTRACE", "0")]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let want = (0..PANIC_GS).filter(|&i| doomed(i).is_some()).count();
        let msgs = stderr.lines().filter(|l| l.starts_with("chaos ")).count();
        let heads = stderr
            .lines()
            .filter(|l| l.starts_with("green thread ") && l.contains(" panicked at "))
            .count();
        assert_eq!(msgs, want, "panic messages on stderr");
        assert_eq!(heads, want, "'green thread N panicked at' lines on stderr");
        return;
    }
    {
        const N: u64 = PANIC_GS;
        const WAVE: u64 = 10_000;
        let dog = watchdog("random_panics", Duration::from_secs(120));
        let baseline = warm_up();
        let t = Instant::now();
        let mutex = Arc::new(gort::sync::Mutex::new(0u64));
        let (tx, rx) = unbounded::<u64>();
        let (mut ok, mut err, mut ok_sum) = (0u64, 0u64, 0u64);
        for w in 0..N / WAVE {
            let hs: Vec<_> = (w * WAVE..(w + 1) * WAVE)
                .map(|i| {
                    let (tx, mutex) = (tx.clone(), mutex.clone());
                    gort::spawn(move || {
                        tx.send(i).unwrap();
                        gort::yield_now();
                        match doomed(i) {
                            None => {}
                            Some(0) => panic!("chaos {i}"),
                            Some(1) => gort::blocking(|| panic!("chaos {i}")),
                            Some(2) => gort::block_in_place(|| panic!("chaos {i}")),
                            Some(3) => {
                                let mut g = mutex.lock();
                                *g += 1;
                                panic!("chaos {i}");
                            }
                            Some(_) => {
                                gort::lock_os_thread();
                                gort::sleep(Duration::from_micros(10));
                                panic!("chaos {i}");
                            }
                        }
                        *mutex.lock() += 1;
                        i
                    })
                })
                .collect();
            for (i, h) in (w * WAVE..).zip(hs) {
                match h.join() {
                    Ok(v) => {
                        assert_eq!(v, i);
                        assert!(doomed(i).is_none(), "G {i} should have panicked");
                        ok += 1;
                        ok_sum += v;
                    }
                    Err(e) => {
                        assert!(doomed(i).is_some(), "G {i} panicked unexpectedly");
                        let msg = e
                            .downcast_ref::<String>()
                            .cloned()
                            .unwrap_or_else(|| panic!("G {i}: payload is not a String"));
                        assert_eq!(msg, format!("chaos {i}"));
                        err += 1;
                    }
                }
            }
        }
        drop(tx);
        let want_err = (0..N).filter(|&i| doomed(i).is_some()).count() as u64;
        let want_ok_sum: u64 = (0..N).filter(|&i| doomed(i).is_none()).sum();
        assert_eq!(err, want_err);
        assert_eq!(ok, N - want_err);
        assert_eq!(ok_sum, want_ok_sum);
        // Every G sent before it panicked: all N values, each once.
        let mut got: Vec<u64> = rx.iter().collect();
        got.sort_unstable();
        assert!(got.iter().copied().eq(0..N), "values lost or duplicated");
        // Panics while holding the gort Mutex released it (the guard drops on unwind).
        let locked_panics = (0..N).filter(|&i| doomed(i) == Some(3)).count() as u64;
        assert_eq!(*mutex.lock(), ok + locked_panics);
        eprintln!(
            "random_panics: {ok} Ok, {err} Err (want {want_err}) in {:?}",
            t.elapsed()
        );
        // The runtime keeps working: a short churn after the panics.
        let totals = churn(Duration::from_secs(1));
        report("churn after panics", &totals, t.elapsed());
        assert_no_leaks(baseline);
        dog.store(false, Ordering::SeqCst);
    }
}

// ---- panics whose unwinding parks (issue 15, item 2) ------------------------------------------

/// Sends its G's id on drop, after a round trip to an echo G: a channel send and a receive that
/// parks, in the middle of the unwinding when its G panics.
struct EchoOnDrop {
    id: u64,
    echo: Sender<(u64, Sender<u64>)>,
    out: Sender<u64>,
}

impl Drop for EchoOnDrop {
    fn drop(&mut self) {
        let (tx, rx) = bounded(0);
        self.echo.send((self.id, tx)).unwrap();
        let back = rx.recv().unwrap();
        assert_eq!(back, self.id);
        self.out.send(self.id).unwrap();
    }
}

// 1% of Gs panic while holding an `EchoOnDrop`, so their unwinding parks on channels (twice);
// the rest do the same without panicking, and check that they never see `panicking() == true`
// (they would, on an M shared with an unwinding G). Exact accounting: every G's drop delivers its
// id exactly once, exactly the doomed Gs fail, and no thread is lost.
child_test!(
    #[ignore = "stress: run with --release --ignored (CI stress step)"]
    fn panics_that_park_while_unwinding() ["RUST_BACKTRACE" => "0"] {
        const N: u64 = 100_000;
        const WAVE: u64 = 5_000;
        let dog = watchdog("panics that park", Duration::from_secs(120));
        let baseline = warm_up();
        let t = Instant::now();
        let (echo_tx, echo_rx) = unbounded::<(u64, Sender<u64>)>();
        let echo = gort::spawn(move || {
            for (id, back) in echo_rx {
                back.send(id).unwrap();
            }
        });
        let (out_tx, out_rx) = unbounded::<u64>();
        let (mut ok, mut err) = (0u64, 0u64);
        for w in 0..N / WAVE {
            let hs: Vec<_> = (w * WAVE..(w + 1) * WAVE)
                .map(|i| {
                    let d = EchoOnDrop { id: i, echo: echo_tx.clone(), out: out_tx.clone() };
                    gort::spawn(move || {
                        let _d = d;
                        gort::yield_now();
                        assert!(!std::thread::panicking(), "G {i} ran on an unwinding G's M");
                        if mix(i ^ 0x5eed).is_multiple_of(100) {
                            panic!("doomed {i}");
                        }
                        i
                    })
                })
                .collect();
            for (i, h) in (w * WAVE..).zip(hs) {
                match h.join() {
                    Ok(v) => {
                        assert_eq!(v, i);
                        ok += 1;
                    }
                    Err(e) => {
                        assert_eq!(e.downcast_ref::<String>(), Some(&format!("doomed {i}")));
                        err += 1;
                    }
                }
            }
        }
        drop(echo_tx);
        drop(out_tx);
        echo.join().unwrap();
        let want_err = (0..N).filter(|&i| mix(i ^ 0x5eed).is_multiple_of(100)).count() as u64;
        assert_eq!(err, want_err);
        assert_eq!(ok, N - want_err);
        let mut got: Vec<u64> = out_rx.iter().collect();
        got.sort_unstable();
        assert!(got.iter().copied().eq(0..N), "a drop's id was lost or delivered twice");
        eprintln!("panics that park: {ok} Ok, {err} Err in {:?}", t.elapsed());
        assert_no_leaks(baseline);
        dog.store(false, Ordering::SeqCst);
    }
);

// ---- memory is returned (issue 15, item 9) ----------------------------------------------------

fn rss_rounds() {
    let round = || {
        let hs: Vec<_> = (0..1_000_000u64).map(|i| gort::spawn(move || i)).collect();
        let s: u64 = hs.into_iter().map(|h| h.join().unwrap()).sum();
        assert_eq!(s, 1_000_000 * 999_999 / 2);
        common::rss_bytes()
    };
    let after: Vec<usize> = (0..3).map(|_| round()).collect();
    eprintln!(
        "RSS after rounds 1-3 of 1,000,000 spawn + join on {} Ps: {:?} MiB",
        gort::maxprocs(),
        after.iter().map(|b| b >> 20).collect::<Vec<_>>()
    );
    // The criterion, measured as a user would (no malloc_trim).
    assert!(
        after[2] <= after[0] + after[0] / 4 + (16 << 20),
        "RSS after round 3 ({} MiB) > 1.25 x after round 1 ({} MiB) + 16 MiB",
        after[2] >> 20,
        after[0] >> 20
    );
}

// Rounds of 1,000,000 spawned-then-joined Gs keep RSS flat, read right after each round as a
// user's program would (the engine test `rounds_of_a_million_keep_rss_flat` checks for leaks
// with malloc_trim; this one checks what a user sees).
child_test!(
    #[ignore = "stress: run with --release --ignored (CI stress step)"]
    fn rss_flat_over_rounds_2_ps() ["GORT_MAXPROCS" => "2"] {
        rss_rounds();
    }
);

child_test!(
    #[ignore = "stress: run with --release --ignored (CI stress step)"]
    fn rss_flat_over_rounds_4_ps() ["GORT_MAXPROCS" => "4"] {
        rss_rounds();
    }
);

// ---- close races ----------------------------------------------------------------------------

/// A value that records its fate: dropped exactly once, and whether it was delivered (received,
/// or handed back by a failed send) or dropped inside a channel.
struct Tracked {
    id: u64,
    delivered: bool,
    book: Arc<Book>,
}

struct Book {
    dropped: Vec<AtomicU64>,
    in_channel: AtomicU64,
}

impl Drop for Tracked {
    fn drop(&mut self) {
        let bit = 1u64 << (self.id % 64);
        let old = self.book.dropped[(self.id / 64) as usize].fetch_or(bit, Ordering::Relaxed);
        assert_eq!(old & bit, 0, "value {} dropped twice", self.id);
        if !self.delivered {
            self.book.in_channel.fetch_add(1, Ordering::Relaxed);
        }
    }
}

// Receivers dropped (closing the channel) while senders are parked or mid-send, on unbuffered and
// buffered channels: every value is dropped exactly once; each is received, handed back by the
// failed send, or dropped with the channel's buffer (never more than its capacity; none for an
// unbuffered channel).
child_test!(
    #[ignore = "stress: run with --release --ignored (CI stress step)"]
    fn close_races_drop_every_value_once() [] {
        const ROUNDS: u64 = 30_000;
        const SENDERS: u64 = 4;
        const EACH: u64 = 32;
        let dog = watchdog("close races", Duration::from_secs(120));
        let baseline = warm_up();
        let t = Instant::now();
        let (mut received, mut returned, mut in_channel) = (0u64, 0u64, 0u64);
        let waves: Vec<_> = (0..ROUNDS)
            .map(|r| {
                gort::spawn(move || {
                    let cap = [0usize, 1, 4][(r % 3) as usize];
                    let book = Arc::new(Book {
                        dropped: (0..(SENDERS * EACH).div_ceil(64))
                            .map(|_| AtomicU64::new(0))
                            .collect(),
                        in_channel: AtomicU64::new(0),
                    });
                    let (tx, rx) = bounded::<Tracked>(cap);
                    let senders: Vec<_> = (0..SENDERS)
                        .map(|s| {
                            let (tx, book) = (tx.clone(), book.clone());
                            gort::spawn(move || {
                                let mut returned = 0u64;
                                for j in 0..EACH {
                                    let v = Tracked { id: s * EACH + j, delivered: false, book: book.clone() };
                                    let res = if j % 3 == 0 {
                                        tx.send_timeout(v, Duration::from_micros(j * 10)).map_err(|e| {
                                            let closed = !e.is_timeout();
                                            (e.into_inner(), closed)
                                        })
                                    } else {
                                        tx.send(v).map_err(|e| (e.into_inner(), true))
                                    };
                                    match res {
                                        Ok(()) => {}
                                        Err((mut v, closed)) => {
                                            v.delivered = true;
                                            if closed {
                                                returned += 1;
                                                return returned;
                                            }
                                            returned += 1;
                                        }
                                    }
                                    if j % 8 == 0 {
                                        gort::yield_now();
                                    }
                                }
                                returned
                            })
                        })
                        .collect();
                    drop(tx);
                    // Receive a pseudo-random number of values, then close by dropping.
                    let k = mix(r) % (SENDERS * EACH + 8);
                    let mut got = 0u64;
                    for _ in 0..k {
                        match rx.recv() {
                            Ok(mut v) => {
                                v.delivered = true;
                                got += 1;
                            }
                            Err(_) => break,
                        }
                    }
                    drop(rx);
                    let ret: u64 = senders.into_iter().map(|h| h.join().unwrap()).sum();
                    // Every value created was dropped exactly once.
                    let created: u64 = book
                        .dropped
                        .iter()
                        .map(|w| w.load(Ordering::Relaxed).count_ones() as u64)
                        .sum();
                    let in_ch = book.in_channel.load(Ordering::Relaxed);
                    assert!(in_ch <= cap as u64, "{in_ch} values dropped in a channel of capacity {cap}");
                    (created, got, ret, in_ch)
                })
            })
            .collect();
        for h in waves {
            let (created, got, ret, in_ch) = h.join().unwrap();
            // Each sender stops at its first closed error; the values it never made are not
            // counted, so created == received + handed back + dropped in the channel.
            assert_eq!(created, got + ret + in_ch, "values unaccounted for");
            received += got;
            returned += ret;
            in_channel += in_ch;
        }
        eprintln!(
            "close races: {ROUNDS} rounds, {received} received, {returned} handed back by failed \
             sends, {in_channel} dropped in buffers, in {:?}",
            t.elapsed()
        );
        assert_no_leaks(baseline);
        dog.store(false, Ordering::SeqCst);
    }
);

// ---- one CPU, four Ps -----------------------------------------------------------------------

/// Pins the calling thread (and every thread it starts later: the runtime's Ms and sysmon) to
/// CPU 0. Linux only, as the test that uses it.
#[cfg(target_os = "linux")]
fn pin_to_cpu0() {
    // SAFETY: a zeroed cpu_set_t is a valid empty set; CPU_SET writes within it; the syscall
    // reads it by pointer with its size.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(0, &mut set);
        assert_eq!(
            libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set),
            0,
            "sched_setaffinity: {}",
            std::io::Error::last_os_error()
        );
    }
}

// 5. The churn on one CPU with four Ps (oversubscribed Ms, spinning Ms competing with the Gs'
// Ms for the one CPU): exact counts, no leaks, and every G ran on CPU 0.
child_test!(
    #[ignore = "stress: run with --release --ignored (CI stress step)"]
    #[cfg(target_os = "linux")]
    fn churn_on_one_cpu_with_four_ps() ["GORT_MAXPROCS" => "4"] {
        pin_to_cpu0();
        let secs = (stress_secs() / 6).max(1);
        let dog = watchdog("churn on one CPU", Duration::from_secs(secs + 90));
        assert_eq!(gort::maxprocs(), 4);
        let baseline = warm_up();
        let t = Instant::now();
        let totals = churn(Duration::from_secs(secs));
        report("churn on 1 CPU, 4 Ps", &totals, t.elapsed());
        assert!(totals.rounds.load(Ordering::Relaxed) >= 8, "every driver does a round");
        // Every M runs on CPU 0.
        let off = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let hs: Vec<_> = (0..1000)
            .map(|_| {
                let off = off.clone();
                gort::spawn(move || {
                    gort::yield_now();
                    // SAFETY: sched_getcpu has no preconditions.
                    if unsafe { libc::sched_getcpu() } != 0 {
                        off.fetch_add(1, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        assert_eq!(off.load(Ordering::Relaxed), 0, "Gs ran off CPU 0");
        assert_no_leaks(baseline);
        dog.store(false, Ordering::SeqCst);
    }
);

// ---- the dynamic Select and timers ----------------------------------------------------------

/// Totals of the dynamic-select churn: what was sent and received (count, sum, and a sum of a
/// mix of each value, so that a loss and a duplicate cannot cancel out).
#[derive(Default)]
struct Flow {
    sent: AtomicU64,
    sent_sum: AtomicU64,
    sent_mix: AtomicU64,
    recvd: AtomicU64,
    recvd_sum: AtomicU64,
    recvd_mix: AtomicU64,
    timer_wins: AtomicU64,
    given_back: AtomicU64,
}

impl Flow {
    fn sent(&self, v: u64) {
        self.sent.fetch_add(1, Ordering::Relaxed);
        self.sent_sum.fetch_add(v, Ordering::Relaxed);
        self.sent_mix.fetch_add(mix(v), Ordering::Relaxed);
    }
    fn recvd(&self, v: u64) {
        self.recvd.fetch_add(1, Ordering::Relaxed);
        self.recvd_sum.fetch_add(v, Ordering::Relaxed);
        self.recvd_mix.fetch_add(mix(v), Ordering::Relaxed);
    }
}

const DROPPED_OP: &str = "dropped `SelectedOperation` without completing the operation";

/// A producer: dynamic selects of send operations on three random channels against a short
/// fresh timer (or a timeout, or no wait at all), each value sent once; now and then the chosen
/// send is dropped unsent (its reservation given back, the panic caught).
fn dyn_producer(p: u64, txs: &[Sender<u64>], until: Instant, flow: &Flow) {
    let mut seq = 0u64;
    let mut x = mix(p + 1);
    while Instant::now() < until {
        x = mix(x);
        let picks = [x % 12, (x >> 8) % 12, (x >> 16) % 12].map(|i| i as usize);
        let timer = gort::time::after(Duration::from_micros(x % 2000));
        let mut sel = Select::new();
        for &i in &picks {
            sel.send(&txs[i]);
        }
        let ti = sel.recv(&timer);
        let op = match x % 5 {
            0 => sel.try_select().ok(),
            1 => sel.select_timeout(Duration::from_micros(500)).ok(),
            _ => Some(sel.select()),
        };
        let Some(op) = op else { continue };
        if op.index() == ti {
            op.recv(&timer).unwrap();
            flow.timer_wins.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        let tx = &txs[picks[op.index()]];
        if x.is_multiple_of(997) {
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(op)));
            assert_eq!(*r.unwrap_err().downcast_ref::<&str>().unwrap(), DROPPED_OP);
            flow.given_back.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        let v = p << 40 | seq;
        seq += 1;
        op.send(tx, v).unwrap();
        flow.sent(v);
    }
}

/// A consumer, by `kind`: 0, a dynamic `Select` over every channel plus a ticker it now and
/// then resets or stops; 1, `ready` over every channel, then `try_recv`; 2, `select!` over
/// three channels with a fresh timer and a `default(d)`; 3, `recv_deadline` round the channels.
/// Each returns once every channel it reads is closed and drained.
fn dyn_consumer(kind: usize, rxs: &[Receiver<u64>], flow: &Flow) {
    match kind {
        0 => {
            let ticker = Ticker::new(Duration::from_micros(300));
            let mut sel = Select::new();
            for rx in rxs {
                sel.recv(rx);
            }
            let ti = sel.recv(ticker.receiver());
            let (mut open, mut n) = (rxs.len(), 0u64);
            while open > 0 {
                let op = sel.select();
                let i = op.index();
                if i == ti {
                    op.recv(ticker.receiver()).unwrap();
                    n += 1;
                    match n % 50 {
                        0 => assert!(ticker.reset(Duration::from_micros(100 + n % 400))),
                        25 => {
                            ticker.stop();
                            ticker.reset(Duration::from_micros(300));
                        }
                        _ => {}
                    }
                    continue;
                }
                match op.recv(&rxs[i]) {
                    Ok(v) => flow.recvd(v),
                    Err(_) => {
                        sel.remove(i);
                        open -= 1;
                    }
                }
            }
        }
        1 => {
            let mut sel = Select::new();
            for rx in rxs {
                sel.recv(rx);
            }
            let mut open = rxs.len();
            while open > 0 {
                let i = sel.ready();
                match rxs[i].try_recv() {
                    Ok(v) => flow.recvd(v),
                    Err(gort::chan::TryRecvError::Empty) => {}
                    Err(gort::chan::TryRecvError::Closed) => {
                        sel.remove(i);
                        open -= 1;
                    }
                }
            }
        }
        2 => {
            let never = gort::chan::never::<u64>();
            let mut mine: Vec<&Receiver<u64>> = vec![&rxs[0], &rxs[5], &rxs[10]];
            while mine.iter().any(|r| !r.same_channel(&never)) {
                let got = gort::select! {
                    recv(mine[0]) -> v => (0, v),
                    recv(mine[1]) -> v => (1, v),
                    recv(mine[2]) -> v => (2, v),
                    recv(gort::time::after(Duration::from_micros(200))) -> _ => continue,
                    default(Duration::from_millis(1)) => continue,
                };
                match got {
                    (_, Ok(v)) => flow.recvd(v),
                    (i, Err(_)) => mine[i] = &never,
                }
            }
        }
        _ => {
            let mut open: Vec<&Receiver<u64>> = rxs.iter().collect();
            let mut k = 0;
            while !open.is_empty() {
                k = (k + 1) % open.len();
                let deadline = Instant::now() + Duration::from_micros(300);
                match open[k].recv_deadline(deadline) {
                    Ok(v) => flow.recvd(v),
                    Err(RecvTimeoutError::Timeout) => {}
                    Err(RecvTimeoutError::Closed) => {
                        open.swap_remove(k);
                    }
                }
            }
        }
    }
}

// 6. The dynamic Select and timers under churn on all Ps: producers' deferred sends and
// reservations (some given back) against consumers of every kind (dynamic selects with a
// ticker that is reset and stopped, ready + try_recv, select! with fresh timers and a
// timeout, deadlines). Every value sent is received exactly once; no G, thread or timer leaks.
child_test!(
    #[ignore = "stress: run with --release --ignored (CI stress step)"]
    fn dynamic_select_and_timers_churn() [] {
        let secs = (stress_secs() / 3).max(2);
        let dog = watchdog("dynamic select churn", Duration::from_secs(secs + 120));
        let baseline = warm_up();
        // The dropped operations' panics are expected: keep them off stderr.
        let prev = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if info.payload().downcast_ref::<&str>() != Some(&DROPPED_OP) {
                prev(info);
            }
        }));
        let t = Instant::now();
        let until = t + Duration::from_secs(secs);
        let (txs, rxs): (Vec<Sender<u64>>, Vec<Receiver<u64>>) =
            (0..12).map(|i| bounded([0, 1, 4][i % 3])).unzip();
        let (txs, rxs) = (Arc::new(txs), Arc::new(rxs));
        let flow = Arc::new(Flow::default());
        let producers: Vec<_> = (0..8)
            .map(|p| {
                let (txs, flow) = (txs.clone(), flow.clone());
                gort::spawn(move || dyn_producer(p, &txs, until, &flow))
            })
            .collect();
        let consumers: Vec<_> = (0..8)
            .map(|c| {
                let (rxs, flow) = (rxs.clone(), flow.clone());
                gort::spawn(move || dyn_consumer(c % 4, &rxs, &flow))
            })
            .collect();
        for p in producers {
            p.join().unwrap();
        }
        drop(txs); // the last senders: the channels close
        for c in consumers {
            c.join().unwrap();
        }
        let ld = |a: &AtomicU64| a.load(Ordering::Relaxed);
        eprintln!(
            "dynamic select churn: {} values, {} timer wins, {} reservations given back, in {:?}",
            ld(&flow.sent),
            ld(&flow.timer_wins),
            ld(&flow.given_back),
            t.elapsed()
        );
        assert!(ld(&flow.sent) > 0 && ld(&flow.timer_wins) > 0 && ld(&flow.given_back) > 0);
        assert_eq!(ld(&flow.sent), ld(&flow.recvd), "values lost or doubled");
        assert_eq!(ld(&flow.sent_sum), ld(&flow.recvd_sum));
        assert_eq!(ld(&flow.sent_mix), ld(&flow.recvd_mix));
        drop(rxs);
        assert_no_leaks(baseline);
        let t = Instant::now();
        while gort_runtime::timer::pending() > 0 && t.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(gort_runtime::timer::pending(), 0, "timers left pending");
        dog.store(false, Ordering::SeqCst);
    }
);
