//! Stack-overflow reports: a SIGSEGV/SIGBUS handler on an alternate stack.
//!
//! A G that overflows its stack touches the guard page below it (Rust's
//! stack probes make every frame larger than a page touch each page, so no
//! frame can jump over the guard). The kernel then delivers SIGSEGV (or
//! SIGBUS on some systems) on the faulting M thread. This module turns that
//! into one line naming the G, then aborts:
//!
//! ```text
//! green thread 7 'worker' has overflowed its stack (64 KiB); raise it with Builder::stack_size or GORT_STACK_SIZE
//! ```
//!
//! # Pieces and who calls them
//!
//! 1. [`install`] (once per process, any thread): saves the previous
//!    SIGSEGV/SIGBUS dispositions (Rust's std installs one that reports
//!    main-thread overflows), then installs ours with
//!    `SA_SIGINFO | SA_ONSTACK`.
//! 2. [`init_thread`] (each M thread, before it runs a G): gives the thread
//!    an alternate signal stack, since the faulting stack has no room left
//!    for a signal frame. An existing one of at least [`ALT_STACK_MIN`] is
//!    kept. Ours is freed by a thread-local destructor at thread exit.
//! 3. The M, around every resume of a G (`Coro::resume`): records in a
//!    thread-local which G runs here (a pointer to its record) and where its
//!    guard is (a pointer into its coroutine): two words beside the G's
//!    yielder in a const-initialised thread-local without a destructor, so
//!    it is cheap and the handler may read it (no lazy TLS initialisation,
//!    no locks); the handler reads the G's id and name from the record.
//!    [`set_running`] does the same with a copied [`RunningInfo`], for a
//!    program that drives a coroutine of its own.
//!
//! # The handler
//!
//! * Fault address inside the running G's guard: print the line above with
//!   `write(2)` (no allocation, no locks, numbers formatted by hand into a
//!   buffer on the alternate stack), then `abort()`.
//! * Else, inside any slab's guard page (the lock-free slab table in
//!   [`crate::stack`]), e.g. a G that ran without `set_running`: print the
//!   same line without id or name ("a green thread has overflowed ...") and
//!   abort.
//! * Otherwise the fault is not ours: call the previous handler (std's, or
//!   the application's) as it asked to be called (`SA_SIGINFO` or not); if
//!   it was `SIG_DFL`/`SIG_IGN`, restore `SIG_DFL` and return so the
//!   faulting instruction re-executes and the default action happens.
//!
//! **Why abort.** The overflowed G's frames cannot be unwound safely from a
//! signal handler (the fault may be in the middle of a prologue, holding a
//! lock, or inside the allocator), so destructors of that G do not run and
//! the process ends, as with Go's `fatal error: stack overflow` and std's
//! main-thread report. (corosensei's `trap_handler` could force the G to
//! return instead; that would leak its frames and is left for later.)
//!
//! **Limits.** Calling a chained handler directly does not apply its
//! `sa_mask` or `SA_RESETHAND`/`SA_NODEFER` flags. Thread-locals are read
//! in the handler; that is async-signal-safe for this crate linked into an
//! executable (initial-exec TLS), not guaranteed in a `dlopen`ed library.
//!
//! **Signals for channels** (`gort::signal`, os_signal.rs) never touch
//! SIGSEGV or SIGBUS: a `Signal` cannot name them (nor SIGFPE, SIGILL), so
//! this handler stays installed whatever the program asks of `gort::signal`.
//! A handler another library installs for SIGSEGV after ours must chain to
//! the one it replaced, or overflows become bare SIGSEGVs.

use std::cell::{Cell, RefCell, UnsafeCell};
use std::io;
use std::mem::MaybeUninit;
use std::ptr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Once;

use crate::stack::{self, GStack};
use crate::sys;

/// Size of the alternate signal stack `init_thread` maps. Picked without
/// data: the kernel's signal frame is up to ~11 KiB with AMX state, our
/// handler uses under 1 KiB, and std's handler (chained) little more.
pub const ALT_STACK_SIZE: usize = 64 * 1024;

/// An existing alternate stack at least this large is kept. Half of
/// [`ALT_STACK_SIZE`], picked without data (std's default, about
/// `SIGSTKSZ` = 8 KiB, is replaced).
pub const ALT_STACK_MIN: usize = 32 * 1024;

