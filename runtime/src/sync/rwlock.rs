//! `RwLock<T>`: Go's `sync.RWMutex` (writer-preferring: a waiting writer stops new readers).
//!
//! Fields, as in Go's rwmutex.go: `w` (a [`RawMutex`] serialising writers), `reader_count`
//! (readers holding or waiting; a pending writer subtracts `MAX_READERS`, so a negative value
//! tells new readers to park on `reader_sem`), `reader_wait` (readers the pending writer still
//! waits for; the last one releases `writer_sem`).
//!
//! 1. Read lock: `reader_count += 1`; if the result is negative a writer is pending: park on
//!    `reader_sem`.
//! 2. Read unlock: `reader_count -= 1`; if negative, `reader_wait -= 1`, and the reader that
//!    brings it to 0 releases `writer_sem`.
//! 3. Write lock: lock `w`; `reader_count -= MAX_READERS` (announces the writer); if readers
//!    were active, add their number to `reader_wait` and, unless they all left meanwhile, park on
//!    `writer_sem`.
//! 4. Write unlock: `reader_count += MAX_READERS`, release `reader_sem` once per parked reader,
//!    unlock `w`.
//!
//! All RMWs are SeqCst (Go's atomics are).

use super::mutex::RawMutex;
use super::sema::Sema;
use crate::g::WaitReason;
use crate::loom::atomic::{AtomicI32, Ordering};
use std::cell::UnsafeCell;
use std::fmt;
use std::ops::{Deref, DerefMut};

const MAX_READERS: i32 = 1 << 30;

/// A reader-writer lock that parks the G (Go's `sync.RWMutex` with a value). Writer-preferring:
/// once a writer waits, new readers wait behind it, so writers are not starved. No poisoning.
///
/// # Examples
///
/// ```
/// let l = gort::sync::RwLock::new(vec![1]);
/// {
///     let a = l.read();
///     let b = l.read(); // many readers at once
///     assert_eq!(a.len() + b.len(), 2);
/// }
/// l.write().push(2);
/// assert_eq!(*l.read(), [1, 2]);
/// ```
pub struct RwLock<T: ?Sized> {
    w: RawMutex,
    writer_sem: Sema,
    reader_sem: Sema,
    reader_count: AtomicI32,
    reader_wait: AtomicI32,
    data: UnsafeCell<T>,
}

// SAFETY: readers share `&T` across threads (needs `T: Sync`), writers move exclusive access
// (needs `T: Send`), exactly std's bounds.
unsafe impl<T: ?Sized + Send + Sync> Sync for RwLock<T> {}
// SAFETY: owning the lock owns the `T`.
unsafe impl<T: ?Sized + Send> Send for RwLock<T> {}

impl<T> RwLock<T> {
    super::cfn! {
        /// A new unlocked lock (`const`).
        ///
        /// # Examples
        ///
        /// ```
        /// static L: gort::sync::RwLock<u8> = gort::sync::RwLock::new(0);
        /// *L.write() = 1;
        /// assert_eq!(*L.read(), 1);
        /// ```
        pub fn new(t: T) -> RwLock<T> {
            RwLock {
                w: RawMutex::new(),
                writer_sem: Sema::new(0),
                reader_sem: Sema::new(0),
                reader_count: AtomicI32::new(0),
                reader_wait: AtomicI32::new(0),
                data: UnsafeCell::new(t),
            }
        }
    }

    /// Consumes the lock, returning the value.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(gort::sync::RwLock::new(2).into_inner(), 2);
    /// ```
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<T: ?Sized> RwLock<T> {
    /// Locks for reading (step 1).
    ///
    /// # Examples
    ///
    /// ```
    /// let l = gort::sync::RwLock::new(5);
    /// assert_eq!(*l.read(), 5);
    /// ```
    #[track_caller]
    pub fn read(&self) -> RwLockReadGuard<'_, T> {
        // A lock is one of a synctest bubble's preemption points (one load outside bubbles).
        if crate::bubble::active() {
            crate::bubble::preempt_point();
        }
        if self.reader_count.fetch_add(1, Ordering::SeqCst) + 1 < 0 {
            // Readers wait for the writer holding `w`: the dump names it.
            self.reader_sem
                .acquire_owned(false, WaitReason::RwLockRead, Some(&self.w.owner));
        }
        RwLockReadGuard { l: self }
    }

