//! `Semaphore`: counting permits over the engine's [`Sema`] (FIFO waiters, no hand-off).

use super::sema::Sema;
use crate::g::WaitReason;
use std::fmt;

/// A counting semaphore that parks the G while no permit is available.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// let s = Arc::new(gort::sync::Semaphore::new(2));
/// s.acquire();
/// s.acquire();
/// assert!(!s.try_acquire());
/// let s2 = s.clone();
/// gort::spawn(move || s2.release());
/// s.acquire(); // parks until the release
/// assert_eq!(s.available_permits(), 0);
/// ```
pub struct Semaphore {
    sema: Sema,
}

impl Semaphore {
    super::cfn! {
        /// A semaphore with `permits` permits (`const`).
        ///
        /// # Examples
        ///
        /// ```
        /// assert_eq!(gort::sync::Semaphore::new(3).available_permits(), 3);
        /// ```
        pub fn new(permits: u32) -> Semaphore {
            Semaphore {
                sema: Sema::new(permits),
            }
        }
    }

    /// Takes a permit, parking until one is available.
    ///
    /// # Examples
    ///
    /// ```
    /// let s = gort::sync::Semaphore::new(1);
    /// s.acquire();
    /// assert_eq!(s.available_permits(), 0);
    /// ```
    pub fn acquire(&self) {
        self.sema.acquire(false, WaitReason::Semacquire);
    }

    /// Takes a permit if one is available now.
    ///
    /// # Examples
    ///
    /// ```
    /// let s = gort::sync::Semaphore::new(1);
    /// assert!(s.try_acquire());
    /// assert!(!s.try_acquire());
    /// ```
    #[must_use]
    pub fn try_acquire(&self) -> bool {
        self.sema.try_acquire()
    }

    /// Returns a permit (waking one waiter, if any).
    ///
    /// # Examples
    ///
    /// ```
    /// let s = gort::sync::Semaphore::new(0);
    /// s.release();
    /// assert!(s.try_acquire());
    /// ```
    pub fn release(&self) {
        self.sema.release(false);
    }

    /// Permits available now (a snapshot).
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(gort::sync::Semaphore::new(0).available_permits(), 0);
    /// ```
    #[must_use]
    pub fn available_permits(&self) -> u32 {
        self.sema.available()
    }
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Semaphore")
            .field("available", &self.available_permits())
            .finish()
    }
}