/// Longest G name printed; longer names are cut.
const NAME_MAX: usize = 128;

/// A G stack's guard page and usable size: what the overflow handler needs of
/// the stack (a G's coroutine keeps it; 24 bytes).
#[derive(Clone, Copy, Debug)]
pub struct StackGuard {
    guard_lo: usize,
    guard_hi: usize,
    stack_size: usize,
}

/// What runs on this thread, for the overflow handler. `Copy`, no
/// destructor, a few words.
#[derive(Clone, Copy, Debug)]
pub struct RunningInfo {
    goid: u64,
    /// Name bytes (UTF-8, not terminated), or null for no name. Valid while
    /// installed: see the constructors' contracts.
    name_ptr: *const u8,
    name_len: usize,
    guard_lo: usize,
    guard_hi: usize,
    /// Usable stack bytes; 0 means "nothing running".
    stack_size: usize,
}

// SAFETY: the only non-Send/Sync field is `name_ptr`, a disguised shared
// borrow of immutable `str` bytes (which are Send and Sync); it is only
// read, by the signal handler, under the constructors' validity contract.
unsafe impl Send for RunningInfo {}
// SAFETY: as for Send: shared immutable bytes.
unsafe impl Sync for RunningInfo {}

impl RunningInfo {
    const NONE: RunningInfo = RunningInfo {
        goid: 0,
        name_ptr: ptr::null(),
        name_len: 0,
        guard_lo: 0,
        guard_hi: 0,
        stack_size: 0,
    };

    /// Info for G `goid` named `name` running on `stack`.
    pub fn new(goid: u64, name: Option<&'static str>, stack: &GStack) -> RunningInfo {
        // SAFETY: a `'static` name is valid forever.
        unsafe { RunningInfo::with_borrowed_name(goid, name, stack) }
    }

    /// The stack part of the info, kept by a G's coroutine (the id and name are the G
    /// record's: the overflow handler joins them with [`RunningInfo::with_guard`]).
    pub fn guard_of(stack: &GStack) -> StackGuard {
        let (guard_lo, guard_hi) = stack.guard_range();
        StackGuard {
            guard_lo,
            guard_hi,
            stack_size: stack.usable_size(),
        }
    }

    /// Info for G `goid` named `name` on the stack described by `g`.
    ///
    /// # Safety
    /// As for [`RunningInfo::with_borrowed_name`].
    // SAFETY: callers uphold the `# Safety` contract in this function's docs.
    pub unsafe fn with_guard(goid: u64, name: Option<&str>, g: &StackGuard) -> RunningInfo {
        let (name_ptr, name_len) = name.map_or((ptr::null(), 0), |n| (n.as_ptr(), n.len()));
        RunningInfo {
            goid,
            name_ptr,
            name_len,
            guard_lo: g.guard_lo,
            guard_hi: g.guard_hi,
            stack_size: g.stack_size,
        }
    }

    /// Like [`RunningInfo::new`] with a name that is not `'static` (e.g. in
    /// the G's `Arc<str>`).
    ///
    /// # Safety
    /// The name's bytes must stay valid and unchanged for as long as this
    /// info (or a copy) is installed with [`set_running`], i.e. until the
    /// next `set_running` on that thread. Keeping the name in the G that
    /// runs is enough.
    // SAFETY: callers uphold the `# Safety` contract in this function's docs.
    pub unsafe fn with_borrowed_name(goid: u64, name: Option<&str>, stack: &GStack) -> RunningInfo {
        let (guard_lo, guard_hi) = stack.guard_range();
        let (name_ptr, name_len) = name.map_or((ptr::null(), 0), |n| (n.as_ptr(), n.len()));
        RunningInfo {
            goid,
            name_ptr,
            name_len,
            guard_lo,
            guard_hi,
            stack_size: stack.usable_size(),
        }
    }
}

thread_local! {
    /// What runs on this M. Const-initialised, `Copy`, no destructor: safe
    /// to read from the signal handler. Owner: this thread.
    static RUNNING: Cell<RunningInfo> = const { Cell::new(RunningInfo::NONE) };

    /// The alternate signal stack `init_thread` mapped for this thread.
    static ALT_STACK: RefCell<Option<AltStack>> = const { RefCell::new(None) };
}