    /// Locks for reading if no writer holds or waits for the lock.
    ///
    /// # Examples
    ///
    /// ```
    /// let l = gort::sync::RwLock::new(5);
    /// let w = l.write();
    /// assert!(l.try_read().is_none());
    /// drop(w);
    /// assert!(l.try_read().is_some());
    /// ```
    pub fn try_read(&self) -> Option<RwLockReadGuard<'_, T>> {
        let mut c = self.reader_count.load(Ordering::SeqCst);
        loop {
            if c < 0 {
                return None;
            }
            match self.reader_count.compare_exchange_weak(
                c,
                c + 1,
                Ordering::SeqCst,
                Ordering::SeqCst,
            ) {
                Ok(_) => return Some(RwLockReadGuard { l: self }),
                Err(x) => c = x,
            }
        }
    }

    fn read_unlock(&self) {
        let r = self.reader_count.fetch_sub(1, Ordering::SeqCst) - 1;
        if r < 0 {
            assert!(
                r + 1 != 0 && r + 1 != -MAX_READERS,
                "gort::sync::RwLock: read unlock of unlocked lock"
            );
            if self.reader_wait.fetch_sub(1, Ordering::SeqCst) - 1 == 0 {
                self.writer_sem.release(false);
            }
        }
    }

    /// Locks for writing (step 3).
    ///
    /// # Examples
    ///
    /// ```
    /// let l = gort::sync::RwLock::new(5);
    /// *l.write() += 1;
    /// assert_eq!(*l.read(), 6);
    /// ```
    #[track_caller]
    pub fn write(&self) -> RwLockWriteGuard<'_, T> {
        self.w.lock();
        let r = self.reader_count.fetch_sub(MAX_READERS, Ordering::SeqCst);
        if r != 0 && self.reader_wait.fetch_add(r, Ordering::SeqCst) + r != 0 {
            self.writer_sem.acquire(false, WaitReason::RwLockWrite);
        }
        RwLockWriteGuard { l: self }
    }

    /// Locks for writing if the lock is free right now.
    ///
    /// # Examples
    ///
    /// ```
    /// let l = gort::sync::RwLock::new(5);
    /// let r = l.read();
    /// assert!(l.try_write().is_none());
    /// drop(r);
    /// assert!(l.try_write().is_some());
    /// ```
    pub fn try_write(&self) -> Option<RwLockWriteGuard<'_, T>> {
        if !self.w.try_lock() {
            return None;
        }
        if self
            .reader_count
            .compare_exchange(0, -MAX_READERS, Ordering::SeqCst, Ordering::SeqCst)
            .is_err()
        {
            self.w.unlock();
            return None;
        }
        Some(RwLockWriteGuard { l: self })
    }

    fn write_unlock(&self) {
        let r = self.reader_count.fetch_add(MAX_READERS, Ordering::SeqCst) + MAX_READERS;
        assert!(
            r < MAX_READERS,
            "gort::sync::RwLock: write unlock of unlocked lock"
        );
        for _ in 0..r {
            self.reader_sem.release(false);
        }
        self.w.unlock();
    }

    /// The value, through `&mut`.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut l = gort::sync::RwLock::new(1);
    /// *l.get_mut() = 2;
    /// assert_eq!(*l.read(), 2);
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }
}

impl<T: Default> Default for RwLock<T> {
    fn default() -> Self {
        RwLock::new(T::default())
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.try_read() {
            Some(g) => f.debug_struct("RwLock").field("data", &&*g).finish(),
            None => f.debug_struct("RwLock").field("data", &"<locked>").finish(),
        }
    }
}

/// Shared access to an [`RwLock`]; unlocks on drop.
///
/// # Examples
///
/// ```
/// let l = gort::sync::RwLock::new(1);
/// let g: gort::sync::RwLockReadGuard<'_, i32> = l.read();
/// assert_eq!(*g, 1);
/// ```
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct RwLockReadGuard<'a, T: ?Sized> {
    l: &'a RwLock<T>,
}

/// Exclusive access to an [`RwLock`]; unlocks on drop.
///
/// # Examples
///
/// ```
/// let l = gort::sync::RwLock::new(1);
/// let mut g: gort::sync::RwLockWriteGuard<'_, i32> = l.write();
/// *g = 2;
/// ```
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct RwLockWriteGuard<'a, T: ?Sized> {
    l: &'a RwLock<T>,
}

impl<T: ?Sized> Deref for RwLockReadGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: a read guard excludes writers, so only shared references exist.
        unsafe { &*self.l.data.get() }
    }
}

impl<T: ?Sized> Drop for RwLockReadGuard<'_, T> {
    fn drop(&mut self) {
        self.l.read_unlock();
    }
}

impl<T: ?Sized> Deref for RwLockWriteGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the write guard is exclusive.
        unsafe { &*self.l.data.get() }
    }
}

impl<T: ?Sized> DerefMut for RwLockWriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the write guard is exclusive.
        unsafe { &mut *self.l.data.get() }
    }
}

impl<T: ?Sized> Drop for RwLockWriteGuard<'_, T> {
    fn drop(&mut self) {
        self.l.write_unlock();
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLockReadGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLockWriteGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}
