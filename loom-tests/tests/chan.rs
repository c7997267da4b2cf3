//! Loom model (4): channel send/recv/close races and select registration, driving the real
//! `gort_runtime::chan` code from plain loom threads (park's thread path).
//!
//! Run: `RUSTFLAGS="--cfg loom -C debug_assertions" LOOM_MAX_PREEMPTIONS=2 \
//!       CARGO_TARGET_DIR=target/loom cargo test -p loom-tests --release --test chan`
#![cfg(loom)]

use gort_runtime::chan::{bounded, unbounded, Receiver, Sender};
use loom::thread;

/// Every value is either received or handed back to its sender: nothing lost, nothing doubled.
fn send_recv_close(mk: fn() -> (Sender<u32>, Receiver<u32>)) {
    loom::model(move || {
        let (tx, rx) = mk();
        let tx2 = tx.clone();
        let s = thread::spawn(move || tx2.send(7).map_err(|e| e.into_inner()));
        let c = thread::spawn(move || {
            tx.close();
        });
        let got = rx.recv();
        let sent = s.join().unwrap();
        c.join().unwrap();
        match (sent, got) {
            (Ok(()), Ok(7)) => {}
            (Err(7), Err(_)) => {}
            (sent, got) => panic!("lost or doubled: send {sent:?}, recv {got:?}"),
        }
    });
}

#[test]
fn unbuffered_send_recv_close() {
    send_recv_close(|| bounded(0));
}

#[test]
fn buffered1_send_recv_close() {
    send_recv_close(|| bounded(1));
}

#[test]
fn unbounded_send_recv_close() {
    send_recv_close(unbounded);
}

#[test]
fn unbuffered_rendezvous() {
    loom::model(|| {
        let (tx, rx) = bounded::<u32>(0);
        let s = thread::spawn(move || tx.send(1));
        assert_eq!(rx.recv(), Ok(1));
        assert!(s.join().unwrap().is_ok());
    });
}

/// A select registered on two unbuffered channels, both senders arriving at once: exactly one
/// arm fires, and the other sender is then served by a plain recv (a stale registration would
/// swallow its value or leave it parked forever, which loom reports as a deadlock).
#[test]
fn select_two_senders_exactly_one() {
    loom::model(|| {
        let (tx1, rx1) = bounded::<u32>(0);
        let (tx2, rx2) = bounded::<u32>(0);
        let a = thread::spawn(move || tx1.send(1));
        let b = thread::spawn(move || tx2.send(2));
        let first = gort_runtime::select! {
            recv(rx1) -> v => v.unwrap(),
            recv(rx2) -> v => v.unwrap(),
        };
        let second = if first == 1 { rx2.recv() } else { rx1.recv() }.unwrap();
        assert_eq!(first + second, 3);
        assert!(a.join().unwrap().is_ok());
        assert!(b.join().unwrap().is_ok());
    });
}

/// Select with a send arm and a receive arm, a partner racing on each side: the receive arm
/// fires iff the partner's `try_send` succeeded (a value is never lost to a losing arm).
#[test]
fn select_send_or_recv() {
    loom::model(|| {
        let (tx1, rx1) = bounded::<u32>(0);
        let (tx2, rx2) = bounded::<u32>(0);
        let r = thread::spawn(move || rx1.recv());
        let tx2c = tx2.clone(); // `tx2` stays alive: a closed rx2 would make its arm ready
        let s = thread::spawn(move || tx2c.try_send(5).is_ok());
        let fired = gort_runtime::select! {
            send(tx1, 9) -> res => { res.unwrap(); 1 },
            recv(rx2) -> v => { assert_eq!(v, Ok(5)); 2 },
        };
        if fired == 2 {
            tx1.send(9).unwrap();
        }
        assert_eq!(r.join().unwrap(), Ok(9));
        let delivered = s.join().unwrap();
        assert_eq!(
            delivered,
            fired == 2,
            "try_send result disagrees with the fired arm"
        );
    });
}

/// A select with `default` over two channels never takes `default` while a value is always
/// available on one of them: the other thread moves it from r1 to r2 (sends on s2, then takes
/// r1) while the select looks (crossbeam's `linearizable_default`). Pass 1 alone, one channel at
/// a time, can miss it; the settle pass (select.rs) must not.
#[test]
fn select_default_is_linearizable() {
    loom::model(|| {
        let (s1, r1) = bounded::<u32>(1);
        let (s2, r2) = bounded::<u32>(1);
        s1.send(1).unwrap();
        let r1b = r1.clone();
        let mover = thread::spawn(move || {
            s2.send(2).unwrap();
            let _ = r1b.try_recv();
            s2
        });
        let got = gort_runtime::select! {
            recv(r1) -> v => v.unwrap(),
            recv(r2) -> v => v.unwrap(),
            default => 0,
        };
        assert_ne!(got, 0, "default taken while a value was always available");
        drop(mover.join().unwrap());
    });
}

/// A dynamic `Select` send on an unbuffered channel meets a plain `recv`, in either order: the
/// receiver parked first is reserved by pass 1; a send parked first is a deferred sender the
/// receiver pairs with. Exactly the sent value arrives.
#[test]
fn dynamic_select_send_meets_recv() {
    loom::model(|| {
        let (tx, rx) = bounded::<u32>(0);
        let r = thread::spawn(move || rx.recv());
        let mut sel = gort_runtime::chan::Select::new();
        let i = sel.send(&tx);
        let op = sel.select();
        assert_eq!(op.index(), i);
        op.send(&tx, 7).unwrap();
        assert_eq!(r.join().unwrap(), Ok(7));
    });
}

/// A receiver reserved by a dynamic `Select` send that is then dropped unsent is given back
/// (woken to look again) and receives the next value: nothing is lost, nobody is stuck.
#[test]
fn dropped_reservation_gives_the_receiver_back() {
    loom::model(|| {
        let (tx, rx) = bounded::<u32>(0);
        let r = thread::spawn(move || rx.recv());
        {
            let mut sel = gort_runtime::chan::Select::new();
            sel.send(&tx);
            if let Ok(op) = sel.try_select() {
                // Dropping it unsent panics after giving the receiver back.
                let dropped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(op)));
                assert!(dropped.is_err());
            }
        }
        tx.send(3).unwrap();
        assert_eq!(r.join().unwrap(), Ok(3));
    });
}
