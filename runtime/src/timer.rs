//! Timers: one process-wide ordered map of deadlines, fired by sysmon.
//!
//! This is the first, simple version (the netpoller issue replaces it with per-P heaps run by
//! the Ps and an M blocked in netpoll with the nearest deadline as its timeout). Its contract,
//! which the replacement keeps:
//!
//! * [`add`] registers a callback to run once at or after `when`, on a runtime thread (never on
//!   the caller's stack); it returns an id.
//! * [`cancel`] removes a timer that has not fired yet and says whether it did. It does not wait
//!   for a callback that is already running: callbacks own what they touch (`'static + Send`).
//! * Callbacks must be short and must not block: they typically `unpark` a G.
//!
//! Protected by `TIMERS`' lock: the map. Callbacks run after the lock is released.

// A process static, so not a loom object (loom objects may not outlive one model execution):
// timers are outside the loom models (docs/loom.md, "Seams").
use crate::loom::unmodelled::{Condvar, Mutex};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Identifies a pending timer (its deadline and a sequence number, so ids are unique).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct TimerId(Instant, u64);

type Callback = Box<dyn FnOnce() + Send>;

struct Timers {
    map: BTreeMap<TimerId, Callback>,
    seq: u64,
    /// When the firing thread (sysmon) plans to wake next; an earlier `add` notifies it.
    sleeping_until: Option<Instant>,
}

static TIMERS: Mutex<Timers> = Mutex::new(Timers {
    map: BTreeMap::new(),
    seq: 0,
    sleeping_until: None,
});
static WAKE: Condvar = Condvar::new();

/// Registers `f` to run once at or after `when`.
pub fn add(when: Instant, f: Callback) -> TimerId {
    crate::sched();
    let mut t = TIMERS.lock();
    t.seq += 1;
    let id = TimerId(when, t.seq);
    t.map.insert(id, f);
    let earlier = match t.sleeping_until {
        Some(s) => when < s,
        None => false,
    };
    drop(t);
    if earlier {
        WAKE.notify_all();
    }
    id
}

/// Removes a pending timer; true if it had not fired.
pub fn cancel(id: TimerId) -> bool {
    TIMERS.lock().map.remove(&id).is_some()
}

/// Number of pending timers.
pub fn pending() -> usize {
    TIMERS.lock().map.len()
}

/// Runs every timer due at `now`; returns the next deadline, if any.
pub(crate) fn run_due(now: Instant) -> Option<Instant> {
    let mut due = Vec::new();
    let next = {
        let mut t = TIMERS.lock();
        while let Some(entry) = t.map.first_entry() {
            if entry.key().0 > now {
                break;
            }
            due.push(entry.remove());
        }
        t.map.keys().next().map(|k| k.0)
    };
    for f in due {
        f();
    }
    next
}

/// Sleeps the firing thread until `until` or until an earlier timer is added.
pub(crate) fn wait_until(until: Instant) {
    let mut t = TIMERS.lock();
    if let Some(first) = t.map.keys().next().copied() {
        if first.0 <= until {
            if first.0 <= Instant::now() {
                return;
            }
            t.sleeping_until = Some(first.0);
            let d = first.0.saturating_duration_since(Instant::now());
            let t = WAKE.wait_for(t, d);
            let mut t = t;
            t.sleeping_until = None;
            return;
        }
    }
    t.sleeping_until = Some(until);
    let d = until.saturating_duration_since(Instant::now());
    let mut t = WAKE.wait_for(t, d.max(Duration::from_micros(1)));
    t.sleeping_until = None;
}

/// Parks the current G for `d` (Go's `time.Sleep`); on a plain thread, `std::thread::sleep`.
pub fn sleep(d: Duration) {
    if d.is_zero() {
        crate::park::yield_now();
        return;
    }
    let when = Instant::now() + d;
    if crate::park::in_green_thread() {
        crate::park::park(crate::g::WaitReason::Sleep, move |u| {
            add(when, Box::new(move || u.unpark()));
            None
        });
    } else {
        std::thread::sleep(d);
    }
}
