//! The sync shim: the only door through which engine code reaches atomics, locks and threads.
//!
//! Normally it re-exports `std::sync::atomic`, `std::sync::Arc` and `parking_lot`'s `Mutex` and
//! `Condvar` (behind a small API of our own: `Condvar::wait` takes the guard by value, the shape
//! loom's condvar has). Under `--cfg loom` the same names come from the `loom` crate, so the loom
//! models in `loom-tests/` check the real engine code, not a copy (tokio's pattern; see
//! docs/design.md, "Loom coverage"). Engine modules never name `std::sync` directly.

/// The std/parking_lot implementation. Normally it is the whole shim; under `--cfg loom` only
/// [`unmodelled`] reaches it.
#[cfg_attr(loom, allow(dead_code))]
mod std_imp {
    /// A mutex with `parking_lot`'s API (no poisoning: the engine never unwinds while holding one).
    #[derive(Default, Debug)]
    pub(crate) struct Mutex<T>(parking_lot::Mutex<T>);
    pub(crate) type MutexGuard<'a, T> = parking_lot::MutexGuard<'a, T>;

    impl<T> Mutex<T> {
        pub(crate) const fn new(t: T) -> Self {
            Mutex(parking_lot::const_mutex(t))
        }
        #[inline]
        pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
            self.0.lock()
        }
    }

    /// A condition variable whose `wait` takes and returns the guard (loom's shape).
    #[derive(Default, Debug)]
    pub(crate) struct Condvar(parking_lot::Condvar);

    impl Condvar {
        pub(crate) const fn new() -> Self {
            Condvar(parking_lot::Condvar::new())
        }
        pub(crate) fn wait<'a, T>(&self, mut g: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
            self.0.wait(&mut g);
            g
        }
        /// Waits at most `d`; spurious and timed-out returns look alike, so callers re-check.
        pub(crate) fn wait_for<'a, T>(
            &self,
            mut g: MutexGuard<'a, T>,
            d: std::time::Duration,
        ) -> MutexGuard<'a, T> {
            self.0.wait_for(&mut g, d);
            g
        }
        pub(crate) fn notify_one(&self) {
            self.0.notify_one();
        }
        #[allow(dead_code)] // no user at the moment in non-loom builds
        pub(crate) fn notify_all(&self) {
            self.0.notify_all();
        }
    }
}

#[cfg(not(loom))]
mod imp {
    pub(crate) use super::std_imp::{Condvar, Mutex, MutexGuard};
    pub(crate) use std::sync::atomic;
    pub(crate) use std::sync::Arc;

    pub(crate) fn spawn_thread<F: FnOnce() + Send + 'static>(
        name: String,
        f: F,
    ) -> std::io::Result<()> {
        std::thread::Builder::new().name(name).spawn(f).map(drop)
    }
}

/// Process-wide state that the loom models do NOT check, and that must not be a loom object:
/// loom forbids a loom object to outlive the `loom::model` execution that created it, so statics
/// (the timer map, the G id counter) use these plain std/parking_lot types in both builds.
/// Under `--cfg loom` nothing in a model may block on them (critical sections only).
/// See docs/loom.md, "Seams".
pub(crate) mod unmodelled {
    #[allow(unused_imports)]
    pub(crate) use super::std_imp::{Condvar, Mutex};
    #[allow(unused_imports)]
    pub(crate) use std::sync::atomic::{
        fence, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering,
    };
}

#[cfg(loom)]
mod imp {
    pub(crate) use loom::sync::atomic;
    pub(crate) use loom::sync::Arc;

    #[derive(Debug)]
    pub(crate) struct Mutex<T>(loom::sync::Mutex<T>);
    pub(crate) type MutexGuard<'a, T> = loom::sync::MutexGuard<'a, T>;

    impl<T> Mutex<T> {
        pub(crate) fn new(t: T) -> Self {
            Mutex(loom::sync::Mutex::new(t))
        }
        pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
            self.0.lock().unwrap()
        }
    }

    impl<T: Default> Default for Mutex<T> {
        fn default() -> Self {
            Mutex::new(T::default())
        }
    }

    #[derive(Debug, Default)]
    pub(crate) struct Condvar(loom::sync::Condvar);

    impl Condvar {
        pub(crate) fn new() -> Self {
            Condvar(loom::sync::Condvar::new())
        }
        pub(crate) fn wait<'a, T>(&self, g: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
            self.0.wait(g).unwrap()
        }
        pub(crate) fn wait_for<'a, T>(
            &self,
            g: MutexGuard<'a, T>,
            _d: std::time::Duration,
        ) -> MutexGuard<'a, T> {
            // loom has no time: a timed wait is a wait that may return spuriously.
            self.0.wait(g).unwrap()
        }
        pub(crate) fn notify_one(&self) {
            self.0.notify_one();
        }
        pub(crate) fn notify_all(&self) {
            self.0.notify_all();
        }
    }

    pub(crate) fn spawn_thread<F: FnOnce() + Send + 'static>(
        _name: String,
        f: F,
    ) -> std::io::Result<()> {
        loom::thread::spawn(f);
        Ok(())
    }

    pub(crate) fn short_sleep() {
        loom::thread::yield_now();
    }
}

pub(crate) use imp::*;
