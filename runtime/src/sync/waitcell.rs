//! `WaitCell`: one blocked call that may end three ways: granted by a waker, timed out by a
//! timer, or abandoned because a context ended. Used by the waits that take a timeout or a
//! [`Context`] (weighted `Semaphore`, `Condvar::wait_timeout`, `errgroup`, `sleep_ctx`).
//!
//! # Protocol
//!
//! 1. The waiter makes an `Arc<WaitCell>` and publishes it where wakers look (a semaphore's
//!    queue, a condvar's list), then calls [`wait`]: it arms the timer and the context hook
//!    (each holds a clone of the `Arc`, so they own what they touch, as timer callbacks must),
//!    then parks; `register` stores the unparker under the cell's lock unless the cell has
//!    ended meanwhile (then the park is cancelled).
//! 2. Whoever ends it first, under the cell's lock, moves `state` out of `WAITING` and takes the
//!    unparker ([`WaitCell::end`]); everyone after finds it ended and does nothing. So exactly
//!    one outcome happens, and a waker that loses (the cell timed out) knows it, and can serve
//!    someone else instead.
//! 3. Woken, the waiter disarms the timer and the hook and reads the outcome. Removing itself
//!    from the waker's queue, if it did not end by a grant, is the caller's business.
//!
//! Lock order: whatever lock a waker holds (a semaphore's, a condvar's list) < a cell's lock. The
//! cell's lock is a leaf; the unparker is unparked after it is released.

use crate::context::Context;
use crate::g::WaitReason;
use crate::loom::unmodelled::Mutex;
use crate::park::Unparker;
use std::sync::Arc;
use std::time::Instant;

/// Still waiting.
pub(crate) const WAITING: u8 = 0;
/// A waker granted what was waited for.
pub(crate) const GRANTED: u8 = 1;
/// The deadline passed first.
pub(crate) const TIMED_OUT: u8 = 2;
/// The context ended first.
pub(crate) const CTX_DONE: u8 = 3;

pub(crate) struct WaitCell {
    /// The caller's datum (a semaphore request's size, a condvar ticket); immutable.
    pub(crate) tag: u64,
    st: Mutex<CellState>,
}

struct CellState {
    state: u8,
    u: Option<Unparker>,
}

impl WaitCell {
    pub(crate) fn new(tag: u64) -> Arc<WaitCell> {
        Arc::new(WaitCell {
            tag,
            st: Mutex::new(CellState {
                state: WAITING,
                u: None,
            }),
        })
    }

    /// Step 2: ends the wait with `how` if it has not ended. `Some(unparker)` (which may be
    /// `None` if the waiter has not parked yet; it then does not park) if this call ended it:
    /// the caller unparks it once it has released its own locks.
    #[must_use = "the waiter stays parked until its unparker is unparked"]
    pub(crate) fn end(&self, how: u8) -> Option<Option<Unparker>> {
        let mut st = self.st.lock();
        if st.state != WAITING {
            return None;
        }
        st.state = how;
        Some(st.u.take())
    }

    /// [`end`](Self::end), unparking at once; true if this call ended the wait.
    pub(crate) fn end_now(&self, how: u8) -> bool {
        match self.end(how) {
            Some(u) => {
                if let Some(u) = u {
                    u.unpark();
                }
                true
            }
            None => false,
        }
    }

    /// The outcome so far (`WAITING` until someone ends it).
    pub(crate) fn state(&self) -> u8 {
        self.st.lock().state
    }
}

/// Steps 1 and 3: parks until `cell` ends (by a waker, `deadline`, or `ctx`); returns how.
#[track_caller]
pub(crate) fn wait(
    cell: &Arc<WaitCell>,
    reason: WaitReason,
    deadline: Option<Instant>,
    ctx: Option<&Context>,
) -> u8 {
    let timer = deadline.map(|d| {
        let c = cell.clone();
        crate::timer::add(
            d,
            Box::new(move || {
                c.end_now(TIMED_OUT);
            }),
        )
    });
    let hook = ctx.map(|ctx| {
        let c = cell.clone();
        ctx.on_done(move |_| {
            c.end_now(CTX_DONE);
        })
    });
    crate::park::park(reason, |u| {
        let mut st = cell.st.lock();
        if st.state != WAITING {
            return Some(u);
        }
        st.u = Some(u);
        None
    });
    if let Some(t) = timer {
        crate::timer::cancel(t);
    }
    if let Some(h) = hook {
        crate::context::remove_hook(h);
    }
    cell.state()
}
