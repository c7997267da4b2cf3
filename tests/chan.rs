//! Channel and select behaviour through the public `gort::chan` / `gort::select!` API.
use gort::chan::{
    bounded, unbounded, RecvError, RecvTimeoutError, SendTimeoutError, TryRecvError, TrySendError,
};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Runs `f` once on a G and once on the calling plain thread.
fn both(f: fn()) {
    gort::spawn(f).join().unwrap();
    f();
}

#[test]
fn table_try_ops() {
    both(|| {
        // (capacity, prefill) -> expected try_send / try_recv outcomes.
        for cap in [0usize, 1, 3] {
            let (tx, rx) = bounded::<u32>(cap);
            // empty
            assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
            // fill
            for i in 0..cap as u32 {
                assert_eq!(tx.try_send(i), Ok(()));
            }
            assert_eq!(tx.try_send(99), Err(TrySendError::Full(99)));
            assert_eq!(tx.len(), cap);
            assert_eq!(rx.capacity(), Some(cap));
            // close: drain, then Closed
            assert!(tx.close());
            assert_eq!(tx.try_send(5), Err(TrySendError::Closed(5)));
            for i in 0..cap as u32 {
                assert_eq!(rx.try_recv(), Ok(i));
            }
            assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
            assert_eq!(rx.recv(), Err(RecvError));
            assert_eq!(tx.send(6).unwrap_err().into_inner(), 6);
            assert!(rx.is_closed());
        }
        let (tx, rx) = unbounded::<u32>();
        for i in 0..10_000 {
            assert_eq!(tx.try_send(i), Ok(()));
        }
        assert_eq!(rx.capacity(), None);
        assert_eq!(rx.len(), 10_000);
        drop(tx);
        assert_eq!(rx.iter().count(), 10_000);
        assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
    });
}

#[test]
fn table_timeouts() {
    both(|| {
        let d = Duration::from_millis(20);
        let (tx, rx) = bounded::<u32>(0);
        let t = Instant::now();
        assert_eq!(rx.recv_timeout(d), Err(RecvTimeoutError::Timeout));
        assert_eq!(tx.send_timeout(1, d), Err(SendTimeoutError::Timeout(1)));
        assert!(t.elapsed() >= 2 * d);
        let (tx, rx) = bounded::<u32>(1);
        assert_eq!(tx.send_timeout(1, d), Ok(()));
        assert_eq!(tx.send_timeout(2, d), Err(SendTimeoutError::Timeout(2)));
        assert_eq!(rx.recv_timeout(d), Ok(1));
        drop(rx);
        assert_eq!(tx.send_timeout(3, d), Err(SendTimeoutError::Closed(3)));
        let (tx, rx) = bounded::<u32>(1);
        drop(tx);
        assert_eq!(rx.recv_timeout(d), Err(RecvTimeoutError::Closed));
    });
}

#[test]
fn close_wakes_parked_both_sides() {
    // Parked receivers get errors, parked senders get their values back.
    let (tx, rx) = bounded::<u32>(0);
    let rxs: Vec<_> = (0..10)
        .map(|_| {
            let rx = rx.clone();
            gort::spawn(move || rx.recv())
        })
        .collect();
    gort::sleep(Duration::from_millis(20));
    tx.close();
    for h in rxs {
        assert_eq!(h.join().unwrap(), Err(RecvError));
    }
    let (tx, rx) = bounded::<u32>(0);
    let txs: Vec<_> = (0..10)
        .map(|i| {
            let tx = tx.clone();
            gort::spawn(move || tx.send(i).map_err(|e| e.into_inner()))
        })
        .collect();
    gort::sleep(Duration::from_millis(20));
    drop(rx);
    let mut back: Vec<u32> = txs
        .into_iter()
        .map(|h| h.join().unwrap().unwrap_err())
        .collect();
    back.sort();
    assert_eq!(back, (0..10).collect::<Vec<_>>());
}