/// Records what the calling M runs: `Some` before resuming a G, `None`
/// after it yields or finishes. A copy into a thread-local; no syscall.
#[inline]
pub fn set_running(info: Option<&RunningInfo>) {
    RUNNING.set(info.copied().unwrap_or(RunningInfo::NONE));
}

// ---------------------------------------------------------------------------
// install

/// A saved previous disposition. Written once inside `install`'s `Once`
/// before `ready` is set (Release) and before our handler can run; read-only
/// afterwards.
struct Prev {
    ready: AtomicBool,
    act: UnsafeCell<MaybeUninit<libc::sigaction>>,
}

// SAFETY: `act` is written only once, inside `INSTALL.call_once`, before
// `ready` is published with Release; readers load `ready` with Acquire and
// only then read `act`, which never changes again.
unsafe impl Sync for Prev {}

static PREV_SEGV: Prev = Prev {
    ready: AtomicBool::new(false),
    act: UnsafeCell::new(MaybeUninit::uninit()),
};
static PREV_BUS: Prev = Prev {
    ready: AtomicBool::new(false),
    act: UnsafeCell::new(MaybeUninit::uninit()),
};

/// Installs the overflow handler for SIGSEGV and SIGBUS, process-wide.
/// Idempotent. Errors from `sigaction` are returned (only the first call
/// does any work).
pub fn install() -> io::Result<()> {
    static INSTALL: Once = Once::new();
    let mut result = Ok(());
    INSTALL.call_once(|| {
        // Compute the page size now: the handler must not be the first
        // caller (it would call sysconf, which is not async-signal-safe).
        sys::page_size();
        result = install_for(libc::SIGSEGV, &PREV_SEGV)
            .and_then(|()| install_for(libc::SIGBUS, &PREV_BUS));
    });
    result
}

fn install_for(sig: libc::c_int, prev: &'static Prev) -> io::Result<()> {
    // SAFETY: a null `act` only queries the current disposition into
    // `prev.act`, which nobody reads until `ready` is set below, and we are
    // the only writer (inside the `Once`).
    sys::cvt(unsafe { libc::sigaction(sig, ptr::null(), prev.act.get().cast()) })?;
    // Release: publishes `prev.act`; pairs with the Acquire in `chain`.
    prev.ready.store(true, Ordering::Release);
    // SAFETY: `sigaction` is plain old data; all-zero is a valid value.
    let mut act: libc::sigaction = unsafe { MaybeUninit::zeroed().assume_init() };
    act.sa_sigaction = handler as *const () as libc::sighandler_t;
    act.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
    // SAFETY: `act.sa_mask` is a valid, writable sigset_t.
    unsafe { libc::sigemptyset(&mut act.sa_mask) };
    // SAFETY: `act` is fully initialised and `handler` has the SA_SIGINFO
    // signature; it is async-signal-safe (see the module doc).
    sys::cvt(unsafe { libc::sigaction(sig, &act, ptr::null_mut()) })?;
    Ok(())
}

extern "C" fn handler(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo_t for SA_SIGINFO handlers.
    let addr = unsafe { (*info).si_addr() } as usize;
    // A G run by an M (coro.rs records its record and guard around each resume).
    if let Some((g, guard)) = crate::coro::running_for_signal() {
        // SAFETY: both are set by the M before it resumes the G and cleared right after it
        // switches out, so while they are set the G runs on this thread (we interrupted it, or
        // the M's few instructions around the switch) and its record and coroutine are alive,
        // held by that M; the name is written only when a dead record is reused.
        let (g, guard) = unsafe { (&*g, &*guard) };
        if addr >= guard.guard_lo && addr < guard.guard_hi {
            // SAFETY: the name is the G's `Arc<str>`, alive and unchanged while it runs (above).
            let info = unsafe { RunningInfo::with_guard(g.id(), g.name().map(|n| &**n), guard) };
            report(Some(&info), guard.stack_size);
        }
    }
    // Set by `set_running` (a program driving a coroutine of its own).
    let running = RUNNING.try_with(Cell::get).unwrap_or(RunningInfo::NONE);
    if running.stack_size != 0 && addr >= running.guard_lo && addr < running.guard_hi {
        report(Some(&running), running.stack_size);
    }
    if let Some(size) = stack::guard_fault_lookup(addr) {
        report(None, size);
    }
    // SAFETY: we are in a signal handler for `sig`, with the kernel's
    // `info` and `ctx`.
    unsafe { chain(sig, info, ctx) }
}

