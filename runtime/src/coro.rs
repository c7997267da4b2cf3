//! The coroutine under every G, and THE place where a suspended G crosses OS threads.
//!
//! # The migration contract
//!
//! corosensei's `Coroutine` is deliberately `!Send`: a suspended coroutine's stack may hold
//! values that must not change threads (a `thread_local!` reference, an `Rc`, a
//! `std::sync::MutexGuard` whose unlock must happen on the locking thread), and Rust cannot see
//! inside a stack to check. gort moves suspended Gs between Ms (work stealing, handoff), so it
//! asserts `Send` for [`Coro`] here, once, under this contract:
//!
//! 1. A G's entry closure is `Send + 'static`, so everything the G *starts* with may move.
//! 2. What a G creates on its own stack and holds across a blocking point (park, yield, a gort
//!    channel or lock, sleep, socket I/O) may resume on another OS thread. The runtime cannot
//!    check this. The user-facing rule, in `gort::spawn`'s docs and docs/design.md §Soundness:
//!    do not hold a thread-local reference or a `!Send` guard across a blocking point; use
//!    `gort::local!` for per-G state, gort's own locks, or `lock_os_thread` to pin the G.
//! 3. The engine itself never caches a thread-local address across a switch: every access to M
//!    state goes through `m::with_m`, an `#[inline(never)]` function whose result is read after
//!    the switch (LLVM may otherwise reuse a TLS address computed before it).
//!
//! Everything else about the switch is corosensei's: `resume` runs the G until it calls
//! [`suspend`] or returns; [`suspend`] returns when some M resumes the G again.

use crate::g::{GRef, G};
use crate::signal::StackGuard;
use crate::stack::GStack;
use corosensei::{Coroutine, CoroutineResult, Yielder};
use std::cell::Cell;

/// What a G asks of its M when it suspends.
pub(crate) enum Suspend {
    /// `yield_now`: put me at the back of the run queue.
    Yield,
    /// `park`: call this function with my `GRef` once I am off the CPU.
    Park(ParkFn),
    /// I left a blocking call and found no P: put me on the global queue (Go's exitsyscall
    /// slow path); the M stops.
    ToGlobal,
}

