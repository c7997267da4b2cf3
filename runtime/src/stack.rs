//! Guarded green-thread stacks, carved from large slabs, reused warm.
//!
//! # The problem
//!
//! A guarded stack made the usual way (its own `mmap` plus an `mprotect`ed
//! guard page, as corosensei's `DefaultStack` and may do) costs two VMAs.
//! Linux caps a process at `vm.max_map_count` VMAs (65,530 by default), so
//! such designs die at about 32,000 live stacks; Go parks 1,000,000
//! goroutines. And a first touch of a stack page costs 2–5 µs here, so a
//! stack must be handed out *warm* (already faulted in) whenever possible.
//!
//! # The design (details and numbers: `docs/stacks.md`)
//!
//! ```text
//!  one slab = ONE mapping (MAP_NORESERVE, RW), cut into equal strides
//!  low addresses                                                high addresses
//!  +-------+-----------------+-------+-----------------+-------+------- - -
//!  | guard | usable (cold|hot)| guard | usable          | guard | not yet carved
//!  +-------+-----------------+-------+-----------------+-------+------- - -
//!  ^ lo = limit()            ^ base() = lo + page + usable (stack grows down)
//! ```
//!
//! * **Slabs.** Each size class carves its stacks from its own slabs; a
//!   slab is one `mmap` however many stacks it holds. Slabs grow
//!   geometrically, 64 MiB then doubling to 1 GiB, and are never unmapped
//!   (their pages are returned with `MADV_DONTNEED` instead; see below).
//! * **Guards that do not split the mapping.** Where the kernel has
//!   `MADV_GUARD_INSTALL` (Linux 6.13+; probed once), the guard page is a
//!   marker in the page tables: it faults like `PROT_NONE`, survives
//!   `MADV_DONTNEED`, and the slab stays one VMA. Elsewhere, or when forced
//!   with `GORT_STACK_GUARD=mprotect`, guards are `mprotect(PROT_NONE)`,
//!   which costs two VMAs per stack, so they are rationed by a *budget*
//!   derived from `vm.max_map_count`; past it [`alloc`] fails with an error
//!   naming the sysctl. Stacks are never handed out unguarded.
//! * **Size classes**: a request is rounded up to one of at most 62 classes
//!   (four per doubling, from [`MIN_STACK_SIZE`] to 1 GiB; `class_of`),
//!   each with its own slabs and free list. Bounding the classes bounds the
//!   address space that distinct sizes can pin (slabs are never unmapped).
//! * **Reuse.** Free stacks go to the freeing P's [`StackCache`] (LIFO,
//!   [`CACHE_CAP`] entries, spilling the older half to the global pool when
//!   full) or to the global pool (one `parking_lot::Mutex`, a LIFO list per
//!   class). Most recently freed first, so the stack handed out is the one
//!   whose top pages are most likely still resident and in cache.
//! * **Trimming.** A stack that went deeper than its top [`HOT_BYTES`] has
//!   its cold part discarded (`MADV_DONTNEED`) by [`free`]; see
//!   "Detecting deep use" below. The global pool also keeps at most
//!   [`GLOBAL_WARM`] stacks per class warm; stacks pushed deeper than that
//!   into its LIFO are discarded whole, so RSS falls after a burst.
//!
//! # Detecting deep use without a syscall
//!
//! On `free`, we read the page just below the hot region (the highest cold
//! page), one word every `PROBE_STRIDE` bytes, and trim iff any word read is
//! nonzero. Why this works:
//!
//! 1. Stacks are contiguous: a G that used more than `HOT_BYTES` wrote
//!    frames across that page, and frames contain return addresses and
//!    saved registers, which are nonzero. (A frame that is all zeros there,
//!    e.g. a zeroed buffer spanning the whole page, escapes detection: the
//!    cost is RSS kept until a later deep use is noticed, never safety.)
//! 2. After a trim, the page reads as zero again, so stale data from an
//!    earlier G is never mistaken for this G's depth; and an undetected deep
//!    use leaves nonzero data that is caught on the next free (self-healing).
//! 3. For a shallow G the page was never written. The first read maps the
//!    kernel's shared zero page (a minor fault, no RSS, once per stack);
//!    every later check reads that one physical page, hot in cache. No
//!    syscall, no write (a sentinel *write* would make one more page per
//!    parked G resident, which is exactly the cost we are avoiding).
//!
//! # Shrinking the stacks of parked Gs
//!
//! Trimming on [`free`] helps only when a G exits. A G that went deep once
//! (a 1 MiB recursion) and then parks for minutes would keep every page it
//! touched. Go copies such a stack into a smaller one at GC; gort cannot
//! move a stack (Rust code holds pointers into it), but it can give back the
//! pages below the G's stack pointer, which hold no live value while the G
//! is switched out. A *shrink pass* does so for every G parked longer than
//! [`SHRINK_AFTER_MS`]. sysmon asks for one every [`SHRINK_EVERY`] (paced by
//! the last pass's duration, `SHRINK_PACE`); the scavenger thread runs it
//! (scavenge.rs), so no M and no park/ready pays anything but one relaxed
//! load in `execute` (`shrink_gate`). `GORT_DEBUG=shrinkstack=0` turns the
//! passes off (Go's `gcshrinkstackoff=1`).
//!
//! **What is discarded.** At each park, `ParkFn::new` reads the stack
//! pointer (`rsp`/`sp`) in the frame that goes on to switch out; `execute`
//! stores it in the G's record (`G::parked_sp`) before it labels the G
//! `Waiting`. Every frame of the parked G lies above that address, except
//! the frames of the switch itself (the suspend call and corosensei's saved
//! registers), which lie just below it: [`SHRINK_SLACK`] bytes are kept for
//! them, and the pass discards `[lo, cut)` with `cut` the page boundary at
//! or below `sp - SHRINK_SLACK` (`lo`: just above the guard, which is never
//! touched). A test (tests/stacks.rs) parks a G twice at the same site and
//! checks that the second switch wrote nothing below `cut`. Before any gate,
//! the pass asks `mincore` whether the page just below `cut` is resident, for
//! many neighbouring stacks per call (`resident_probes`): a G that never
//! wrote there since its stack was carved or last shrunk (a ring or server G
//! parked a few hundred bytes below its stack's top) is dropped at that point,
//! costing no place in a gated batch and no read that would map the zero page
//! into its stack. For the Gs left, the pass
//! reads the page just below `cut`, every word until a nonzero one (the
//! rules of "Detecting deep use" below): a G that never went that deep costs
//! no `madvise`. Where the stack pointer is not read (other architectures)
//! it is 0 and the G is never shrunk.
//!
//! **Soundness: nobody may touch the stack below `cut` during the discard.**
//! Who could? Only the G itself, once resumed: a parked G's stack is written
//! by no one else (its park callback, wait nodes and values handed to it
//! live in its frames *above* `sp`; the M runs the callback on its own
//! stack). And a parked G is resumed only by `Sched::execute`, which first
//! stores `Running` into the G's status and then loads `GATE_ACTIVE`. The
//! pass works in batches of `GATE_BATCH` Gs: (2) it publishes the batch's
//! record addresses in `GATE` and sets `GATE_ACTIVE`; (3) after a *heavy
//! barrier* (`membarrier(2)`, `crate::sys::heavy_barrier`: every thread of
//! the process has executed a full fence) it reads each G's status under
//! its registry shard lock and holds only those still `Waiting`; (4) a
//! second heavy barrier makes the `parked_sp` stored before that `Waiting`
//! visible (the stack pointer of *this* park, not an older, shallower one);
//! (5) it reads `parked_sp` and probes; (6) it discards, a chunk of stacks
//! per `process_madvise`, clearing (Release) each G's `GATE` entry once it
//! is done with that G (at once for the Gs not held or not deep), and at
//! the end `GATE_ACTIVE`. The two sides form an asymmetric Dekker
//! handshake (store then load on each side, a full fence between them on
//! the heavy side, and the heavy barrier supplying the light side's):
//! either the pass sees `Running` (or any later status) and leaves the G
//! alone, or `execute` sees the gate set, finds its G in the batch and
//! waits (Acquire) until its entry or the gate is cleared, after its
//! discard. A G
//! readied meanwhile is only *queued*; it is resumed by some `execute`,
//! which the gate holds. A G seen `Waiting` that parked again after the
//! candidate list was made is fine too: step 4 reads the new `parked_sp`.
//! The record stays valid throughout: the pass reads it only under the
//! shard lock, by registry slot and id (`g::with_registered`), and a G's
//! stack is freed only when it exits, which it cannot do while held. Where
//! `membarrier` is missing (not Linux, old kernel, seccomp) no pass runs.
//!
//! Costs: the discarded pages come back as zero-filled page faults if the G
//! goes deep again (a few µs per page, once per shrink); a G readied while
//! the pass holds it waits for its own chunk's `madvise`; an M resuming any
//! G while a batch is open scans the batch once. The discards cost about
//! 0.6 µs per resident page (10,000 Gs of 192 KiB: ~300 ms of the
//! scavenger thread), a fraction of the page faults that dirtied them; the
//! pacing counts only the rest (walk, barriers, probes).
//!
//! # Ownership and locks
//!
//! * A [`GStack`] is owned by exactly one G (or by a pool). It is `Send`,
//!   not `Clone`. Dropping it returns it to its pool like `free(s, None)`.
//! * A [`StackCache`] is owned by one P and only touched by the M holding
//!   that P (it is a plain value that moves with the P).
//! * `Pool::inner` (one `parking_lot::Mutex`) protects classes, free lists
//!   and slab bookkeeping. It is a leaf lock: no other lock is taken while
//!   it is held. It is held across `mmap` of a new slab and across the
//!   `madvise` that discards a stack leaving the warm window (rare, and the
//!   latter must be under the lock so the stack cannot be handed out while
//!   being discarded).
//! * The slab table read by the SIGSEGV handler is lock-free (fixed array
//!   of atomics, entries only ever added).

