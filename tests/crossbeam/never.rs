//! Ported from crossbeam-channel `tests/never.rs` (crossbeam 7de845a): Tests for the never channel flavor.
//! Each test names its source; the assertions are kept. Tests whose behaviour differs on
//! purpose are listed in docs/channels.md, "crossbeam-channel's tests".

use std::{
    thread,
    time::{Duration, Instant},
};

use gort::chan::{never, unbounded};
use gort::select;
use gort::time::tick;

fn ms(ms: u64) -> Duration {
    Duration::from_millis(ms)
}

/// crossbeam-channel tests/never.rs `smoke`.
#[test]
fn smoke() {
    select! {
        recv(never::<i32>()) -> _ => panic!(),
        default => {}
    }
}

/// crossbeam-channel tests/never.rs `optional`.
#[test]
fn optional() {
    let (s, r) = unbounded::<i32>();
    s.send(1).unwrap();
    s.send(2).unwrap();

    let mut r = Some(&r);
    select! {
        recv(r.unwrap_or(&never())) -> _ => {}
        default => panic!(),
    }

    r = None;
    select! {
        recv(r.unwrap_or(&never())) -> _ => panic!(),
        default => {}
    }
}

/// crossbeam-channel tests/never.rs `tick_n`.
#[test]
fn tick_n() {
    let mut r = tick(ms(100));
    let mut step = 0;

    loop {
        select! {
            recv(r) -> _ => step += 1,
            default(ms(500)) => break,
        }

        if step == 10 {
            r = never();
        }
    }

    assert_eq!(step, 10);
}

/// crossbeam-channel tests/never.rs `capacity`.
#[test]
fn capacity() {
    let r = never::<i32>();
    assert_eq!(r.capacity(), Some(0));
}

/// crossbeam-channel tests/never.rs `len_empty_full`.
#[test]
fn len_empty_full() {
    let r = never::<i32>();
    assert_eq!(r.len(), 0);
    assert!(r.is_empty());
    assert!(r.is_full());
}

/// crossbeam-channel tests/never.rs `try_recv`.
#[test]
fn try_recv() {
    let r = never::<i32>();
    assert!(r.try_recv().is_err());

    thread::sleep(ms(100));
    assert!(r.try_recv().is_err());
}

/// crossbeam-channel tests/never.rs `recv_timeout`.
#[test]
fn recv_timeout() {
    let start = Instant::now();
    let r = never::<i32>();

    assert!(r.recv_timeout(ms(100)).is_err());
    let now = Instant::now();
    assert!(now - start >= ms(100));
    assert!(now - start <= ms(150) + crate::LATE);

    assert!(r.recv_timeout(ms(100)).is_err());
    let now = Instant::now();
    assert!(now - start >= ms(200));
    assert!(now - start <= ms(250) + crate::LATE);
}
