//! The dynamic `gort::chan::Select` on green threads (crossbeam's own tests, ported in
//! tests/crossbeam/, run it on plain threads): selects over runtime-sized sets of channels,
//! uniform choice, deferred sends pairing with every kind of receiver, and reservations given
//! back.

use gort::chan::{bounded, unbounded, Receiver, Select, Sender};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// 64 producers on channels of all three kinds; one G selects over all of them, removing each
/// operation once its channel is closed, and receives every value exactly once.
#[test]
fn select_over_many_channels() {
    const CHANS: usize = 64;
    const PER: u64 = 1000;
    let (txs, rxs): (Vec<Sender<u64>>, Vec<Receiver<u64>>) = (0..CHANS)
        .map(|i| match i % 3 {
            0 => bounded(0),
            1 => bounded(4),
            _ => unbounded(),
        })
        .unzip();
    let producers: Vec<_> = txs
        .into_iter()
        .enumerate()
        .map(|(c, tx)| {
            gort::spawn(move || {
                for k in 0..PER {
                    tx.send(c as u64 * PER + k).unwrap();
                }
            })
        })
        .collect();
    let (n, sum) = gort::spawn(move || {
        let mut sel = Select::new();
        for rx in &rxs {
            sel.recv(rx);
        }
        let (mut n, mut sum, mut open) = (0u64, 0u64, CHANS);
        let mut last = vec![None::<u64>; CHANS];
        while open > 0 {
            let op = sel.select();
            let i = op.index();
            match op.recv(&rxs[i]) {
                Ok(v) => {
                    // Per channel, values arrive in the order they were sent.
                    assert!(
                        last[i].is_none_or(|l| v == l + 1),
                        "channel {i}: {last:?} then {v}"
                    );
                    last[i] = Some(v);
                    n += 1;
                    sum += v;
                }
                Err(_) => {
                    sel.remove(i);
                    open -= 1;
                }
            }
        }
        (n, sum)
    })
    .join()
    .unwrap();
    for p in producers {
        p.join().unwrap();
    }
    let total = CHANS as u64 * PER;
    assert_eq!(n, total);
    assert_eq!(sum, total * (total - 1) / 2);
}

/// One G sends through a `Select` of send operations on 16 channels (each value to exactly one
/// of them); a G per channel receives with plain `recv`, `select!` or `try_recv` polling, so the
/// deferred send meets each kind of receiver.
#[test]
fn select_sends_reach_every_kind_of_receiver() {
    const CHANS: usize = 16;
    const N: u64 = 20_000;
    let (txs, rxs): (Vec<Sender<u64>>, Vec<Receiver<u64>>) = (0..CHANS)
        .map(|i| if i % 2 == 0 { bounded(0) } else { bounded(2) })
        .unzip();
    let got = Arc::new(AtomicU64::new(0));
    let sum = Arc::new(AtomicU64::new(0));
    let consumers: Vec<_> = rxs
        .into_iter()
        .enumerate()
        .map(|(i, rx)| {
            let (got, sum) = (got.clone(), sum.clone());
            gort::spawn(move || {
                let take = |v: u64| {
                    got.fetch_add(1, Ordering::Relaxed);
                    sum.fetch_add(v, Ordering::Relaxed);
                };
                match i % 3 {
                    0 => rx.iter().for_each(take),
                    1 => loop {
                        gort::select! {
                            recv(rx) -> v => match v {
                                Ok(v) => take(v),
                                Err(_) => break,
                            },
                        }
                    },
                    _ => loop {
                        match rx.try_recv() {
                            Ok(v) => take(v),
                            Err(gort::chan::TryRecvError::Closed) => break,
                            Err(gort::chan::TryRecvError::Empty) => gort::yield_now(),
                        }
                    },
                }
            })
        })
        .collect();
    gort::spawn(move || {
        let mut sel = Select::new();
        for tx in &txs {
            sel.send(tx);
        }
        for v in 0..N {
            let op = sel.select();
            let i = op.index();
            op.send(&txs[i], v).unwrap();
        }
    })
    .join()
    .unwrap();
    for c in consumers {
        c.join().unwrap();
    }
    assert_eq!(got.load(Ordering::Relaxed), N);
    assert_eq!(sum.load(Ordering::Relaxed), N * (N - 1) / 2);
}

/// Among ready operations `select` and `ready` choose uniformly (Go's rule); `new_biased`
/// takes the first.
#[test]
fn dynamic_select_is_uniform() {
    const N: usize = 100_000;
    let (tx1, rx1) = unbounded::<()>();
    let (tx2, rx2) = unbounded::<()>();
    for _ in 0..N {
        tx1.send(()).unwrap();
        tx2.send(()).unwrap();
    }
    let mut sel = Select::new();
    let a = sel.recv(&rx1);
    sel.recv(&rx2);
    let mut hits = [0usize; 2];
    for _ in 0..N {
        let op = sel.select();
        let i = op.index();
        op.recv(if i == a { &rx1 } else { &rx2 }).unwrap();
        hits[i] += 1;
    }
    let frac = hits[0] as f64 / N as f64;
    assert!((0.48..=0.52).contains(&frac), "select chose {hits:?}");

    let mut ready = [0usize; 2];
    for _ in 0..N {
        ready[sel.ready()] += 1;
    }
    let frac = ready[0] as f64 / N as f64;
    assert!((0.48..=0.52).contains(&frac), "ready chose {ready:?}");

    let mut biased = Select::new_biased();
    biased.recv(&rx1);
    biased.recv(&rx2);
    assert!((0..1000).all(|_| biased.ready() == 0));
}

/// A chosen send that holds a parked receiver and is dropped unsent gives it back: the
/// receiver (a plain `recv`, or a `select!`) keeps waiting and gets the next value.
#[test]
fn dropped_selected_send_gives_the_receiver_back() {
    for in_select in [false, true] {
        let (tx, rx) = bounded::<u32>(0);
        let h = gort::spawn(move || {
            if in_select {
                gort::select! { recv(rx) -> v => v }
            } else {
                rx.recv()
            }
        });
        gort::sleep(Duration::from_millis(20)); // parked
        let r = std::panic::catch_unwind(|| {
            let mut sel = Select::new();
            sel.send(&tx);
            let op = sel.try_select().expect("a receiver is parked");
            drop(op);
        });
        let msg = r.unwrap_err();
        assert_eq!(
            *msg.downcast_ref::<&str>().unwrap(),
            "dropped `SelectedOperation` without completing the operation"
        );
        gort::sleep(Duration::from_millis(20));
        assert!(!h.is_finished(), "the receiver returned without a value");
        tx.send(5).unwrap();
        assert_eq!(h.join().unwrap(), Ok(5));
    }
}

/// `ready` over timer channels and a data channel, on a G: it returns the due timer, and
/// performs nothing (the value is still there to receive).
#[test]
fn ready_sees_due_timers() {
    gort::spawn(|| {
        let (_tx, rx) = bounded::<u8>(0);
        let t = gort::time::after(Duration::from_millis(5));
        let mut sel = Select::new();
        sel.recv(&rx);
        let ti = sel.recv(&t);
        assert_eq!(sel.ready_timeout(Duration::from_secs(5)), Ok(ti));
        assert!(t.try_recv().is_ok());
        assert!(sel.ready_timeout(Duration::from_millis(20)).is_err());
    })
    .join()
    .unwrap();
}