use std::fmt;
use std::io;
use std::mem::ManuallyDrop;
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{LazyLock, Once};
use std::time::Duration;

use corosensei::stack::{Stack, StackPointer};
use parking_lot::Mutex;

use crate::sys;

/// Smallest usable stack size in bytes. Origin: the brief's minimum; equals
/// [`HOT_BYTES`] so a minimum-size stack is never trimmed.
pub const MIN_STACK_SIZE: usize = 16 * 1024;

/// Bytes between the words the depth probe reads (a frame crossing the probe page leaves a
/// return address at least this often in any realistic call chain; picked without data).
const PROBE_STRIDE: usize = 256;

/// The top part of a stack that is never trimmed by [`free`]. Origin: the
/// brief's suggestion; 16 KiB covers Go's 8 KiB start size twice over.
/// Picked without data; tune with the engine's benches.
pub const HOT_BYTES: usize = 16 * 1024;

/// Entries in a per-P [`StackCache`]. Origin: Go's per-P stack cache moves
/// half of its entries on overflow (`stackcacherelease`); the count 32 is
/// picked without data (32 default stacks of 256 KiB = 8 MiB of address
/// space per P, of which only the touched top pages are resident).
pub const CACHE_CAP: usize = 32;

/// Stacks per class the global pool keeps warm (pages kept); those pushed
/// deeper are discarded whole. Picked without data: 1,024 shallow stacks
/// are about 4–8 MiB of RSS.
pub const GLOBAL_WARM: usize = 1024;

/// Guards installed per system call when a class carves new stacks in
/// madvise mode (fewer for big stacks, see [`GUARD_BATCH_BYTES`]): guarding
/// ahead of use costs page-table entries only (no RSS),
/// and one `process_madvise` for 64 stacks cost 495 ns per guard against
/// 1,066 ns for one `madvise` each (see `sys::madvise_many`). In mprotect
/// mode each guard is its own call anyway and counts against the budget, so
/// guards are installed one at a time there.
pub const GUARD_BATCH: usize = 64;

/// A batch of guards spans at most this much address space. Each 2 MiB with a guard in it needs
/// a page-table page (4 KiB of kernel memory): for the default 256 KiB stacks a batch of 64
/// (16.3 MiB) needs 8 of them, but for stacks of 2 MiB and more every guard needs its own, and
/// installing 64 ahead would cost 256 KiB of page tables for Gs that may never come (15 with
/// this cap).
pub const GUARD_BATCH_BYTES: usize = 32 << 20;

/// First slab size of a class; each new slab doubles, up to
/// [`SLAB_MAX_BYTES`]. Origin: the brief's 64–256 MiB range; address space
/// under `MAP_NORESERVE` costs no memory, so bigger is fine.
pub const SLAB_FIRST_BYTES: usize = 64 << 20;

/// Largest slab. 1 GiB keeps 200,000 16 KiB stacks to 7 slabs.
pub const SLAB_MAX_BYTES: usize = 1 << 30;

/// VMAs left for the rest of the program when computing the `mprotect`
/// budget. "A few thousand" (brief); picked without data.
pub const BUDGET_HEADROOM_VMAS: usize = 2048;

/// Capacity of the lock-free slab table read by the signal handler. With
/// slabs of 64 MiB–1 GiB this covers at least 64 GiB of stacks; slabs past
/// it still work, but a fault in their guards is only recognised through
/// the running G's info.
const SLAB_TABLE_LEN: usize = 1024;

/// How guard pages are made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GuardMode {
    /// `madvise(MADV_GUARD_INSTALL)`: no VMA split, no budget.
    Madvise,
    /// `mprotect(PROT_NONE)`: two VMAs per stack, rationed by a budget.
    Mprotect,
}

impl fmt::Display for GuardMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            GuardMode::Madvise => "madvise",
            GuardMode::Mprotect => "mprotect",
        })
    }
}

/// Which guard mode a pool should use (`GORT_STACK_GUARD`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum GuardChoice {
    /// `madvise` guards if the kernel has them, else `mprotect`.
    #[default]
    Auto,
    /// Always `mprotect` guards (the fallback), e.g. to test it.
    Mprotect,
}

/// Configuration of a [`Pool`] (tests and tools; the engine uses the
/// global pool, configured from the environment).
#[derive(Clone, Copy, Debug, Default)]
pub struct PoolConfig {
    /// Guard mode choice.
    pub guard: GuardChoice,
    /// Override of the `mprotect` budget, in guarded stacks. `None`:
    /// computed from `vm.max_map_count` (see [`Pool`]).
    pub mprotect_budget: Option<usize>,
}

/// Counters for the tracer. Per-P cached counts are added by the engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StackStats {
    /// Slabs mapped.
    pub slabs: usize,
    /// Address space of all slabs, bytes.
    pub mapped_bytes: usize,
    /// Stacks handed out and not freed.
    pub in_use: usize,
    /// Stacks in the global pool.
    pub cached_global: usize,
    /// Guard mode of the pool.
    pub guard_mode: GuardMode,
    /// Stacks ever carved from slabs (each has a guard installed).
    pub carved: usize,
    /// Deep stacks whose cold part was discarded by `free`.
    pub trims: u64,
    /// Stacks discarded whole on leaving the global pool's warm window.
    pub releases: u64,
    /// Stacks of parked Gs whose pages below the stack pointer were discarded (all pools: the
    /// shrink passes work from the slab table).
    pub shrinks: u64,
}

impl fmt::Display for StackStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "stacks: slabs={} inuse={} cached={} guard={}",
            self.slabs, self.in_use, self.cached_global, self.guard_mode
        )
    }
}

// ---------------------------------------------------------------------------
// The lock-free slab table (read by the SIGSEGV handler).

struct SlabEntry {
    /// Lowest address; 0 = empty. Written last (Release) so a reader that
    /// sees it nonzero (Acquire) sees `hi` and `stride`.
    lo: AtomicUsize,
    hi: AtomicUsize,
    stride: AtomicUsize,
}

#[allow(clippy::declare_interior_mutable_const)] // used only as an array initialiser
const EMPTY_ENTRY: SlabEntry = SlabEntry {
    lo: AtomicUsize::new(0),
    hi: AtomicUsize::new(0),
    stride: AtomicUsize::new(0),
};
static SLAB_TABLE: [SlabEntry; SLAB_TABLE_LEN] = [EMPTY_ENTRY; SLAB_TABLE_LEN];
/// Number of table slots claimed (may exceed the table length).
static SLAB_TABLE_NEXT: AtomicUsize = AtomicUsize::new(0);

fn register_slab(lo: usize, hi: usize, stride: usize) {
    // Relaxed: slot claiming needs only atomicity; publication is by `lo`.
    let i = SLAB_TABLE_NEXT.fetch_add(1, Ordering::Relaxed);
    if let Some(e) = SLAB_TABLE.get(i) {
        e.hi.store(hi, Ordering::Relaxed);
        e.stride.store(stride, Ordering::Relaxed);
        // Release: publishes `hi`/`stride`; pairs with the Acquire load of
        // `lo` in `guard_fault_lookup`.
        e.lo.store(lo, Ordering::Release);
    }
}