/// Prints the overflow line with `write(2)` and aborts. Async-signal-safe.
fn report(g: Option<&RunningInfo>, stack_size: usize) -> ! {
    let mut buf = Buf::new();
    match g {
        Some(g) => {
            buf.push(b"green thread ");
            buf.push_u64(g.goid);
            if !g.name_ptr.is_null() {
                // SAFETY: `set_running`'s info was built by a constructor
                // whose contract keeps `name_len` bytes at `name_ptr` valid
                // while it is installed, and it is installed now.
                let name = unsafe { std::slice::from_raw_parts(g.name_ptr, g.name_len) };
                buf.push(b" '");
                buf.push(&name[..name.len().min(NAME_MAX)]);
                buf.push(b"'");
            }
        }
        None => buf.push(b"a green thread"),
    }
    buf.push(b" has overflowed its stack (");
    buf.push_u64((stack_size / 1024) as u64);
    buf.push(b" KiB); raise it with Builder::stack_size or GORT_STACK_SIZE\n");
    sys::write_stderr(buf.as_bytes());
    // SAFETY: `abort` is async-signal-safe and has no preconditions.
    unsafe { libc::abort() }
}

/// Passes a fault that is not an overflow of ours to the previous handler.
///
/// # Safety
/// Must be called from the signal handler for `sig` with the kernel's
/// `info` and `ctx`.
// SAFETY: callers uphold the `# Safety` contract in this function's docs.
unsafe fn chain(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    let prev = if sig == libc::SIGBUS {
        &PREV_BUS
    } else {
        &PREV_SEGV
    };
    // Acquire: pairs with the Release in `install_for`.
    if !prev.ready.load(Ordering::Acquire) {
        reset_default(sig);
        return;
    }
    // SAFETY: `ready` is set, so `act` was initialised and is never written
    // again (see `Prev`).
    let act = unsafe { (*prev.act.get()).assume_init_ref() };
    let h = act.sa_sigaction;
    if h == libc::SIG_DFL || h == libc::SIG_IGN {
        reset_default(sig);
    } else if act.sa_flags & libc::SA_SIGINFO != 0 {
        // SAFETY: with SA_SIGINFO the saved handler has the three-argument
        // signature; we forward exactly what the kernel gave us.
        unsafe {
            let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                std::mem::transmute(h);
            f(sig, info, ctx)
        }
    } else {
        // SAFETY: without SA_SIGINFO the saved handler takes the signal
        // number only.
        unsafe {
            let f: extern "C" fn(libc::c_int) = std::mem::transmute(h);
            f(sig)
        }
    }
}

/// Restores `SIG_DFL` for `sig`; returning from the handler then re-runs
/// the faulting instruction, which takes the default action.
fn reset_default(sig: libc::c_int) {
    // SAFETY: `sigaction` is plain old data; all-zero is `SIG_DFL` with an
    // empty mask and no flags.
    let act: libc::sigaction = unsafe { MaybeUninit::zeroed().assume_init() };
    // SAFETY: `act` is a valid disposition; `sigaction` is async-signal-safe.
    unsafe { libc::sigaction(sig, &act, ptr::null_mut()) };
}

/// A fixed buffer for the report (lives on the alternate stack).
struct Buf {
    bytes: [u8; 512],
    len: usize,
}

impl Buf {
    fn new() -> Buf {
        Buf {
            bytes: [0; 512],
            len: 0,
        }
    }

    fn push(&mut self, s: &[u8]) {
        let n = s.len().min(self.bytes.len() - self.len);
        self.bytes[self.len..self.len + n].copy_from_slice(&s[..n]);
        self.len += n;
    }

