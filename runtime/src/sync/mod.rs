//! Blocking synchronisation for green threads: Go's `sync` package on park/ready.
//!
//! Everything here parks the calling G (never its M) and works from plain OS threads too (there
//! `park` blocks the thread). The design follows Go's: one semaphore primitive (`sema`, Go's
//! `runtime/sema.go`: a count plus a FIFO/LIFO queue of parked waiters, with optional direct
//! hand-off) and the user-facing types built on it exactly as Go builds them:
//!
//! | type        | built from                                     | Go source          |
//! |-------------|------------------------------------------------|--------------------|
//! | [`Mutex`]   | one state word (CAS fast path) + a sema; starvation mode after 1 ms | sync/mutex.go |
//! | [`RwLock`]  | a Mutex for writers + reader count + two semas (writer-preferring) | sync/rwmutex.go |
//! | [`Condvar`] | a ticket notify list                           | runtime notifyList |
//! | [`WaitGroup`] | one packed counter/waiter word + a sema       | sync/waitgroup.go  |
//! | [`Once`], [`OnceLock`] | a done flag + a Mutex               | sync/once.go       |
//! | [`LazyLock`] | a `OnceLock` + the initialiser               | (std::sync::LazyLock) |
//! | [`Semaphore`] | a lock + a FIFO of wait cells (weighted, no barging) | x/sync/semaphore |
//! | [`Barrier`] | an engine lock + a generation + parked waiters | (std::sync::Barrier) |
//! | [`Pool`]    | per-M private values, per-P shared lists, a victim list; sysmon's cleanup | sync/pool.go |
//!
//! **No poisoning.** Like Go and parking_lot (and unlike std), a panic while a guard is held
//! just releases the lock when the guard drops during unwinding. A panicking G cannot leave the
//! lock held, and poisoning would only move the error to every later user; data-structure
//! invariants broken by a panic are the caller's to handle (use `catch_unwind` around the
//! critical section if that matters).
//!
//! Lock order: the sema's internal queue lock is a leaf (nothing is taken while holding it, and
//! `unpark` runs after releasing it).

mod barrier;
mod condvar;
mod lazy;
mod mutex;
mod once;
pub(crate) mod pool;
mod rwlock;
pub(crate) mod sema;
mod semaphore;
pub(crate) mod waitcell;
mod waitgroup;

pub use barrier::{Barrier, BarrierWaitResult};
pub use condvar::{Condvar, WaitTimeoutResult};
pub use lazy::LazyLock;
pub use mutex::{Mutex, MutexGuard};
pub use once::{Once, OnceLock};
pub use pool::Pool;
pub use rwlock::{RwLock, RwLockReadGuard, RwLockWriteGuard};
pub use semaphore::{Semaphore, SemaphorePermit};
pub use waitgroup::{WaitGroup, WaitGroupGuard};

/// Declares a function `const` normally and plain under loom (whose atomics are not const).
macro_rules! cfn {
    ($(#[$m:meta])* $v:vis fn $name:ident $($rest:tt)*) => {
        #[cfg(not(loom))]
        $(#[$m])* $v const fn $name $($rest)*
        #[cfg(loom)]
        $(#[$m])* $v fn $name $($rest)*
    };
}
pub(crate) use cfn;
