//! `Once` and `OnceLock<T>`: Go's `sync.Once` (a done flag with an Acquire fast path, and a
//! [`RawMutex`] that serialises the slow path, so late callers park until the first finishes).
//!
//! Who touches what: `done` is written (Release) once, under the mutex, after the initialiser
//! returned; `OnceLock::value` is written only under the mutex before `done`, and read only after
//! an Acquire load of `done` saw it set.
//!
//! Panics: `Once` follows Go (the call counts as done even if `f` panicked, so a panicking
//! initialiser is not retried). `OnceLock` follows std (it stays empty and the next caller
//! retries), since it has no value to hand out otherwise.

use super::mutex::RawMutex;
use crate::loom::atomic::{AtomicBool, Ordering};
use std::cell::UnsafeCell;
use std::fmt;
use std::mem::MaybeUninit;

/// Runs an initialiser exactly once (Go's `sync.Once`); other callers park until it finished.
///
/// # Examples
///
/// ```
/// static INIT: gort::sync::Once = gort::sync::Once::new();
/// let hs: Vec<_> = (0..10).map(|_| gort::spawn(|| INIT.call_once(|| println!("once")))).collect();
/// hs.into_iter().for_each(|h| h.join().unwrap());
/// assert!(INIT.is_completed());
/// ```
pub struct Once {
    done: AtomicBool,
    m: RawMutex,
}

struct Unlock<'a>(&'a RawMutex);
impl Drop for Unlock<'_> {
    fn drop(&mut self) {
        self.0.unlock();
    }
}

impl Once {
    super::cfn! {
        /// A new `Once` (`const`).
        ///
        /// # Examples
        ///
        /// ```
        /// let o = gort::sync::Once::new();
        /// assert!(!o.is_completed());
        /// ```
        pub fn new() -> Once {
            Once {
                done: AtomicBool::new(false),
                m: RawMutex::new(),
            }
        }
    }

    /// Runs `f` if no call has run yet; returns once some call's `f` has finished.
    ///
    /// # Examples
    ///
    /// ```
    /// let o = gort::sync::Once::new();
    /// let mut n = 0;
    /// o.call_once(|| n += 1);
    /// o.call_once(|| n += 1);
    /// assert_eq!(n, 1);
    /// ```
    #[track_caller]
    pub fn call_once(&self, f: impl FnOnce()) {
        // Acquire: pairs with the Release store below (f's effects are visible).
        if self.done.load(Ordering::Acquire) {
            return;
        }
        self.m.lock();
        let _u = Unlock(&self.m);
        if !self.done.load(Ordering::Relaxed) {
            struct SetDone<'a>(&'a AtomicBool);
            impl Drop for SetDone<'_> {
                fn drop(&mut self) {
                    self.0.store(true, Ordering::Release);
                }
            }
            let _d = SetDone(&self.done);
            f();
        }
    }

    /// True once a call has finished.
    ///
    /// # Examples
    ///
    /// ```
    /// let o = gort::sync::Once::new();
    /// o.call_once(|| {});
    /// assert!(o.is_completed());
    /// ```
    #[must_use]
    pub fn is_completed(&self) -> bool {
        self.done.load(Ordering::Acquire)
    }
}

impl Default for Once {
    fn default() -> Self {
        Once::new()
    }
}

impl fmt::Debug for Once {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Once")
            .field("done", &self.is_completed())
            .finish()
    }
}

/// A cell written once (std's `OnceLock`, parking the G while another initialises it).
///
/// # Examples
///
/// ```
/// static CFG: gort::sync::OnceLock<String> = gort::sync::OnceLock::new();
/// let v = gort::spawn(|| CFG.get_or_init(|| "x".repeat(3)).clone()).join().unwrap();
/// assert_eq!(v, "xxx");
/// assert_eq!(CFG.get().map(String::as_str), Some("xxx"));
/// ```
pub struct OnceLock<T> {
    done: AtomicBool,
    m: RawMutex,
    value: UnsafeCell<MaybeUninit<T>>,
}