/// A park callback living on the suspended G's stack (Go's `gopark` unlockf).
///
/// The M calls it exactly once, on its own stack, after the G has switched out. It receives the
/// G's `GRef` and either keeps it (returns `None`: the G stays parked, owned by whatever the
/// callback gave it to) or gives it back (`Some`: the park is cancelled, the G runs on).
///
/// It also carries the G's stack pointer at the park (`ParkFn::addr`), packed with the wait
/// reason into one word so that the value the G hands its M does not grow: the address that
/// [`crate::stack`]'s shrinking discards below, and the key of the readier's prefetch.
pub(crate) struct ParkFn(*mut (dyn FnMut(GRef) -> Option<GRef> + 'static), u64);

impl ParkFn {
    /// Wraps a callback that lives on the current G's stack.
    ///
    /// The erased lifetime is sound because the callback is called only by [`Coro::resume`]'s
    /// caller right after this G suspended inside the very `suspend` call that carried it, while
    /// the G's frame (and so the closure) is still alive, and never after the G is resumed.
    pub(crate) fn new<'a>(
        f: &'a mut (dyn FnMut(GRef) -> Option<GRef> + 'a),
        reason: crate::g::WaitReason,
    ) -> ParkFn {
        let p: *mut (dyn FnMut(GRef) -> Option<GRef> + 'a) = f;
        // User-space addresses are below 2^56 on every 64-bit target (57-bit virtual addresses
        // at most), so the stack pointer shifted left by 8 leaves the low byte for the reason.
        let word = ((stack_pointer() as u64) << 8) | reason as u8 as u64;
        // SAFETY: only the trait object's lifetime bound changes (same layout); see above for why
        // the pointer is never used after `'a` ends.
        ParkFn(
            unsafe {
                std::mem::transmute::<
                    *mut (dyn FnMut(GRef) -> Option<GRef> + 'a),
                    *mut (dyn FnMut(GRef) -> Option<GRef> + 'static),
                >(p)
            },
            word,
        )
    }

    /// Why the G parks (for the execution trace's slice; the G's record gets it in the
    /// callback).
    pub(crate) fn reason(&self) -> crate::g::WaitReason {
        crate::g::WaitReason::from_u8(self.1 as u8)
    }

    /// The G's stack pointer when it parked, read in the frame that goes on to switch out (0
    /// on architectures where it is not read): every live frame of the parked G lies above it,
    /// except the few words of the switch itself just below (stack.rs, "Shrinking the stacks
    /// of parked Gs"). Also the readier's prefetch hint ([`Coro::prefetch_stack`]) and the
    /// key of `PLocal::parked_recently`.
    pub(crate) fn addr(&self) -> usize {
        (self.1 >> 8) as usize
    }

    /// Calls the callback.
    ///
    /// # Safety
    /// Only while the G that created it is suspended in the `suspend` that carried it (the M
    /// calls it right after `resume` returned `Suspended(Park)` and before resuming the G).
    // SAFETY: callers uphold the `# Safety` contract in this function's docs.
    pub(crate) unsafe fn call(self, g: GRef) -> Option<GRef> {
        // SAFETY: the closure is alive on the suspended G's stack (caller's contract) and nobody
        // else holds a reference to it: its G is not running.
        unsafe { (*self.0)(g) }
    }
}

type Inner = Coroutine<(), Suspend, (), GStack>;

/// What `resume` came back with.
pub(crate) enum Resumed {
    /// The G suspended itself.
    Suspended(Suspend),
    /// The G's closure returned (it catches its own panics, so this is the only other outcome).
    Finished,
}

/// A G's coroutine: its stack and saved registers.
pub(crate) struct Coro {
    inner: Inner,
    /// The stack's guard and size, for the overflow handler (signal.rs); the G's id and name
    /// come from its record at each resume (not copied here: the record is 240 bytes, one
    /// malloc chunk, docs/design.md "What one G costs").
    guard: StackGuard,
    /// The G's `Yielder`, on its own stack; known after the first resume.
    yielder: *const Yielder<(), Suspend>,
}

// SAFETY: THE migration assertion. A `Coro` moves between Ms only while suspended, and is only
// resumed by one M at a time (it lives in `GOwned`, reached through the unique `GRef`). What its
// stack holds is `Send` by the contract in the module docs: the entry is `Send + 'static`, and
// holding a `!Send` value across a blocking point is the documented hazard users must avoid.
// SAFETY: argued in the comment above.
unsafe impl Send for Coro {}

/// What runs on this thread: set by the M around each resume (all three), read by the G
/// (`yielder`: how to suspend) and by the overflow handler (`g` and `guard`: who overflowed).
/// Const-initialised, no destructor: readable from a signal handler.
struct Current {
    /// The Yielder of the G running here (null when none); the G's first resume stores it
    /// itself (`set_yielder`), on its own stack.
    yielder: Cell<*const Yielder<(), Suspend>>,
    /// The running G's record (valid while `guard` is non-null).
    g: Cell<*const G>,
    /// The running G's stack guard, in its `Coro` (null when no G runs here).
    guard: Cell<*const StackGuard>,
}

thread_local! {
    static CUR: Current = const {
        Current {
            yielder: Cell::new(std::ptr::null()),
            g: Cell::new(std::ptr::null()),
            guard: Cell::new(std::ptr::null()),
        }
    };
}

impl Coro {
    /// A coroutine that will run `body` on `stack`.
    pub(crate) fn new(stack: GStack, entry: crate::g::Entry) -> Coro {
        let guard = crate::signal::RunningInfo::guard_of(&stack);
        let inner = Coroutine::with_stack(stack, move |y: &Yielder<(), Suspend>, ()| {
            set_yielder(y);
            entry.run();
        });
        Coro {
            inner,
            guard,
            yielder: std::ptr::null(),
        }
    }

    /// Runs the G whose record is `g` until it suspends or finishes. Called only by the M that
    /// owns the G, from the scheduler's own frames (`execute`).
    ///
    /// The thread-local is reached inline here, not through an `#[inline(never)]` accessor: this
    /// frame is the M's and never changes threads (the switch comes back to it on the thread
    /// that made it), so an address computed before the switch is right after it. Three words
    /// written before and two after; the overflow handler reads the G's id and name from its
    /// record (`g`), which outlives the run.
    #[inline]
    pub(crate) fn resume(&mut self, g: *const G) -> Resumed {
        let guard: *const StackGuard = &self.guard;
        CUR.with(|c| {
            c.yielder.set(self.yielder);
            c.g.set(g);
            c.guard.set(guard);
        });
        let r = self.inner.resume(());
        CUR.with(|c| {
            if self.yielder.is_null() {
                self.yielder = c.yielder.get();
            }
            c.yielder.set(std::ptr::null());
            c.guard.set(std::ptr::null());
        });
        match r {
            CoroutineResult::Yield(s) => Resumed::Suspended(s),
            CoroutineResult::Return(()) => Resumed::Finished,
        }
    }

    /// Starts loading the parked G's innermost frames into the cache: the lines a resume pops
    /// its saved registers from and its blocking call returns through (about 1 KiB above the
    /// stack pointer of its park, `parked_at`: `G::parked_sp`). Called when the G is readied
    /// into runnext, which is typically a hundred-odd nanoseconds before an M resumes it, so
    /// the misses (often a TLB miss too: a ring of 10,000 parked Gs touches 10,000 stack pages
    /// in turn) overlap the readier's own work instead of stalling the resume. A prefetch
    /// never faults, whatever the address (nor does it bring back a page the stack shrinking
    /// discarded: a prefetch of a page that is not mapped is dropped).
    #[inline]
    pub(crate) fn prefetch_stack(parked_at: usize) {
        if parked_at == 0 {
            return;
        }
        let lo = (parked_at & !63).saturating_sub(PREFETCH_BELOW);
        for line in (lo..lo + PREFETCH_BELOW + PREFETCH_ABOVE).step_by(64) {
            prefetch(line);
        }
    }

    /// The stack of a finished coroutine, for reuse.
    pub(crate) fn into_stack(self) -> GStack {
        self.inner.into_stack()
    }
}

/// Bytes prefetched below the park's stack pointer (the suspend frame and corosensei's saved
/// registers) and above it (the frames of the blocking call, up to the G's own code). Measured
/// on the ring: a receiver parks ~620 bytes below its stack top (docs/channels.md §2, "The
/// parked frames"); the window leaves room for a caller a few frames deeper.
const PREFETCH_BELOW: usize = 256;
const PREFETCH_ABOVE: usize = 1024;

/// A hint to load the cache line holding `addr`; never faults (an unmapped address is
/// ignored by the CPU).
#[inline(always)]
fn prefetch(addr: usize) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: PREFETCHT0 has no architectural effect besides caching; it does not fault on any
    // address (Intel SDM / AMD APM: "prefetches ... do not generate exceptions").
    unsafe {
        std::arch::x86_64::_mm_prefetch(addr as *const i8, std::arch::x86_64::_MM_HINT_T0)
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = addr;
}

/// The stack pointer of the calling frame (of its caller's, when inlined), 0 where gort does
/// not read it. On x86_64 and aarch64 it is read with one instruction; elsewhere the address of
/// a local would not bound the frame (locals of the same frame may lie below it), so nothing
/// is recorded and parked stacks are not shrunk.
#[inline(always)]
fn stack_pointer() -> usize {
    #[cfg(target_arch = "x86_64")]
    {
        let sp: usize;
        // SAFETY: reads a register into a general register; touches no memory, no stack, no
        // flags.
        unsafe {
            std::arch::asm!("mov {}, rsp", out(reg) sp, options(nomem, nostack, preserves_flags))
        };
        sp
    }
    #[cfg(target_arch = "aarch64")]
    {
        let sp: usize;
        // SAFETY: as above.
        unsafe {
            std::arch::asm!("mov {}, sp", out(reg) sp, options(nomem, nostack, preserves_flags))
        };
        sp
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        0
    }
}

#[inline(never)]
fn set_yielder(y: &Yielder<(), Suspend>) {
    CUR.with(|c| c.yielder.set(std::hint::black_box(y)));
}

#[inline(never)]
fn get_yielder() -> *const Yielder<(), Suspend> {
    std::hint::black_box(CUR.with(|c| c.yielder.get()))
}

/// True when the calling code runs on a G's stack (inside `resume`).
#[inline(never)]
pub(crate) fn on_g_stack() -> bool {
    !get_yielder().is_null()
}

/// The running G's way out, if the caller runs on a G's stack: [`on_g_stack`] and the lookup
/// [`suspend`] makes, in one thread-local read, for a caller about to suspend (`park`). Used
/// at once, never kept: it is this G's, and only good on its stack.
pub(crate) struct GYielder(std::ptr::NonNull<Yielder<(), Suspend>>);

/// See [`GYielder`]. `None` on a plain thread.
#[inline]
pub(crate) fn g_yielder() -> Option<GYielder> {
    std::ptr::NonNull::new(get_yielder().cast_mut()).map(GYielder)
}

/// Suspends the running G, handing `s` to its M. Returns when an M resumes the G.
///
/// Must be called on a G's stack (`on_g_stack()`); the engine checks before calling.
#[inline]
pub(crate) fn suspend(s: Suspend) {
    match g_yielder() {
        Some(y) => suspend_with(y, s),
        None => crate::fatal::fatal!("suspend called outside a green thread"),
    }
}

/// [`suspend`] with the yielder already looked up. THE way out of a G: every park, yield and
/// exit from a blocking call without a P comes through here (the M, back in `execute` on the
/// same OS thread, pins a G that is unwinding to itself: sched.rs, "Unwinding Gs keep their
/// M").
#[inline]
pub(crate) fn suspend_with(y: GYielder, s: Suspend) {
    // SAFETY: `y` came from `g_yielder` on this G's stack: the pointer was set by the M that
    // resumed this G, from this G's own coroutine (the first resume stores it; later resumes
    // restore it), so it points at this coroutine's Yielder, which lives as long as the
    // coroutine; and we are running on that coroutine's stack.
    unsafe { y.0.as_ref().suspend(s) };
}

/// For the overflow handler: the G running on this thread and its stack guard, if any. The
/// pointers are valid only while the G runs (from the M's set to its clear around the resume),
/// which is when the handler, interrupting this thread, reads them.
pub(crate) fn running_for_signal() -> Option<(*const G, *const StackGuard)> {
    CUR.try_with(|c| {
        let guard = c.guard.get();
        (!guard.is_null()).then(|| (c.g.get(), guard))
    })
    .ok()
    .flatten()
}