    fn push_u64(&mut self, mut v: u64) {
        let mut digits = [0u8; 20];
        let mut i = digits.len();
        loop {
            i -= 1;
            digits[i] = b'0' + (v % 10) as u8;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        self.push(&digits[i..]);
    }

    fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

// ---------------------------------------------------------------------------
// Alternate signal stacks

/// An alternate signal stack mapped by `init_thread`: `[lo, lo+page)` is a
/// guard, the rest is the stack. Owned by the thread-local `ALT_STACK`.
struct AltStack {
    lo: usize,
    len: usize,
}

impl Drop for AltStack {
    fn drop(&mut self) {
        let page = sys::page_size();
        // SAFETY: `stack_t` is plain old data; all-zero is valid.
        let mut cur: libc::stack_t = unsafe { MaybeUninit::zeroed().assume_init() };
        // SAFETY: a null new stack only queries the current one into `cur`.
        let ok = unsafe { libc::sigaltstack(ptr::null(), &mut cur) } == 0;
        if ok && cur.ss_sp as usize == self.lo + page {
            if cur.ss_flags & libc::SS_ONSTACK != 0 {
                // Running on it (cannot happen from a TLS destructor);
                // leaking beats unmapping a live stack.
                return;
            }
            let off = libc::stack_t {
                ss_sp: ptr::null_mut(),
                ss_flags: libc::SS_DISABLE,
                ss_size: 0,
            };
            // SAFETY: disabling this thread's alternate stack, which we
            // are not running on.
            unsafe { libc::sigaltstack(&off, ptr::null_mut()) };
        } else if !ok {
            return;
        }
        // SAFETY: the mapping is ours and no longer this thread's signal
        // stack, so nothing uses it.
        let _ = unsafe { sys::munmap(self.lo, self.len) };
    }
}

/// Gives the calling thread an alternate signal stack of
/// [`ALT_STACK_SIZE`] bytes (plus a guard page), unless it already has one
/// of at least [`ALT_STACK_MIN`]. Idempotent; freed at thread exit.
pub fn init_thread() -> io::Result<()> {
    if ALT_STACK.with(|a| a.borrow().is_some()) {
        return Ok(());
    }
    // SAFETY: `stack_t` is plain old data; all-zero is valid.
    let mut old: libc::stack_t = unsafe { MaybeUninit::zeroed().assume_init() };
    // SAFETY: a null new stack only queries the current one into `old`.
    sys::cvt(unsafe { libc::sigaltstack(ptr::null(), &mut old) })?;
    if old.ss_flags & libc::SS_DISABLE == 0 && old.ss_size >= ALT_STACK_MIN {
        return Ok(());
    }
    let page = sys::page_size();
    let len = ALT_STACK_SIZE + page;
    let lo = sys::mmap_anon(len)?;
    let alt = AltStack { lo, len }; // unmaps on early return
    let guarded = if sys::guard_install_supported() {
        // SAFETY: the first page of our fresh mapping holds nothing.
        unsafe { sys::madvise(lo, page, sys::MADV_GUARD_INSTALL) }
    } else {
        // SAFETY: as above.
        unsafe { sys::mprotect_none(lo, page) }
    };
    guarded?;
    let new = libc::stack_t {
        ss_sp: (lo + page) as *mut libc::c_void,
        ss_flags: 0,
        ss_size: ALT_STACK_SIZE,
    };
    // SAFETY: `new` describes our mapping, which lives until `alt` is
    // dropped at thread exit, after which it is no longer installed.
    sys::cvt(unsafe { libc::sigaltstack(&new, ptr::null_mut()) })?;
    ALT_STACK.with(|a| *a.borrow_mut() = Some(alt));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buf_formats_numbers() {
        let mut b = Buf::new();
        b.push_u64(0);
        b.push(b" ");
        b.push_u64(u64::MAX);
        assert_eq!(b.as_bytes(), b"0 18446744073709551615");
    }

    #[test]
    fn install_and_init_are_idempotent() {
        install().unwrap();
        install().unwrap();
        std::thread::spawn(|| {
            init_thread().unwrap();
            init_thread().unwrap();
            // SAFETY: plain old data.
            let mut cur: libc::stack_t = unsafe { MaybeUninit::zeroed().assume_init() };
            // SAFETY: query only.
            unsafe { libc::sigaltstack(ptr::null(), &mut cur) };
            assert_eq!(cur.ss_flags & libc::SS_DISABLE, 0);
            assert!(cur.ss_size >= ALT_STACK_MIN);
        })
        .join()
        .unwrap();
    }
}
