//! Timer channels: Go's `time.After` and `time.Tick`, built on `timer::add`.
//!
//! The timer callback owns a `Sender` and `try_send`s the firing instant (never blocking, as
//! timer callbacks must not). A tick whose receiver is slow is dropped (Go's ticker keeps one
//! pending tick too); a ticker stops re-arming once every `Receiver` is gone (the send fails
//! with `Closed`).

use super::{bounded, Receiver, Sender, TrySendError};
use std::time::{Duration, Instant};

/// A channel that receives the current instant once, after `d` (Go's `time.After`). After the
/// value has been received the channel reports closed.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// let (_tx, never) = gort::chan::bounded::<()>(0);
/// let timeout = gort::time::after(Duration::from_millis(10));
/// let timed_out = gort::select! {
///     recv(never) -> _ => false,
///     recv(timeout) -> _ => true,
/// };
/// assert!(timed_out);
/// ```
#[must_use]
pub fn after(d: Duration) -> Receiver<Instant> {
    let (tx, rx) = bounded(1);
    let when = crate::timer::deadline_after(d);
    crate::timer::add(
        when,
        Box::new(move || {
            let _ = tx.try_send(Instant::now());
        }),
    );
    rx
}

/// A channel that receives the current instant every `period` (Go's `time.Tick`), until the
/// receiver is dropped. Ticks a slow receiver misses are dropped, not queued.
///
/// # Panics
/// If `period` is zero.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// let t = gort::time::tick(Duration::from_millis(1));
/// let a = t.recv().unwrap();
/// let b = t.recv().unwrap();
/// assert!(b > a);
/// ```
#[must_use]
pub fn tick(period: Duration) -> Receiver<Instant> {
    assert!(!period.is_zero(), "gort::time::tick: zero period");
    let (tx, rx) = bounded(1);
    arm_tick(tx, crate::timer::deadline_after(period), period);
    rx
}

fn arm_tick(tx: Sender<Instant>, when: Instant, period: Duration) {
    crate::timer::add(
        when,
        Box::new(move || {
            let now = Instant::now();
            if let Err(TrySendError::Closed(_)) = tx.try_send(now) {
                return;
            }
            // Next tick on the period grid, skipping ticks already missed.
            let mut next = when.checked_add(period).unwrap_or(when);
            if next <= now {
                // Skip the missed ticks (saturating: a period that long never gets here twice).
                let missed = (now - when).as_nanos() / period.as_nanos();
                let skip = u32::try_from(missed + 1).unwrap_or(u32::MAX);
                next = period
                    .checked_mul(skip)
                    .and_then(|p| when.checked_add(p))
                    .unwrap_or_else(|| crate::timer::deadline_after(period));
            }
            arm_tick(tx, next, period);
        }),
    );
}