// SAFETY: the value is written once under the mutex before `done` (Release) and only shared
// afterwards, so sharing the cell shares `&T` (needs Sync) and may move a `T` into it from
// another thread (needs Send), std's bounds.
unsafe impl<T: Send + Sync> Sync for OnceLock<T> {}
// SAFETY: owning the cell owns the `T`.
unsafe impl<T: Send> Send for OnceLock<T> {}

impl<T> OnceLock<T> {
    super::cfn! {
        /// An empty cell (`const`).
        ///
        /// # Examples
        ///
        /// ```
        /// let c = gort::sync::OnceLock::<u8>::new();
        /// assert!(c.get().is_none());
        /// ```
        pub fn new() -> OnceLock<T> {
            OnceLock {
                done: AtomicBool::new(false),
                m: RawMutex::new(),
                value: UnsafeCell::new(MaybeUninit::uninit()),
            }
        }
    }

    /// The value, if initialised.
    ///
    /// # Examples
    ///
    /// ```
    /// let c = gort::sync::OnceLock::new();
    /// c.get_or_init(|| 1);
    /// assert_eq!(c.get(), Some(&1));
    /// ```
    pub fn get(&self) -> Option<&T> {
        if self.done.load(Ordering::Acquire) {
            // SAFETY: `done` is set (Acquire) only after the value was written; it is never
            // written again.
            Some(unsafe { (*self.value.get()).assume_init_ref() })
        } else {
            None
        }
    }

    /// The value, initialising it with `f` if empty (one initialiser runs; others park).
    ///
    /// # Examples
    ///
    /// ```
    /// let c = gort::sync::OnceLock::new();
    /// assert_eq!(*c.get_or_init(|| 2), 2);
    /// assert_eq!(*c.get_or_init(|| 3), 2);
    /// ```
    #[track_caller]
    pub fn get_or_init(&self, f: impl FnOnce() -> T) -> &T {
        if let Some(v) = self.get() {
            return v;
        }
        self.m.lock();
        let _u = Unlock(&self.m);
        if !self.done.load(Ordering::Relaxed) {
            let v = f();
            // SAFETY: we hold the mutex and `done` is clear: nobody reads or writes the value.
            unsafe { (*self.value.get()).write(v) };
            self.done.store(true, Ordering::Release);
        }
        drop(_u);
        self.get().expect("OnceLock: initialised")
    }

    /// Sets the value if empty; otherwise returns `v` back.
    ///
    /// # Examples
    ///
    /// ```
    /// let c = gort::sync::OnceLock::new();
    /// assert_eq!(c.set(1), Ok(()));
    /// assert_eq!(c.set(2), Err(2));
    /// ```
    pub fn set(&self, v: T) -> Result<(), T> {
        let mut v = Some(v);
        self.get_or_init(|| v.take().unwrap());
        match v {
            None => Ok(()),
            Some(v) => Err(v),
        }
    }

    /// Consumes the cell, returning the value if set.
    ///
    /// # Examples
    ///
    /// ```
    /// let c = gort::sync::OnceLock::new();
    /// c.set(5).unwrap();
    /// assert_eq!(c.into_inner(), Some(5));
    /// ```
    pub fn into_inner(self) -> Option<T> {
        let me = std::mem::ManuallyDrop::new(self);
        if me.done.load(Ordering::Acquire) {
            // SAFETY: initialised (done is set); `me` is never dropped, so read moves it out once.
            Some(unsafe { (*me.value.get()).assume_init_read() })
        } else {
            None
        }
    }
}

impl<T> Drop for OnceLock<T> {
    fn drop(&mut self) {
        if self.done.load(Ordering::Acquire) {
            // SAFETY: initialised (done is set), and we have `&mut self`.
            unsafe { self.value.get_mut().assume_init_drop() };
        }
    }
}

impl<T> Default for OnceLock<T> {
    fn default() -> Self {
        OnceLock::new()
    }
}

impl<T: fmt::Debug> fmt::Debug for OnceLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("OnceLock").field(&self.get()).finish()
    }
}
