//! Blocking calls, LockOSThread and cooperative yield points: the user-facing side of syscall
//! handoff (Go's `entersyscall`/`exitsyscall`, `entersyscallblock`, `LockOSThread`).
//!
//! The protocol (P states in p.rs, retake in sysmon.rs):
//! 1. `blocking(f)` marks the G as in a syscall: its P goes from `RUNNING_G` to `SYSCALL`, a
//!    CAS that costs about as much as Go's `entersyscall`. The M keeps running the G through `f`.
//! 2. sysmon looks at every P each tick; a P that has been in `SYSCALL` for a whole tick while
//!    there is work for it (or for 10 ms regardless) is retaken by CAS and handed to another M.
//! 3. When `f` returns, a CAS `SYSCALL → RUNNING_G` takes the P back if sysmon did not (the fast
//!    path, no lock); otherwise the G takes any idle P; otherwise it goes to the global queue
//!    and its M parks until a P is free.
//!
//! Exactly one of steps 2 and 3 wins the P: both are CASes from the same word (loom model 5).
//!
//! **The blocking pool.** Before step 1 the G takes one of `GORT_MAXBLOCKING` permits (default
//! 512) and gives it back in step 3; with none free it parks (`blocking pool`) until a call
//! returns. A call made inside another blocking call is a plain call: the outer one holds the
//! permit and the P's state. Blocking calls made without `blocking` are caught by sysmon on
//! Linux (sysmon.rs, docs/blocking.md) and count against the same bound.

/// Runs `f`, a call that may block its OS thread (file I/O, DNS, a C library, a long
/// computation), without blocking the other green threads queued on this thread's P: the P is
/// handed to another OS thread if `f` takes longer than a sysmon tick (about 20 µs) while
/// there is other work. From a plain thread it just calls `f`.
///
/// `f` may itself use gort (spawn, channels), but parking inside it is slow: prefer to do only
/// the blocking call inside. At most `GORT_MAXBLOCKING` Gs (default 512) are inside `blocking`
/// and [`block_in_place`] at once; more park until one returns, so a burst of blocking calls
/// waits instead of creating a thread per call. A `blocking` call inside another one is a
/// plain call.
///
/// # Examples
///
/// ```
/// let h = gort::spawn(|| gort::blocking(|| std::fs::read_to_string("/proc/self/status").is_ok()));
/// assert!(h.join().unwrap());
/// ```
pub fn blocking<R>(f: impl FnOnce() -> R) -> R {
    let s = crate::sched();
    if !s.entersyscall() {
        return f();
    }
    let guard = Exit(s);
    let r = f();
    drop(guard);
    r
}

/// Like [`blocking`], for calls known to block for long (a long sleep, waiting on a child
/// process): the P is handed to another OS thread at once instead of after a sysmon tick
/// (Go's `entersyscallblock`; tokio users know this as `block_in_place`).
///
/// # Examples
///
/// ```
/// let h = gort::spawn(|| gort::block_in_place(|| { std::thread::sleep(std::time::Duration::from_millis(5)); 1 }));
/// assert_eq!(h.join().unwrap(), 1);
/// ```
pub fn block_in_place<R>(f: impl FnOnce() -> R) -> R {
    let s = crate::sched();
    if !s.entersyscallblock() {
        return f();
    }
    let guard = Exit(s);
    let r = f();
    drop(guard);
    r
}

/// Leaves the blocking state even if `f` panics.
struct Exit(&'static crate::sched::Sched);

impl Drop for Exit {
    fn drop(&mut self) {
        self.0.exitsyscall();
    }
}

/// Wires the calling green thread to its current OS thread (Go's `runtime.LockOSThread`): until
/// the matching [`unlock_os_thread`], the G runs only on this thread and the thread runs no other
/// G. When the G blocks, the thread hands its P to another thread and sleeps until the G can run
/// again. Calls nest. A G that ends while locked ends its thread too. On a plain thread it does
/// nothing (the thread is already its own).
///
/// This is the remedy for code that needs thread-local state across blocking points (C
/// libraries with thread-local context, GUI toolkits, `std::sync::MutexGuard` held across a
/// park), at the price of a thread switch each time the G blocks and wakes.
///
/// # Examples
///
/// ```
/// let h = gort::spawn(|| {
///     gort::lock_os_thread();
///     let before = std::thread::current().id();
///     gort::sleep(std::time::Duration::from_millis(1));
///     let after = std::thread::current().id();
///     gort::unlock_os_thread();
///     before == after
/// });
/// assert!(h.join().unwrap());
/// ```
pub fn lock_os_thread() {
    crate::sched().lock_os_thread();
}

/// Undoes one [`lock_os_thread`]; the last one lets the G run on any thread again.
///
/// # Examples
///
/// ```
/// gort::spawn(|| { gort::lock_os_thread(); gort::unlock_os_thread(); }).join().unwrap();
/// ```
pub fn unlock_os_thread() {
    crate::sched().unlock_os_thread();
}

/// True when the calling G has used up its time slice (10 ms without a scheduling point) and
/// other work is waiting: long CPU loops should then call [`yield_now`](crate::yield_now).
/// Costs one relaxed atomic load. Always false on a plain thread.
///
/// gort cannot preempt a running G (an asynchronous switch could land inside `malloc` or while a
/// lock is held); sysmon instead hands a hog's P to another thread, so the queue behind it runs
/// anyway. Calling this in long loops gives the hog's own M back sooner.
///
/// # Examples
///
/// ```
/// let h = gort::spawn(|| {
///     let mut x = 0u64;
///     for i in 0..1_000_000u64 {
///         x = x.wrapping_add(i);
///         if i % 1024 == 0 && gort::should_yield() {
///             gort::yield_now();
///         }
///     }
///     x
/// });
/// assert_eq!(h.join().unwrap(), 499_999_500_000);
/// ```
pub fn should_yield() -> bool {
    if !crate::coro::on_g_stack() {
        return false;
    }
    crate::sched::current_p_preempted()
}

/// Yields if [`should_yield`] says so: a cheap scheduling point for long loops. Inside a
/// `gort::synctest` bubble it is a preemption point of the seeded schedule instead: the
/// bubble's generator decides whether another runnable green thread runs here (mark the places
/// where a real preemption could expose a race: `explore` then tries both orders).
///
/// # Examples
///
/// ```
/// let h = gort::spawn(|| {
///     for _ in 0..100_000 {
///         gort::preempt_point();
///     }
/// });
/// h.join().unwrap();
/// ```
pub fn preempt_point() {
    // In a synctest bubble it is a choice point of the seeded schedule.
    if crate::bubble::active() && crate::bubble::preempt_point() {
        return;
    }
    if should_yield() {
        crate::yield_now();
    }
}