/// If `addr` lies in the guard page of any slab stack, returns that stack's
/// usable size. Async-signal-safe: atomic loads only, no locks.
pub(crate) fn guard_fault_lookup(addr: usize) -> Option<usize> {
    let page = sys::page_size();
    let n = SLAB_TABLE_NEXT.load(Ordering::Relaxed).min(SLAB_TABLE_LEN);
    for e in &SLAB_TABLE[..n] {
        // Acquire: pairs with the Release store in `register_slab`.
        let lo = e.lo.load(Ordering::Acquire);
        if lo == 0 {
            continue;
        }
        let hi = e.hi.load(Ordering::Relaxed);
        if addr < lo || addr >= hi {
            continue;
        }
        let stride = e.stride.load(Ordering::Relaxed);
        return if (addr - lo) % stride < page {
            Some(stride - page)
        } else {
            None
        };
    }
    None
}

// ---------------------------------------------------------------------------
// GStack

/// One guarded stack, owned by one G. `Send`, not `Clone`: two owners of
/// one stack would run two coroutines on the same memory.
///
/// ```compile_fail
/// fn dup(s: &gort_runtime::stack::GStack) -> gort_runtime::stack::GStack {
///     s.clone()
/// }
/// ```
///
/// Dropping a `GStack` returns it to its pool (like `free(s, None)`), so the
/// same contract as [`free`] applies to dropping: no coroutine may still be
/// running (suspended) on it. corosensei guarantees this for a stack held by
/// a `Coroutine`: dropping an unfinished coroutine unwinds it first.
pub struct GStack {
    /// Lowest address: start of the guard page. Page-aligned.
    lo: usize,
    /// Usable bytes above the guard: the size class. Page multiple.
    usable: usize,
    pool: &'static Pool,
}

impl GStack {
    /// Usable bytes (excluding the guard page).
    pub fn usable_size(&self) -> usize {
        self.usable
    }

    /// `(lo, hi)` of the guard page, half-open.
    pub fn guard_range(&self) -> (usize, usize) {
        (self.lo, self.lo + sys::page_size())
    }

    /// `(lo, hi)` of the usable stack, half-open; `hi` is the base (the
    /// stack grows down from it).
    pub fn stack_range(&self) -> (usize, usize) {
        let lo = self.lo + sys::page_size();
        (lo, lo + self.usable)
    }

    fn into_raw(self) -> (usize, usize, &'static Pool) {
        let me = ManuallyDrop::new(self);
        (me.lo, me.usable, me.pool)
    }
}

impl fmt::Debug for GStack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (lo, hi) = self.stack_range();
        write!(f, "GStack({lo:#x}..{hi:#x}, guard {:#x})", self.lo)
    }
}

impl Drop for GStack {
    fn drop(&mut self) {
        self.pool.free_raw(self.lo, self.usable, None);
    }
}

// SAFETY: corosensei's `Stack` contract: (1) a guard page catches overflow:
// `[lo, lo+page)` is guarded (MADV_GUARD_INSTALL or PROT_NONE) before the
// stack is ever handed out and stays guarded while the slab exists (slabs
// are never unmapped, and MADV_DONTNEED keeps guard markers); `limit()`
// includes it. (2) At least MIN_STACK_SIZE (4 KiB) usable: ours is
// >= 16 KiB. (3) base and limit are page-aligned, hence STACK_ALIGNMENT
// (16) aligned. (4) The memory is owned by this GStack alone: a pool hands
// each carved range to exactly one GStack at a time.
// SAFETY: argued in the comment above.
unsafe impl Stack for GStack {
    fn base(&self) -> StackPointer {
        StackPointer::new(self.lo + sys::page_size() + self.usable).expect("stack base is nonzero")
    }

    fn limit(&self) -> StackPointer {
        StackPointer::new(self.lo).expect("stack limit is nonzero")
    }
}

// ---------------------------------------------------------------------------
// StackCache (per P)

#[derive(Clone, Copy, Default)]
struct Slot {
    lo: usize,
    usable: usize,
}

/// Per-P cache of free stacks of the global pool: LIFO, [`CACHE_CAP`]
/// entries, any mix of size classes, no heap allocation. Owned by a P and
/// used only by the M holding it. Dropping it drains it to the global pool.
#[derive(Default)]
pub struct StackCache {
    slots: [Slot; CACHE_CAP],
    len: usize,
}

impl StackCache {
    /// Stacks held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the cache holds no stack.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Moves every cached stack to the global pool (e.g. when the P is
    /// destroyed by a GOMAXPROCS decrease).
    pub fn drain_to_global(&mut self) {
        global().push_global(&self.slots[..self.len]);
        self.len = 0;
    }

    /// Takes the most recently cached stack of class `usable`.
    fn take(&mut self, usable: usize) -> Option<usize> {
        let i = self.slots[..self.len]
            .iter()
            .rposition(|s| s.usable == usable)?;
        let lo = self.slots[i].lo;
        self.slots.copy_within(i + 1..self.len, i);
        self.len -= 1;
        Some(lo)
    }

    fn put(&mut self, lo: usize, usable: usize) {
        if self.len == CACHE_CAP {
            // Spill the older half, keeping the warmest entries here.
            let half = CACHE_CAP / 2;
            global().push_global(&self.slots[..half]);
            self.slots.copy_within(half..CACHE_CAP, 0);
            self.len -= half;
        }
        self.slots[self.len] = Slot { lo, usable };
        self.len += 1;
    }
}

impl Drop for StackCache {
    fn drop(&mut self) {
        if self.len > 0 {
            self.drain_to_global();
        }
    }
}

// ---------------------------------------------------------------------------
// Pool

/// A stack allocator: size classes, slabs, a guard mode and a budget. The
/// engine uses the process-wide one behind [`alloc`] / [`free`]; tests can
/// make their own with [`Pool::with_config`].
///
/// **Budget** (`mprotect` mode only), in guarded stacks, computed once when
/// the pool is created:
/// `left = vm.max_map_count - current mappings;`
/// `budget = (left / 2 - BUDGET_HEADROOM_VMAS) / 2` (half of what is left,
/// minus headroom, at two VMAs per guard). Without `/proc` (non-Linux) the
/// budget is unlimited: those systems have no VMA cap of this kind.
pub struct Pool {
    mode: GuardMode,
    /// Max stacks carved (= guards installed); `usize::MAX` if unlimited.
    budget: usize,
    /// `(vm.max_map_count, mappings)` the budget was computed from.
    budget_source: Option<(usize, usize)>,
    /// Protected by the mutex; see the module doc's lock notes.
    inner: Mutex<Inner>,
    /// Atomic: stacks handed out and not freed (stats, error messages).
    live: AtomicUsize,
    trims: AtomicU64,
    releases: AtomicU64,
}

struct Inner {
    classes: Vec<Class>,
    slabs: usize,
    mapped_bytes: usize,
    carved: usize,
    cached: usize,
}

struct Class {
    usable: usize,
    /// `usable + page`: one guard page plus the stack.
    stride: usize,
    /// Free stacks (their `lo`), LIFO: the last is the warmest.
    free: Vec<usize>,
    /// `free[..cold]` have been discarded whole (left the warm window).
    cold: usize,
    /// Next uncarved stack in the current slab, and the slab's end.
    carve_next: usize,
    carve_end: usize,
    /// Stacks below this address in the current slab have their guards
    /// (madvise mode installs [`GUARD_BATCH`] at a time; mprotect mode one).
    guarded_end: usize,
    next_slab_bytes: usize,
}

static GLOBAL: LazyLock<Pool> = LazyLock::new(|| {
    Pool::new(PoolConfig {
        guard: guard_choice_from_env(),
        mprotect_budget: None,
    })
});

fn global() -> &'static Pool {
    &GLOBAL
}

/// Reads `GORT_STACK_GUARD` (`auto`, the default, or `mprotect`). An invalid
/// value prints one warning naming the variable and uses `auto`.
fn guard_choice_from_env() -> GuardChoice {
    match std::env::var("GORT_STACK_GUARD") {
        Err(std::env::VarError::NotPresent) => GuardChoice::Auto,
        Ok(v) if v.is_empty() || v == "auto" => GuardChoice::Auto,
        Ok(v) if v == "mprotect" => GuardChoice::Mprotect,
        Ok(v) => {
            warn_bad_guard(&v);
            GuardChoice::Auto
        }
        Err(std::env::VarError::NotUnicode(v)) => {
            warn_bad_guard(&v.to_string_lossy());
            GuardChoice::Auto
        }
    }
}

fn warn_bad_guard(v: &str) {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        eprintln!(
            "gort: GORT_STACK_GUARD={v:?} is not one of \"auto\", \"mprotect\"; using \"auto\""
        )
    });
}