#[test]
fn unbuffered_send_blocks_until_received() {
    for on_g in [true, false] {
        let (tx, rx) = bounded::<u32>(0);
        let done = Arc::new(AtomicBool::new(false));
        let d2 = done.clone();
        let body = move || {
            tx.send(1).unwrap();
            d2.store(true, Ordering::SeqCst);
        };
        let h = if on_g {
            Some(gort::spawn(body))
        } else {
            std::thread::spawn(body);
            None
        };
        std::thread::sleep(Duration::from_millis(50));
        assert!(
            !done.load(Ordering::SeqCst),
            "send returned before any receive"
        );
        assert_eq!(rx.recv(), Ok(1));
        if let Some(h) = h {
            h.join().unwrap();
        }
        let t = Instant::now();
        while !done.load(Ordering::SeqCst) {
            assert!(t.elapsed() < Duration::from_secs(10));
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

#[test]
fn threads_and_gs_mix() {
    let (tx, rx) = bounded::<u64>(2);
    let t = std::thread::spawn(move || (0..10_000u64).map(|_| rx.recv().unwrap()).sum::<u64>());
    gort::spawn(move || (0..10_000u64).for_each(|i| tx.send(i).unwrap()))
        .join()
        .unwrap();
    assert_eq!(t.join().unwrap(), 10_000 * 9_999 / 2);
}

/// 8 producers x 8 consumers, 1,000,000 messages in all: each delivered exactly once.
#[test]
fn mpmc_8x8_million() {
    const P: u64 = 8;
    const PER: u64 = 125_000;
    for cap in [0usize, 64] {
        let (tx, rx) = bounded::<u64>(cap);
        let prods: Vec<_> = (0..P)
            .map(|p| {
                let tx = tx.clone();
                gort::spawn(move || {
                    for i in 0..PER {
                        tx.send(p * PER + i).unwrap();
                    }
                })
            })
            .collect();
        drop(tx);
        let cons: Vec<_> = (0..8)
            .map(|_| {
                let rx = rx.clone();
                gort::spawn(move || {
                    let (mut n, mut s, mut x) = (0u64, 0u64, 0u64);
                    for v in rx.iter() {
                        n += 1;
                        s += v;
                        x ^= v.wrapping_mul(0x9E37_79B9_7F4A_7C15);
                    }
                    (n, s, x)
                })
            })
            .collect();
        drop(rx);
        for h in prods {
            h.join().unwrap();
        }
        let (mut n, mut s, mut x) = (0, 0, 0);
        for h in cons {
            let (a, b, c) = h.join().unwrap();
            n += a;
            s += b;
            x ^= c;
        }
        let total = P * PER;
        let want_x = (0..total).fold(0u64, |x, v| x ^ v.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        assert_eq!(n, total, "cap {cap}");
        assert_eq!(s, total * (total - 1) / 2, "cap {cap}");
        assert_eq!(x, want_x, "cap {cap}");
    }
}

#[test]
fn select_fairness() {
    let (tx1, rx1) = unbounded::<u8>();
    let (tx2, rx2) = unbounded::<u8>();
    const N: usize = 100_000;
    for _ in 0..N {
        tx1.send(1).unwrap();
        tx2.send(2).unwrap();
    }
    let (mut a, mut b) = (0usize, 0usize);
    for _ in 0..N {
        gort::select! {
            recv(rx1) -> v => { assert_eq!(v, Ok(1)); a += 1; }
            recv(rx2) -> v => { assert_eq!(v, Ok(2)); b += 1; }
        }
    }
    let frac = a as f64 / N as f64;
    assert!(
        (0.48..=0.52).contains(&frac),
        "arm 1 chosen {a} of {N}, arm 2 {b}"
    );
}

#[test]
fn select_default_and_timeout() {
    both(|| {
        let (tx, rx) = bounded::<u8>(1);
        let r = gort::select! { recv(rx) -> _v => 1, default => 2 };
        assert_eq!(r, 2);
        let t = Instant::now();
        let r = gort::select! { recv(rx) -> _v => 1, default(Duration::from_millis(30)) => 2 };
        assert_eq!(r, 2);
        assert!(t.elapsed() >= Duration::from_millis(30));
        // send arm ready; the recv arm is not
        let r = gort::select! { send(tx, 9) -> res => { res.unwrap(); 3 }, default => 4 };
        assert_eq!(r, 3);
        // buffer full, no receiver: default
        let r = gort::select! { send(tx, 10) -> _res => 3, default => 4 };
        assert_eq!(r, 4);
        assert_eq!(rx.recv(), Ok(9));
        // closed channel arms are ready with errors
        drop(tx);
        let r = gort::select! { recv(rx) -> v => v, default => Ok(0) };
        assert_eq!(r, Err(RecvError));
    });
}

#[test]
fn select_blocking_wakes_on_either() {
    for which in 0..2 {
        let (tx1, rx1) = bounded::<u32>(0);
        let (tx2, rx2) = bounded::<u32>(0);
        let (_keep1, _keep2) = (rx1.clone(), rx2.clone());
        let h = gort::spawn(move || {
            gort::select! {
                recv(rx1) -> v => (1, v.unwrap()),
                recv(rx2) -> v => (2, v.unwrap()),
            }
        });
        gort::sleep(Duration::from_millis(10));
        if which == 0 {
            tx1.send(10).unwrap();
        } else {
            tx2.send(20).unwrap();
        }
        let got = h.join().unwrap();
        assert_eq!(got, if which == 0 { (1, 10) } else { (2, 20) });
        // The loser registration is gone: a try_send on the other channel finds no receiver.
        let other = if which == 0 { &tx2 } else { &tx1 };
        assert_eq!(other.try_send(5), Err(TrySendError::Full(5)));
    }
}

/// A losing arm never consumes a value (may's #102): select in a loop over two producers.
#[test]
fn select_loop_loses_nothing() {
    let (tx1, rx1) = bounded::<u64>(0);
    let (tx2, rx2) = bounded::<u64>(0);
    const N: u64 = 20_000;
    let p1 = gort::spawn(move || (0..N).for_each(|i| tx1.send(i).unwrap()));
    let p2 = gort::spawn(move || (0..N).for_each(|i| tx2.send(N + i).unwrap()));
    let (mut sum, mut n) = (0u64, 0u64);
    let (mut open1, mut open2) = (true, true);
    while open1 || open2 {
        gort::select! {
            recv(rx1) -> v => match v { Ok(v) => { sum += v; n += 1; } Err(_) => open1 = false },
            recv(rx2) -> v => match v { Ok(v) => { sum += v; n += 1; } Err(_) => open2 = false },
        }
        if !open1 && !open2 {
            break;
        }
        // a closed arm stays ready; keep draining the other one
        if !open1 {
            for v in rx2.iter() {
                sum += v;
                n += 1;
            }
            break;
        }
        if !open2 {
            for v in rx1.iter() {
                sum += v;
                n += 1;
            }
            break;
        }
    }
    p1.join().unwrap();
    p2.join().unwrap();
    assert_eq!(n, 2 * N);
    assert_eq!(sum, (2 * N) * (2 * N - 1) / 2);
}

#[test]
fn select_send_and_recv_arms_same_channel() {
    // A select must not match its own send arm with its own receive arm.
    let (tx, rx) = bounded::<u32>(0);
    let (tx2, rx2) = (tx.clone(), rx.clone());
    let h = gort::spawn(move || {
        gort::select! {
            send(tx2, 1) -> r => { r.unwrap(); "sent" },
            recv(rx2) -> v => { v.unwrap(); "recvd" },
        }
    });
    gort::sleep(Duration::from_millis(20));
    assert_eq!(rx.recv(), Ok(1));
    assert_eq!(h.join().unwrap(), "sent");
    drop(tx);
}

fn rss_kib() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    s.lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap()
        .parse()
        .unwrap()
}

/// A blocking select loop of 1,000,000 iterations leaves no registrations behind.
#[test]
fn select_loop_memory_flat() {
    const N: u64 = 1_000_000;
    let (tx1, rx1) = bounded::<u64>(0);
    let (_tx2, rx2) = bounded::<u64>(0); // never ready: its registration is always the loser
    let (tx3, rx3) = bounded::<u64>(16);
    // Keep the channels open after the producer ends (a closed arm would be ready).
    let (_k1, _k3) = (tx1.clone(), tx3.clone());
    let prod = gort::spawn(move || {
        for i in 0..N {
            if i % 2 == 0 {
                tx1.send(i).unwrap();
            } else {
                tx3.send(i).unwrap();
            }
        }
    });
    let before = rss_kib();
    let mut n = 0;
    while n < N {
        gort::select! {
            recv(rx1) -> v => { v.unwrap(); n += 1; },
            recv(rx2) -> _v => unreachable!(),
            recv(rx3) -> v => { v.unwrap(); n += 1; },
        }
    }
    prod.join().unwrap();
    let after = rss_kib();
    assert!(
        after < before + 16 * 1024,
        "RSS grew from {before} KiB to {after} KiB"
    );
}

#[test]
fn timer_channels() {
    let t = Instant::now();
    let a = gort::time::after(Duration::from_millis(20));
    let when = a.recv().unwrap();
    assert!(when >= t + Duration::from_millis(20));
    let tick = gort::time::tick(Duration::from_millis(5));
    let got = Arc::new(AtomicU64::new(0));
    let g2 = got.clone();
    gort::spawn(move || {
        for _ in 0..3 {
            tick.recv().unwrap();
            g2.fetch_add(1, Ordering::SeqCst);
        }
    })
    .join()
    .unwrap();
    assert_eq!(got.load(Ordering::SeqCst), 3);
}

/// A value that counts its drops (and may panic in `drop`).
struct Counted {
    drops: Arc<AtomicU64>,
    panic: bool,
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::SeqCst);
        if self.panic {
            panic!("Counted::drop panics");
        }
    }
}

fn counted(drops: &Arc<AtomicU64>, panic: bool) -> Counted {
    Counted {
        drops: drops.clone(),
        panic,
    }
}

/// The last `Receiver` dropped drops the buffered values then, while senders are still alive
/// (they used to wait for the last `Sender`).
#[test]
fn last_receiver_drop_drops_buffered_values() {
    let drops = Arc::new(AtomicU64::new(0));
    let (tx, rx) = bounded(4);
    let rx2 = rx.clone();
    for _ in 0..3 {
        tx.send(counted(&drops, false)).unwrap();
    }
    drop(rx);
    assert_eq!(drops.load(Ordering::SeqCst), 0, "a receiver is left");
    drop(rx2);
    assert_eq!(drops.load(Ordering::SeqCst), 3);
    // Later sends fail and hand the value back, which the caller drops.
    assert!(tx.send(counted(&drops, false)).is_err());
    assert_eq!(drops.load(Ordering::SeqCst), 4);
    drop(tx);
    assert_eq!(drops.load(Ordering::SeqCst), 4);
}

/// Buffered values whose `Drop` panics do not abort the process when the channel drops them:
/// they are dropped one at a time, the first panic propagates (out of the last receiver's drop,
/// or of the drop that frees the channel), and values still buffered during that unwind are
/// leaked, not dropped (a second panicking destructor would abort).
#[test]
fn panicking_drops_in_the_buffer_do_not_abort() {
    // Last receiver dropped while a sender lives: the first panic comes out of `drop(rx)`; the
    // second value stays buffered and panics out of the drop that frees the channel.
    let drops = Arc::new(AtomicU64::new(0));
    let (tx, rx) = bounded(4);
    tx.send(counted(&drops, true)).unwrap();
    tx.send(counted(&drops, true)).unwrap();
    let r = std::panic::catch_unwind(move || drop(rx));
    assert!(r.is_err(), "the first panicking drop propagates");
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    let r = std::panic::catch_unwind(move || drop(tx));
    assert!(
        r.is_err(),
        "the value left behind is dropped when the channel is freed"
    );
    assert_eq!(drops.load(Ordering::SeqCst), 2);

    // Both handles gone at once: the first panic unwinds through the freeing of the channel,
    // which then leaks the rest instead of dropping them.
    let drops = Arc::new(AtomicU64::new(0));
    let (tx, rx) = unbounded();
    for _ in 0..3 {
        tx.send(counted(&drops, true)).unwrap();
    }
    drop(tx);
    let r = std::panic::catch_unwind(move || drop(rx));
    assert!(r.is_err());
    assert_eq!(drops.load(Ordering::SeqCst), 1, "the others are leaked");
}

/// `select!` accepts temporaries as channels (they live until the select is over), evaluates
/// every channel and value expression once, in source order, and accepts `default()` and
/// trailing commas (crossbeam's syntax, which the README promises).
#[test]
fn select_macro_temporaries_order_and_syntax() {
    struct Pipe {
        tx: gort::chan::Sender<u32>,
    }
    impl Pipe {
        fn tx(&self) -> gort::chan::Sender<u32> {
            self.tx.clone()
        }
    }
    let (tx, rx) = bounded::<u32>(1);
    let pipe = Pipe { tx };
    let sent = gort::select! {
        send(pipe.tx(), 7) -> r => r.is_ok(),
        recv(gort::time::after(Duration::from_millis(50))) -> _ => false,
    };
    assert!(sent);
    assert_eq!(rx.recv(), Ok(7));

    let order = std::cell::RefCell::new(Vec::new());
    let note = |what: &'static str| order.borrow_mut().push(what);
    let (tx2, rx2) = bounded::<u32>(1);
    gort::select! {
        recv({ note("rx"); &rx }) -> _ => unreachable!(),
        send({ note("tx"); &tx2 }, { note("value"); 1 }) -> r => r.unwrap(),
        recv({ note("timer"); gort::time::after(Duration::from_secs(60)) }) -> _ => unreachable!(),
    }
    assert_eq!(*order.borrow(), ["rx", "tx", "value", "timer"]);
    assert_eq!(rx2.recv(), Ok(1));

    let got = gort::select! {
        recv(rx,) -> _ => 1,
        default() => 2,
    };
    assert_eq!(got, 2);
    let got = gort::select! {
        recv(rx) -> _ => 1,
        default(Duration::from_millis(1),) => 2,
    };
    assert_eq!(got, 2);
}

/// Go 1.23's synchronous timer channels: a due timer is ready when the select looks, so it wins
/// over `default` every time, and several due timers are chosen uniformly (they used to be
/// filled only by their heap callback: `default` won, and the first-created timer always won).
#[test]
fn due_timers_are_ready_and_chosen_uniformly() {
    for _ in 0..1000 {
        let fired = gort::select! {
            recv(gort::time::after(Duration::ZERO)) -> v => v.is_ok(),
            default => false,
        };
        assert!(fired, "default won over a due timer");
    }
    const N: usize = 20_000;
    let mut hits = [0usize; 3];
    for _ in 0..N {
        let (a, b, c) = (
            gort::time::after(Duration::ZERO),
            gort::time::after(Duration::ZERO),
            gort::time::after(Duration::ZERO),
        );
        gort::select! {
            recv(a) -> _ => hits[0] += 1,
            recv(b) -> _ => hits[1] += 1,
            recv(c) -> _ => hits[2] += 1,
            default => unreachable!("three due timers, none ready"),
        }
    }
    for h in hits {
        let frac = h as f64 / N as f64;
        assert!(
            (0.31..=0.36).contains(&frac),
            "due timers chosen {hits:?} of {N}"
        );
    }
}

/// Timers that become due while the select is parked: the one the heap runs first does not
/// always win (the woken select looks at all of them).
#[test]
fn timers_due_while_parked_are_chosen_among() {
    const N: usize = 200;
    let mut first = 0;
    for _ in 0..N {
        let when = Instant::now() + Duration::from_millis(1);
        let (a, b) = (gort::chan::at(when), gort::chan::at(when));
        gort::select! {
            recv(a) -> _ => first += 1,
            recv(b) -> _ => {}
        }
    }
    assert!(
        (N / 5..=4 * N / 5).contains(&first),
        "the first timer won {first} of {N}"
    );
}
