//! `Barrier`: `n` parties wait until all have arrived; reusable (a generation counter).
//!
//! Under the engine lock: `count` arrivals in the current generation and the parked waiters.
//! The `n`th arrival starts a new generation and unparks the others; a registrar that finds the
//! generation already advanced cancels its park.

use crate::g::WaitReason;
use crate::loom::Mutex as EngineMutex;
use crate::park::Unparker;
use std::fmt;

struct State {
    count: usize,
    generation: u64,
    waiters: Vec<Unparker>,
}

/// Lets `n` Gs (or threads) wait for each other (std's `Barrier`, parking Gs).
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// let b = Arc::new(gort::sync::Barrier::new(3));
/// let hs: Vec<_> = (0..3)
///     .map(|_| {
///         let b = b.clone();
///         gort::spawn(move || b.wait().is_leader())
///     })
///     .collect();
/// let leaders = hs.into_iter().filter(|_| true).map(|h| h.join().unwrap()).filter(|l| *l).count();
/// assert_eq!(leaders, 1);
/// ```
pub struct Barrier {
    n: usize,
    state: EngineMutex<State>,
}

/// What [`Barrier::wait`] returns: exactly one waiter per generation is the leader.
///
/// # Examples
///
/// ```
/// let b = gort::sync::Barrier::new(1);
/// let r: gort::sync::BarrierWaitResult = b.wait();
/// assert!(r.is_leader());
/// ```
#[derive(Debug, Clone, Copy)]
pub struct BarrierWaitResult(bool);

impl BarrierWaitResult {
    /// True for the one waiter that completed the generation.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(gort::sync::Barrier::new(1).wait().is_leader());
    /// ```
    #[must_use]
    pub fn is_leader(&self) -> bool {
        self.0
    }
}

impl Barrier {
    /// A barrier for `n` parties (`n == 0` behaves like 1).
    ///
    /// # Examples
    ///
    /// ```
    /// let b = gort::sync::Barrier::new(2);
    /// # drop(b);
    /// ```
    pub fn new(n: usize) -> Barrier {
        Barrier {
            n: n.max(1),
            state: EngineMutex::new(State {
                count: 0,
                generation: 0,
                waiters: Vec::new(),
            }),
        }
    }

    /// Parks until `n` parties have called `wait` in this generation.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// let b = Arc::new(gort::sync::Barrier::new(2));
    /// let b2 = b.clone();
    /// let h = gort::spawn(move || b2.wait().is_leader());
    /// let me = b.wait().is_leader();
    /// assert!(me ^ h.join().unwrap());
    /// ```
    #[track_caller]
    pub fn wait(&self) -> BarrierWaitResult {
        let mut s = self.state.lock();
        s.count += 1;
        if s.count == self.n {
            s.count = 0;
            s.generation += 1;
            let ws = std::mem::take(&mut s.waiters);
            drop(s);
            for u in ws {
                u.unpark();
            }
            return BarrierWaitResult(true);
        }
        let gen = s.generation;
        drop(s);
        crate::park::park(WaitReason::BarrierWait, |u| {
            let mut s = self.state.lock();
            if s.generation != gen {
                return Some(u);
            }
            s.waiters.push(u);
            None
        });
        BarrierWaitResult(false)
    }
}

impl fmt::Debug for Barrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Barrier").field("n", &self.n).finish()
    }
}