/// Rounds a requested size to its class (docs/stacks.md, "Size classes"): at least
/// [`MIN_STACK_SIZE`], at most [`crate::env::MAX_STACK_SIZE`] (1 GiB, Go's limit), and rounded
/// up to a quarter of its highest power of two (and to whole pages), so there are four classes
/// per doubling: 16, 20, 24, 28, 32, 40, ... KiB, 256, 320, 384, 448, 512 KiB, ... 1 GiB. At most
/// 62 classes exist however many distinct sizes are asked for, and a class wastes under a
/// quarter of its size, in address space only (stacks are reserved, not committed).
#[inline]
fn class_of(size: usize) -> io::Result<usize> {
    if size > crate::env::MAX_STACK_SIZE {
        return Err(too_big(size));
    }
    let size = size.max(MIN_STACK_SIZE);
    let top = 1usize << (usize::BITS - 1 - size.leading_zeros());
    let step = (top / 4).max(sys::page_size());
    Ok(size.next_multiple_of(step))
}

/// [`class_of`]'s error, out of line so that the check inlines into every spawn.
#[cold]
#[inline(never)]
fn too_big(size: usize) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!(
            "gort: stack size {size} bytes is above the maximum of {} MiB; ask for less \
             (Builder::stack_size, GORT_STACK_SIZE)",
            crate::env::MAX_STACK_SIZE >> 20
        ),
    )
}

impl Pool {
    fn new(cfg: PoolConfig) -> Pool {
        let mode = match cfg.guard {
            GuardChoice::Auto if sys::guard_install_supported() => GuardMode::Madvise,
            _ => GuardMode::Mprotect,
        };
        let (budget, budget_source) = match (mode, cfg.mprotect_budget) {
            (GuardMode::Madvise, _) => (usize::MAX, None),
            (GuardMode::Mprotect, Some(b)) => (b, None),
            (GuardMode::Mprotect, None) => match (sys::max_map_count(), sys::map_count()) {
                (Some(max), Some(cur)) => {
                    let left = max.saturating_sub(cur);
                    (
                        (left / 2).saturating_sub(BUDGET_HEADROOM_VMAS) / 2,
                        Some((max, cur)),
                    )
                }
                _ => (usize::MAX, None),
            },
        };
        Pool {
            mode,
            budget,
            budget_source,
            inner: Mutex::new(Inner {
                classes: Vec::new(),
                slabs: 0,
                mapped_bytes: 0,
                carved: 0,
                cached: 0,
            }),
            live: AtomicUsize::new(0),
            trims: AtomicU64::new(0),
            releases: AtomicU64::new(0),
        }
    }

    /// A new pool with its own slabs (leaked: pools live for the process,
    /// because their slabs do). For tests and tools; the engine uses the
    /// global pool.
    pub fn with_config(cfg: PoolConfig) -> &'static Pool {
        Box::leak(Box::new(Pool::new(cfg)))
    }

    /// The process-wide pool behind [`alloc`] and [`free`].
    pub fn global() -> &'static Pool {
        global()
    }

    /// The guard mode in use.
    pub fn guard_mode(&self) -> GuardMode {
        self.mode
    }

    /// The `mprotect` budget in stacks (`usize::MAX`: unlimited).
    pub fn budget(&self) -> usize {
        self.budget
    }

    /// Allocates a stack with at least `size` usable bytes from this pool
    /// (no per-P cache). See [`alloc`].
    pub fn alloc(&'static self, size: usize) -> io::Result<GStack> {
        let usable = class_of(size)?;
        self.alloc_class(usable)
    }

    /// Returns a stack to this pool. See [`free`] for the contract.
    pub fn free(&self, stack: GStack) {
        let (lo, usable, pool) = stack.into_raw();
        pool.free_raw(lo, usable, None);
    }

    /// Stacks handed out by this pool and not freed.
    pub fn live(&self) -> usize {
        // Relaxed: a statistic.
        self.live.load(Ordering::Relaxed)
    }

    /// This pool's counters.
    pub fn stats(&self) -> StackStats {
        let g = self.inner.lock();
        StackStats {
            slabs: g.slabs,
            mapped_bytes: g.mapped_bytes,
            in_use: self.live(),
            cached_global: g.cached,
            guard_mode: self.mode,
            carved: g.carved,
            trims: self.trims.load(Ordering::Relaxed),
            releases: self.releases.load(Ordering::Relaxed),
            shrinks: SHRINKS.load(Ordering::Relaxed),
        }
    }

    fn alloc_class(&'static self, usable: usize) -> io::Result<GStack> {
        let page = sys::page_size();
        let mut g = self.inner.lock();
        let g = &mut *g;
        let ci = match g.classes.iter().position(|c| c.usable == usable) {
            Some(i) => i,
            None => {
                g.classes.push(Class {
                    usable,
                    stride: usable + page,
                    free: Vec::new(),
                    cold: 0,
                    carve_next: 0,
                    carve_end: 0,
                    guarded_end: 0,
                    next_slab_bytes: SLAB_FIRST_BYTES,
                });
                g.classes.len() - 1
            }
        };
        let class = &mut g.classes[ci];
        if let Some(lo) = class.free.pop() {
            class.cold = class.cold.min(class.free.len());
            g.cached -= 1;
            // Relaxed: a statistic.
            self.live.fetch_add(1, Ordering::Relaxed);
            return Ok(GStack {
                lo,
                usable,
                pool: self,
            });
        }
        if g.carved >= self.budget {
            return Err(self.budget_error());
        }
        if class.carve_next == class.carve_end {
            let (lo, len) = map_slab(class.stride, class.next_slab_bytes)?;
            class.carve_next = lo;
            class.carve_end = lo + len;
            class.guarded_end = lo;
            class.next_slab_bytes = (len * 2).min(SLAB_MAX_BYTES);
            g.slabs += 1;
            g.mapped_bytes += len;
        }
        let lo = class.carve_next;
        debug_assert!(class.guarded_end <= class.carve_end);
        if lo >= class.guarded_end {
            // SAFETY (both arms): every `[lo + i*stride, +page)` is an uncarved
            // guard slot of a slab this pool mapped (below `carve_end`); no
            // GStack covers it and nothing is stored in it.
            let (guarded, n) = match self.mode {
                GuardMode::Madvise => {
                    let left = (class.carve_end - lo) / class.stride;
                    let batch = GUARD_BATCH.min(GUARD_BATCH_BYTES / class.stride).max(1);
                    let ranges: Vec<(usize, usize)> = (0..left.min(batch))
                        .map(|i| (lo + i * class.stride, page))
                        .collect();
                    // SAFETY: see above.
                    let r = unsafe { sys::madvise_many(&ranges, sys::MADV_GUARD_INSTALL) };
                    (r, ranges.len())
                }
                // SAFETY: see above.
                GuardMode::Mprotect => (unsafe { sys::mprotect_none(lo, page) }, 1),
            };
            guarded.map_err(|e| self.guard_error(e))?;
            class.guarded_end = lo + n * class.stride;
        }
        class.carve_next += class.stride;
        g.carved += 1;
        self.live.fetch_add(1, Ordering::Relaxed);
        Ok(GStack {
            lo,
            usable,
            pool: self,
        })
    }

    /// The free path shared by [`free`], [`Pool::free`] and `Drop`.
    fn free_raw(&'static self, lo: usize, usable: usize, cache: Option<&mut StackCache>) {
        self.trim_if_deep(lo, usable);
        self.live.fetch_sub(1, Ordering::Relaxed);
        match cache {
            Some(c) if ptr::eq(self, global()) => c.put(lo, usable),
            _ => self.push_global(&[Slot { lo, usable }]),
        }
    }

    /// Discards the cold part of a stack that was used deeper than
    /// [`HOT_BYTES`]; see the module doc, "Detecting deep use".
    fn trim_if_deep(&self, lo: usize, usable: usize) {
        if usable <= HOT_BYTES {
            return;
        }
        let page = sys::page_size();
        let stack_lo = lo + page;
        let hot_lo = stack_lo + usable - HOT_BYTES;
        let probe = hot_lo - page;
        // One word every PROBE_STRIDE bytes (16 loads for a 4 KiB page) instead of the whole
        // page: a call chain that crossed the page left return addresses and saved registers
        // every few hundred bytes at most, so a sampled word is nonzero; the whole-page read
        // cost ~60 ns per free (measured in spawn_join's profile at 7%), the sample ~5 ns.
        // Missed cases are those of rule 1 below: RSS kept, never safety.
        // SAFETY: `probe..hot_lo` is a mapped, readable page of this stack above its guard;
        // nothing writes it: the stack was moved into `free` and its coroutine has finished.
        let deep = unsafe { page_has_data(probe, page) };
        if deep {
            // The guard below `stack_lo` is not in the range (and a madvise guard would survive
            // DONTNEED anyway).
            // SAFETY: `[stack_lo, hot_lo)` belongs to this stack, whose coroutine has finished,
            // so no live value is stored there.
            if unsafe { sys::discard(stack_lo, hot_lo - stack_lo) }.is_ok() {
                self.trims.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Pushes free stacks onto their classes' global lists (one lock), and
    /// discards whole any stack pushed out of the warm window (all of them in
    /// one [`sys::discard_many`]: a burst of exits pays one TLB shootdown per
    /// spill, not one per stack).
    fn push_global(&self, slots: &[Slot]) {
        if slots.is_empty() {
            return;
        }
        let page = sys::page_size();
        let mut g = self.inner.lock();
        let g = &mut *g;
        let mut victims = Vec::new();
        for s in slots {
            let class = g
                .classes
                .iter_mut()
                .find(|c| c.usable == s.usable)
                .expect("gort: freed a stack of a class this pool never allocated");
            class.free.push(s.lo);
            g.cached += 1;
            if class.free.len() - class.cold > GLOBAL_WARM {
                let victim = class.free[class.cold];
                class.cold += 1;
                victims.push((victim + page, class.usable));
            }
        }
        // We still hold the pool lock, so no victim can be handed out meanwhile.
        // SAFETY: each victim is a free stack in this pool's lists (no G owns it); only its
        // usable part, above the guard, is discarded, under the lock.
        if !victims.is_empty() && unsafe { sys::discard_many(&victims) }.is_ok() {
            self.releases
                .fetch_add(victims.len() as u64, Ordering::Relaxed);
        }
    }

    fn budget_error(&self) -> io::Error {
        let source = match self.budget_source {
            Some((max, cur)) => format!(
                "computed from vm.max_map_count={max} and the {cur} mappings this process had"
            ),
            None => "set by configuration (vm.max_map_count caps mappings)".to_string(),
        };
        io::Error::new(
            io::ErrorKind::OutOfMemory,
            format!(
                "gort: cannot allocate another guarded stack: the mprotect guard fallback \
                 (two mappings per stack) is at its budget of {} guarded stacks, {source}; \
                 {} stacks are live. Fix: raise vm.max_map_count (e.g. `sysctl -w \
                 vm.max_map_count=2097152`), or reduce the number of live green threads",
                self.budget,
                self.live()
            ),
        )
    }

    fn guard_error(&self, e: io::Error) -> io::Error {
        io::Error::new(
            e.kind(),
            format!(
                "gort: installing a stack guard page ({}) failed: {e}; {} stacks are live. If \
                 this is ENOMEM, the process hit vm.max_map_count or memory limits: raise \
                 vm.max_map_count or reduce the number of live green threads",
                self.mode,
                self.live()
            ),
        )
    }
}

/// Maps a slab of about `want` bytes (a multiple of `stride`, at least one
/// stride), halving on failure. Returns `(lo, len)`.
fn map_slab(stride: usize, want: usize) -> io::Result<(usize, usize)> {
    let mut n = (want / stride).max(1);
    loop {
        let len = n * stride;
        match sys::mmap_anon(len) {
            Ok(lo) => {
                sys::no_huge_pages(lo, len);
                register_slab(lo, lo + len, stride);
                return Ok((lo, len));
            }
            Err(e) if n == 1 => return Err(e),
            Err(_) => n /= 2,
        }
    }
}

// ---------------------------------------------------------------------------
// The engine's interface.

/// Allocates a guarded stack with at least `size` usable bytes (rounded up
/// to the page size, minimum [`MIN_STACK_SIZE`]), from `cache` if it has
/// one of that class, else from the global pool, else carved from a slab.
///
/// Errors: `InvalidInput` for absurd sizes; `OutOfMemory` when the
/// `mprotect` budget is spent (the message names `vm.max_map_count`, the
/// live stack count and the fix); the OS error if `mmap` fails.
pub fn alloc(size: usize, cache: Option<&mut StackCache>) -> io::Result<GStack> {
    let usable = class_of(size)?;
    let pool = global();
    if let Some(lo) = cache.and_then(|c| c.take(usable)) {
        pool.live.fetch_add(1, Ordering::Relaxed);
        return Ok(GStack { lo, usable, pool });
    }
    pool.alloc_class(usable)
}

/// Returns a stack for reuse: trims it if it was used deeply, then puts it
/// in `cache` (if given and the stack is from the global pool) or in its
/// pool's global list.
///
/// **Contract:** the coroutine that ran on `stack` has finished (or was
/// never started): no frame on it is live. Safe Rust upholds this: a
/// `corosensei::Coroutine` gives its stack back only through `into_stack`,
/// which asserts `done()`.
pub fn free(stack: GStack, cache: Option<&mut StackCache>) {
    let (lo, usable, pool) = stack.into_raw();
    pool.free_raw(lo, usable, cache);
}

/// Counters of the global pool.
pub fn stats() -> StackStats {
    global().stats()
}

/// Stacks of the global pool handed out and not freed.
pub fn live() -> usize {
    global().live()
}

// ---------------------------------------------------------------------------
// Shrinking the stacks of parked Gs (module docs, "Shrinking the stacks of parked Gs").

/// A G parked at least this long has the pages below its stack pointer discarded by the next
/// shrink pass. Picked without data beyond the goal (a parked G's RSS back to its hot pages
/// within a second): long enough that a G parking for a request or a timer tick does not fault
/// its deep pages back on every round, short enough to leave most of the second.
pub const SHRINK_AFTER_MS: u32 = 200;

/// Shrink passes run at most this often (sysmon asks the scavenger thread for one).
pub const SHRINK_EVERY: Duration = Duration::from_millis(100);

/// A pass that walked many Gs waits this many times the CPU time it used (its discards left
/// out) before the next one, so that the walk costs at most 2% of a core (a pass over a million
/// parked Gs takes tens of milliseconds; over 10,000 well under one).
const SHRINK_PACE: u32 = 50;

/// Gs held off the Ms at once by one pass: two heavy barriers (each interrupts every CPU
/// running a thread of the process) per this many parked Gs, so that a server whose idle Gs
/// park afresh every second does not pay an IPI per few Gs. A G readied meanwhile waits for its
/// own discard at most (its entry is cleared when the pass is done with it); an M resuming any
/// G during a batch scans the batch once.
const GATE_BATCH: usize = 256;

/// Stacks discarded per system call (`process_madvise` takes up to 64 ranges at once; smaller
/// chunks release readied Gs sooner).
const DISCARD_CHUNK: usize = 16;

/// Set while a pass holds the Gs in `GATE` off every M (SeqCst set, Release clear); read by
/// `shrink_gate` (Relaxed on the hot path, Acquire in the wait).
static GATE_ACTIVE: AtomicBool = AtomicBool::new(false);
/// The Gs of the current batch (their record addresses), `GATE_LEN` of them. Written by the
/// pass only while `GATE_ACTIVE` is false, published by its SeqCst set.
static GATE: [AtomicUsize; GATE_BATCH] = [const { AtomicUsize::new(0) }; GATE_BATCH];
static GATE_LEN: AtomicUsize = AtomicUsize::new(0);
/// One pass at a time (the scavenger thread's, or a test's [`testing::shrink_now`]).
static PASS: Mutex<ShrinkWindow> = Mutex::new(ShrinkWindow { cutoff: None });
static SHRINKS: AtomicU64 = AtomicU64::new(0);
/// Resumes that found a batch open and looked for their G in it (Relaxed: a test's statistic).
static GATE_WAITS: AtomicU64 = AtomicU64::new(0);

/// What the previous pass covered: Gs parked at or before `cutoff` (coarse ms) were looked at.
struct ShrinkWindow {
    cutoff: Option<u32>,
}

/// What one shrink pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ShrinkPass {
    /// Parked Gs looked at (held off the Ms and checked).
    pub examined: usize,
    /// Stacks whose pages below the stack pointer were discarded.
    pub shrunk: usize,
    /// CPU time spent in the discards' system calls (work in proportion to the memory
    /// returned, not counted in the pacing).
    pub discarding: Duration,
}

/// The hot-path half of the handshake: called by `execute` right before it resumes `g`, after
/// it stored `Running` into `g`'s status. One relaxed load while no pass runs; while one does,
/// an M about to resume a G of its batch waits for the batch to end.
///
/// Why a load suffices: the pass sets `GATE_ACTIVE`, runs a heavy barrier
/// (`crate::sys::heavy_barrier`), then reads the status of each G of its batch and skips
/// those not `Waiting`. The barrier makes this an asymmetric Dekker handshake: either the
/// pass sees this M's `Running` store (and leaves the G alone), or this load sees the gate.
/// The compiler fence keeps the store before the load in program order.
#[inline(always)]
pub(crate) fn shrink_gate(g: *const crate::g::G) {
    #[cfg(not(loom))]
    {
        std::sync::atomic::compiler_fence(Ordering::SeqCst);
        if GATE_ACTIVE.load(Ordering::Relaxed) {
            gate_wait(g as usize);
        }
    }
    #[cfg(loom)]
    let _ = g;
}

#[cold]
#[inline(never)]
fn gate_wait(g: usize) {
    GATE_WAITS.fetch_add(1, Ordering::Relaxed);
    let mut spins = 0u32;
    // Acquire: pairs with the pass's SeqCst set (the batch is visible), and with its Release
    // clears of an entry and of the gate (the G's discard is done before it runs).
    while GATE_ACTIVE.load(Ordering::Acquire)
        && GATE[..GATE_LEN.load(Ordering::Relaxed).min(GATE_BATCH)]
            .iter()
            .any(|e| e.load(Ordering::Acquire) == g)
    {
        spins += 1;
        if spins < 100 {
            std::hint::spin_loop();
        } else {
            std::thread::yield_now();
        }
    }
}

/// Whether passes can run here: Linux with `membarrier` (the heavy barrier) and a stack
/// pointer recorded at each park (x86_64, aarch64). `GORT_DEBUG=shrinkstack=0` is checked by
/// [`shrink_tick`], which then never asks for a pass.
pub(crate) fn shrink_supported() -> bool {
    static OK: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *OK.get_or_init(|| {
        cfg!(any(target_arch = "x86_64", target_arch = "aarch64")) && crate::sys::heavy_barrier()
    })
}

/// sysmon's hook, on every tick: asks the scavenger thread for a pass every [`SHRINK_EVERY`]
/// (paced by `SHRINK_PACE`) while Gs exist.
pub(crate) fn shrink_tick(s: &crate::sched::Sched, now: std::time::Instant) {
    // When the next pass is due, in ns since the coarse clock's base (0: not yet set). Only
    // sysmon touches it (Relaxed).
    static NEXT_NS: AtomicU64 = AtomicU64::new(0);
    if !s.cfg.debug.shrinkstack || s.ngoroutine.load(Ordering::Relaxed) == 0 {
        return;
    }
    let at = now
        .saturating_duration_since(crate::sysmon::coarse_base())
        .as_nanos() as u64;
    let next = NEXT_NS.load(Ordering::Relaxed);
    if next == 0 {
        NEXT_NS.store(at + SHRINK_EVERY.as_nanos() as u64, Ordering::Relaxed);
        return;
    }
    if at < next {
        return;
    }
    let last = LAST_PASS_NS.load(Ordering::Relaxed);
    let wait = (SHRINK_EVERY.as_nanos() as u64).max(last.saturating_mul(SHRINK_PACE as u64));
    NEXT_NS.store(at + wait, Ordering::Relaxed);
    if shrink_supported() {
        crate::scavenge::request_shrink();
    }
}

/// The CPU time of the last pass, its discards left out (Relaxed: pacing only).
static LAST_PASS_NS: AtomicU64 = AtomicU64::new(0);

/// The scavenger thread's pass: the window since the previous pass.
pub(crate) fn shrink_pass_scheduled() {
    let mut w = PASS.lock();
    let t = sys::thread_cpu_time();
    let now = crate::sysmon::coarse_ms();
    let cutoff = now.wrapping_sub(SHRINK_AFTER_MS);
    let since = w.cutoff;
    let r = shrink_locked(cutoff, since);
    w.cutoff = Some(cutoff);
    drop(w);
    // The pacing counts the walk, the barriers and the probes: the overhead that grows with
    // the number of Gs. The discards are bounded by the pages the Gs dirtied (each cost the G
    // a page fault several times the discard's price), and must not delay the next pass: a
    // burst of deep Gs is returned within a pass or two, not one pass per `SHRINK_PACE` times
    // the burst's discard time. CPU time, not wall time: on a loaded machine a pass that
    // waited for a core would otherwise hold off the next one for seconds.
    let overhead = sys::thread_cpu_time()
        .saturating_sub(t)
        .saturating_sub(r.discarding);
    LAST_PASS_NS.store(overhead.as_nanos() as u64, Ordering::Relaxed);
}

/// One pass over the Gs parked at least `min_parked_ms` (and, with `since`, parked after that
/// coarse time: the previous pass saw the rest).
pub(crate) fn shrink_pass(min_parked_ms: u32, since: Option<u32>) -> ShrinkPass {
    if !shrink_supported() {
        return ShrinkPass::default();
    }
    let _w = PASS.lock();
    shrink_locked(
        crate::sysmon::coarse_ms().wrapping_sub(min_parked_ms),
        since,
    )
}

/// `a` is at or before `b` on the wrapping coarse clock.
fn not_after(a: u32, b: u32) -> bool {
    (b.wrapping_sub(a) as i32) >= 0
}

fn shrink_locked(cutoff: u32, since: Option<u32>) -> ShrinkPass {
    if !shrink_supported() {
        return ShrinkPass::default();
    }
    // 1. Candidates: parked (by the status label), parked in the window, with a recorded stack
    // pointer. Copied out under each shard lock; checked again under the gate.
    let mut found: Vec<(usize, (usize, usize), u64, usize)> = Vec::new();
    crate::g::for_each_g(|g| {
        let sp = g.parked_sp();
        if g.status() != crate::g::GStatus::Waiting || sp == 0 {
            return;
        }
        let at = g.wait_since_ms();
        if not_after(at, cutoff) && since.is_none_or(|s| !not_after(at, s)) {
            found.push((
                g as *const crate::g::G as usize,
                g.registry_pos(),
                g.id(),
                sp,
            ));
        }
    });
    // 1b. Pre-filter, outside the shard locks and before any gate: a G whose page below the
    // cut (by the stack pointer read above, which may be stale) is not resident never went
    // that deep since its stack was carved or last shrunk, so it costs neither a place in a
    // batch (two heavy barriers per batch) nor a probe that would map the zero page into it.
    // Only a skip is decided here, which is always sound; a G kept is checked again by the
    // gate protocol with the stack pointer of its current park.
    let page = sys::page_size();
    let mut probes: Vec<(usize, usize)> = found
        .iter()
        .enumerate()
        .filter_map(|(i, c)| shrink_range(c.3).map(|(_, cut)| (cut - page, i)))
        .collect();
    let keep = resident_probes(&mut probes, found.len());
    let cands: Vec<(usize, (usize, usize), u64)> = found
        .into_iter()
        .zip(keep)
        .filter(|(_, k)| *k)
        .map(|(c, _)| (c.0, c.1, c.2))
        .collect();
    let mut done = ShrinkPass::default();
    for batch in cands.chunks(GATE_BATCH) {
        shrink_batch(batch, &mut done);
    }
    if done.shrunk > 0 {
        SHRINKS.fetch_add(done.shrunk as u64, Ordering::Relaxed);
    }
    done
}

/// Address space one `mincore` of [`resident_probes`] spans at most (its output is a byte per
/// page: 4 MiB is 1,024 bytes, about 15 default stacks).
const PROBE_SPAN: usize = 4 << 20;

/// Which of `n` candidates have their probe page resident: `probes` holds `(page, index)` for
/// the candidates that have a probe page (the others are not kept). Sorted by address, the
/// pages of neighbouring stacks in one slab are asked about in one `mincore` of at most
/// [`PROBE_SPAN`]: a pass over a million Gs costs thousands of system calls, not a million. A
/// failed call keeps its pages (the full protocol decides for them).
#[inline(never)]
fn resident_probes(probes: &mut [(usize, usize)], n: usize) -> Vec<bool> {
    let page = sys::page_size();
    let mut keep = vec![false; n];
    let mut vec = Vec::new();
    probes.sort_unstable();
    let mut rest = &probes[..];
    while let Some(&(first, _)) = rest.first() {
        let end = slab_end(first).map_or(first + page, |hi| hi.min(first + PROBE_SPAN));
        let k = rest.partition_point(|&(a, _)| a < end);
        let (group, tail) = rest.split_at(k.max(1));
        let last = group[group.len() - 1].0;
        let ok = sys::residency(first, last + page - first, &mut vec).is_ok();
        for &(a, i) in group {
            keep[i] = !ok || vec[(a - first) / page] & 1 != 0;
        }
        rest = tail;
    }
    keep
}

/// The end of the slab `addr` lies in, from the lock-free slab table.
fn slab_end(addr: usize) -> Option<usize> {
    let n = SLAB_TABLE_NEXT.load(Ordering::Relaxed).min(SLAB_TABLE_LEN);
    SLAB_TABLE[..n].iter().find_map(|e| {
        // Acquire: pairs with the Release store in `register_slab`.
        let lo = e.lo.load(Ordering::Acquire);
        let hi = e.hi.load(Ordering::Relaxed);
        (lo != 0 && addr >= lo && addr < hi).then_some(hi)
    })
}

/// The gate protocol for one batch (module docs, "Shrinking the stacks of parked Gs", steps
/// 2-6). Each G's entry in `GATE` is cleared (Release) as soon as the pass is done with it,
/// so a G readied during the batch waits only for its own discard, not the batch's.
fn shrink_batch(batch: &[(usize, (usize, usize), u64)], done: &mut ShrinkPass) {
    let page = sys::page_size();
    // Release: the discards (and probe reads) of the G are done; pairs with `gate_wait`.
    let release = |i: usize| GATE[i].store(0, Ordering::Release);
    // 2. Publish the batch, close the gate, and make every M see it or be seen.
    for (e, c) in GATE.iter().zip(batch) {
        e.store(c.0, Ordering::Relaxed);
    }
    GATE_LEN.store(batch.len(), Ordering::Relaxed);
    GATE_ACTIVE.store(true, Ordering::SeqCst);
    let mut held = [false; GATE_BATCH];
    if crate::sys::heavy_barrier() {
        // 3. Still parked? A G an M resumed before the gate reads `Running` now (or a later
        // status); one resumed after it waits at the gate. Under the shard lock: the record
        // is alive while registered.
        for (h, c) in held.iter_mut().zip(batch) {
            *h = crate::g::with_registered(c.1, c.2, |g| g.status() == crate::g::GStatus::Waiting)
                == Some(true);
        }
        // 4. A second barrier: the M that parked a held G stored its `parked_sp` before its
        // `Waiting`, which we saw; after this every store an M made before it is visible.
        if held.iter().any(|&h| h) && !crate::sys::heavy_barrier() {
            held = [false; GATE_BATCH];
        }
    }
    // 5. Which held Gs went deeper than their cut; the others are let go at once.
    let mut deep: Vec<(usize, (usize, usize))> = Vec::new();
    for (i, (&h, c)) in held.iter().zip(batch).enumerate() {
        let range = if h {
            done.examined += 1;
            crate::g::with_registered(c.1, c.2, |g| g.parked_sp())
                .and_then(shrink_range)
                // SAFETY: `[cut - page, cut)` is mapped (a slab stack's usable part above its
                // guard: `cut - page >= lo`, both page-aligned) and no thread writes it: it is
                // below the held G's stack pointer, and the G cannot run until released.
                .filter(|&(_, cut)| unsafe { page_written(cut - page, page) })
        } else {
            None
        };
        match range {
            Some((lo, cut)) => deep.push((i, (lo, cut - lo))),
            None => release(i),
        }
    }
    // 6. Discard, a chunk of stacks per system call, releasing each chunk's Gs after it.
    for chunk in deep.chunks(DISCARD_CHUNK) {
        let ranges: Vec<(usize, usize)> = chunk.iter().map(|d| d.1).collect();
        let t = sys::thread_cpu_time();
        // SAFETY: each range lies below `sp - SHRINK_SLACK` of a G seen `Waiting` after the
        // gate was set and a heavy barrier: no `execute` can resume it until its entry is
        // cleared below (the Dekker handshake of the module docs), nothing else writes a
        // parked G's stack, and no live value lies below its stack pointer but the switch's
        // frames, which the slack keeps. The pages read back as zeros if the G ever goes that
        // deep again.
        if unsafe { sys::discard_many(&ranges) }.is_ok() {
            done.shrunk += ranges.len();
        }
        done.discarding += sys::thread_cpu_time().saturating_sub(t);
        chunk.iter().for_each(|d| release(d.0));
    }
    // Open the gate. Release: as for the entries.
    GATE_ACTIVE.store(false, Ordering::Release);
}

/// Whether any sampled word of `[addr, addr + len)` is nonzero (the depth probe of "Detecting
/// deep use").
///
/// # Safety
/// The range is mapped and readable, and nobody writes it meanwhile.
#[inline]
unsafe fn page_has_data(addr: usize, len: usize) -> bool {
    let mut acc = 0usize;
    let mut off = len - std::mem::size_of::<usize>();
    loop {
        // SAFETY: inside the range (the caller's contract).
        acc |= unsafe { ptr::read_volatile((addr + off) as *const usize) };
        if off < PROBE_STRIDE {
            break;
        }
        off -= PROBE_STRIDE;
    }
    acc != 0
}

/// Whether any word of `[addr, addr + len)` is nonzero: the shrink pass's depth probe. Unlike
/// [`free`]'s sampled probe (one word in 32, on the spawn/exit path) it reads every word until
/// the first nonzero one: frames of zeroed buffers (1 KiB arrays with a return address every
/// 1 KiB) slip between the samples, and the pass is off every M's path. A page the G never
/// wrote is not resident and never reaches this probe (`resident_probes`).
///
/// # Safety
/// As for [`page_has_data`].
unsafe fn page_written(addr: usize, len: usize) -> bool {
    (addr..addr + len)
        .step_by(std::mem::size_of::<usize>())
        // SAFETY: inside the range (the caller's contract).
        .any(|a| unsafe { ptr::read_volatile(a as *const usize) } != 0)
}

/// Bytes kept below a parked G's stack pointer for the frames of the switch itself (module
/// docs, "Shrinking the stacks of parked Gs"); tests/stacks.rs checks that a park writes
/// nothing below the cut. Measured on x86_64 (a G parked on a fresh stack, the lowest nonzero
/// word): the switch writes 32 bytes below the recorded pointer in release builds, 432 in
/// debug builds; 2 KiB leaves a margin of four times that, and for a typical park a few hundred
/// bytes below a stack's top keeps one page instead of two.
pub const SHRINK_SLACK: usize = 2048;

/// `[lo, cut)`: what a shrink pass discards of the stack of a G parked with stack pointer `sp`
/// (everything from just above the guard up to the page boundary at or below
/// `sp - SHRINK_SLACK`); `None` if `sp` is in no slab stack or that leaves nothing.
fn shrink_range(sp: usize) -> Option<(usize, usize)> {
    let (lo, hi) = stack_of(sp)?;
    if sp <= lo || sp > hi {
        return None;
    }
    let cut = sp.checked_sub(SHRINK_SLACK)? & !(sys::page_size() - 1);
    (cut > lo).then_some((lo, cut))
}

/// `(lo, hi)` of the usable part of the slab stack `addr` lies in (guard excluded), from the
/// lock-free slab table.
fn stack_of(addr: usize) -> Option<(usize, usize)> {
    let page = sys::page_size();
    let n = SLAB_TABLE_NEXT.load(Ordering::Relaxed).min(SLAB_TABLE_LEN);
    for e in &SLAB_TABLE[..n] {
        // Acquire: pairs with the Release store in `register_slab`.
        let lo = e.lo.load(Ordering::Acquire);
        if lo == 0 || addr < lo || addr >= e.hi.load(Ordering::Relaxed) {
            continue;
        }
        let stride = e.stride.load(Ordering::Relaxed);
        let guard = lo + (addr - lo) / stride * stride;
        return Some((guard + page, guard + stride));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_rounding() {
        const K: usize = 1024;
        if sys::page_size() == 4096 {
            assert_eq!(class_of(MIN_STACK_SIZE + 1).unwrap(), 20 * K);
        }
        assert_eq!(class_of(0).unwrap(), MIN_STACK_SIZE);
        assert_eq!(class_of(256 * K).unwrap(), 256 * K);
        assert_eq!(class_of(256 * K + 1).unwrap(), 320 * K);
        assert_eq!(class_of(300 * K).unwrap(), 320 * K);
        assert_eq!(class_of(1 << 30).unwrap(), 1 << 30);
        assert_eq!(class_of((1 << 30) - 1).unwrap(), 1 << 30);
        assert!(class_of((1 << 30) + 1).is_err());
        assert!(class_of(usize::MAX).is_err());
        // Every size maps into a bounded set of classes, each a page multiple and >= the size.
        let mut classes = std::collections::BTreeSet::new();
        let mut size = 1;
        while size <= 1 << 30 {
            for s in [size, size + 1, size * 3 / 2] {
                if let Ok(c) = class_of(s) {
                    assert!(c >= s && c % sys::page_size() == 0, "{s} -> {c}");
                    assert!(s < MIN_STACK_SIZE || c - s < c / 4 + sys::page_size());
                    classes.insert(c);
                }
            }
            size *= 2;
        }
        assert!(classes.len() <= 62, "{} classes", classes.len());
    }

    #[test]
    fn layout_and_guard_lookup() {
        let pool = Pool::with_config(PoolConfig::default());
        let s = pool.alloc(64 * 1024).unwrap();
        let page = sys::page_size();
        let (glo, ghi) = s.guard_range();
        let (slo, shi) = s.stack_range();
        assert_eq!(ghi, slo);
        assert_eq!(ghi - glo, page);
        assert_eq!(shi - slo, 64 * 1024);
        assert_eq!(s.base().get(), shi);
        assert_eq!(s.limit().get(), glo);
        assert_eq!(guard_fault_lookup(glo), Some(64 * 1024));
        assert_eq!(guard_fault_lookup(ghi - 1), Some(64 * 1024));
        assert_eq!(guard_fault_lookup(slo), None);
        assert_eq!(guard_fault_lookup(8), None);
        pool.free(s);
        assert_eq!(pool.live(), 0);
    }

    #[test]
    fn resident_probes_keeps_written_pages_only() {
        let page = sys::page_size();
        // A pool of its own: freshly carved stacks, never touched.
        let pool = Pool::with_config(PoolConfig::default());
        let stacks: Vec<_> = (0..3).map(|_| pool.alloc(64 * 1024).unwrap()).collect();
        // Probe the second page from each stack's top; write it in the middle stack only.
        let mut probes: Vec<(usize, usize)> = stacks
            .iter()
            .enumerate()
            .map(|(i, s)| (s.stack_range().1 - 2 * page, i))
            .collect();
        // SAFETY: a word inside a stack we own, no coroutine on it.
        unsafe { (probes[1].0 as *mut u64).write(7) };
        probes.reverse();
        assert_eq!(resident_probes(&mut probes, 3), [false, true, false]);
        // The probe read nothing: the unwritten pages are still not resident.
        assert_eq!(sys::resident_pages(probes[0].0, page).unwrap(), 0);
        for s in stacks {
            pool.free(s);
        }
    }

    #[test]
    fn cache_is_lifo_and_spills_half() {
        let mut cache = StackCache::default();
        let stacks: Vec<_> = (0..CACHE_CAP + 1)
            .map(|_| alloc(MIN_STACK_SIZE, None).unwrap())
            .collect();
        let last = stacks.last().unwrap().lo;
        for s in stacks {
            free(s, Some(&mut cache));
        }
        assert_eq!(cache.len(), CACHE_CAP / 2 + 1);
        let s = alloc(MIN_STACK_SIZE, Some(&mut cache)).unwrap();
        assert_eq!(s.lo, last);
        free(s, Some(&mut cache));
        cache.drain_to_global();
        assert!(cache.is_empty());
    }

    #[test]
    fn handles_are_send() {
        fn send<T: Send>() {}
        send::<GStack>();
        send::<StackCache>();
        send::<crate::signal::RunningInfo>();
    }

    #[test]
    fn warm_window_discards_the_oldest() {
        let pool = Pool::with_config(PoolConfig::default());
        let n = GLOBAL_WARM + 10;
        let stacks: Vec<_> = (0..n)
            .map(|_| pool.alloc(MIN_STACK_SIZE).unwrap())
            .collect();
        let first = stacks[0].stack_range();
        for s in &stacks {
            let (_, hi) = s.stack_range();
            // SAFETY: the top word of a stack we own, no coroutine on it.
            unsafe { ((hi - 8) as *mut u64).write(1) };
        }
        for s in stacks {
            pool.free(s);
        }
        assert_eq!(pool.stats().releases, 10);
        assert_eq!(sys::resident_pages(first.0, first.1 - first.0).unwrap(), 0);
        // The warm ones come back first, and all are reusable.
        let again: Vec<_> = (0..n)
            .map(|_| pool.alloc(MIN_STACK_SIZE).unwrap())
            .collect();
        assert_eq!(pool.stats().carved, n);
        drop(again);
    }

    #[test]
    fn stats_display() {
        let s = StackStats {
            slabs: 3,
            mapped_bytes: 0,
            in_use: 1000,
            cached_global: 64,
            guard_mode: GuardMode::Madvise,
            carved: 0,
            trims: 0,
            releases: 0,
            shrinks: 0,
        };
        assert_eq!(
            s.to_string(),
            "stacks: slabs=3 inuse=1000 cached=64 guard=madvise"
        );
    }
}

/// Helpers for tests and diagnostics (not part of the engine interface).
#[doc(hidden)]
pub mod testing {
    pub use crate::sys::{map_count, resident_pages};

    /// Runs one shrink pass now, on the calling thread, over every G parked for at least
    /// `min_parked_ms` (no window: each such G is looked at); see `super::shrink_pass`.
    pub fn shrink_now(min_parked_ms: u32) -> super::ShrinkPass {
        super::shrink_pass(min_parked_ms, None)
    }

    /// Resumes so far that found a shrink batch open (and looked for their G in it).
    pub fn gate_waits() -> u64 {
        super::GATE_WAITS.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The stack pointer G `id` parked with (0: not parked, unknown, or no such G).
    pub fn parked_sp_of(id: u64) -> usize {
        let mut sp = 0;
        crate::g::for_each_g(|g| {
            if g.id() == id {
                sp = g.parked_sp();
            }
        });
        sp
    }

    /// `(lo, hi)` of the usable part of the slab stack holding `addr`, if any.
    pub fn stack_of(addr: usize) -> Option<(usize, usize)> {
        super::stack_of(addr)
    }

    /// `[lo, cut)`, what a shrink pass discards of a stack parked at `sp` (see
    /// [`super::SHRINK_SLACK`]).
    pub fn shrink_range(sp: usize) -> Option<(usize, usize)> {
        super::shrink_range(sp)
    }

    /// How many words of `[addr, addr + len)` are nonzero; both must lie in one slab stack's
    /// usable part (checked: panics otherwise). For tests of parked Gs' stacks: the caller
    /// makes sure no G runs on that stack meanwhile (reads racing the G's writes would see
    /// torn values, never fault: the range is mapped).
    pub fn nonzero_words(addr: usize, len: usize) -> usize {
        let (lo, hi) = super::stack_of(addr).expect("not in a slab stack");
        assert!(
            addr >= lo && addr + len <= hi && addr.is_multiple_of(8),
            "range outside the stack"
        );
        (addr..addr + len)
            .step_by(std::mem::size_of::<usize>())
            // SAFETY: inside a slab stack's usable part (checked above), which stays mapped
            // for the life of the process (slabs are never unmapped); volatile, as the
            // compiler must not assume anything about memory another coroutine owns.
            .filter(|&a| unsafe { std::ptr::read_volatile(a as *const usize) } != 0)
            .count()
    }
}

/// Gs spawned in mprotect mode whose stacks are not bound yet (they count against the budget).
static RESERVED: AtomicUsize = AtomicUsize::new(0);

/// The spawn-time check (`Builder::spawn`): errors when the pool is at its `mprotect` budget, so
/// that a spawn past it fails at once with the clear message instead of later, when the G first
/// runs. Stacks are bound lazily, so in mprotect mode each spawn *reserves* one stack until the G
/// binds it ([`unreserve`]); the check counts live plus reserved stacks. In madvise mode there is
/// no budget and nothing is counted. Returns whether a reservation was taken.
pub fn check_capacity(size: usize) -> io::Result<bool> {
    class_of(size)?;
    let pool = global();
    if pool.guard_mode() != GuardMode::Mprotect {
        return Ok(false);
    }
    // Relaxed: an admission counter; a few spawns racing past the exact budget find the limit
    // at bind time instead, with the same message.
    let reserved = RESERVED.fetch_add(1, Ordering::Relaxed);
    if pool.live() + reserved >= pool.budget() {
        RESERVED.fetch_sub(1, Ordering::Relaxed);
        return Err(pool.budget_error());
    }
    Ok(true)
}

/// Releases a reservation taken by [`check_capacity`] (the G bound its stack, or failed to).
pub fn unreserve() {
    RESERVED.fetch_sub(1, Ordering::Relaxed);
}
