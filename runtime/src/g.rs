//! G: a green thread's record, its states, its wait reasons, and the registry of all Gs.
//!
//! # Ownership (the rule every other module relies on)
//!
//! A G is owned by exactly one party at a time, through a [`GRef`] (a unique pointer, like a
//! `Box<G>`). Who holds it is the G's state, as in Go's runtime2.go:
//!
//! | state      | who holds the `GRef`                              | who owns the stack       |
//! |------------|---------------------------------------------------|--------------------------|
//! | `Runnable` | exactly one run queue (a P's runnext or runq, or the global queue) | nobody runs on it |
//! | `Running`  | the M executing it                                | the G itself             |
//! | `Waiting`  | the object it parked on (a channel queue, a timer, a poll descriptor, a join slot) | nobody |
//! | `Dead`     | the M that saw it return, until it frees it       | being returned to the pool |
//!
//! Because ownership is unique, "ready a G twice" cannot be expressed: `ready(g)` consumes the
//! `GRef`. The only other access is read-only: [`G::id`], [`G::name`], and the atomics
//! `status`/`wait_reason`, which the tracer and the deadlock dump read through the registry while
//! holding the registry shard lock (a G leaves the registry, under that lock, before it is freed).
//! Everything mutable that is not atomic lives in [`GOwned`], reachable only through `&mut GRef`.

use crate::coro::Coro;
use crate::loom::atomic::{AtomicU8, AtomicUsize, Ordering};
use crate::loom::Mutex;
use std::any::Any;
use std::cell::UnsafeCell;
use std::ptr::NonNull;
use std::sync::Arc;

/// A G's scheduling state. Numbers are Go's (`_Grunnable` = 1 ...), as printed by scheddetail.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GStatus {
    /// Just created, never scheduled (Go `_Gidle`).
    Idle = 0,
    /// On a run queue; nobody owns its stack.
    Runnable = 1,
    /// Executing on an M that holds a P.
    Running = 2,
    /// Executing on an M inside a blocking call, without a P (the syscall-handoff issue).
    Syscall = 3,
    /// Parked; its `GRef` is held by what it waits on.
    Waiting = 4,
    /// Finished.
    Dead = 6,
}

impl GStatus {
    fn from_u8(v: u8) -> GStatus {
        match v {
            1 => GStatus::Runnable,
            2 => GStatus::Running,
            3 => GStatus::Syscall,
            4 => GStatus::Waiting,
            6 => GStatus::Dead,
            _ => GStatus::Idle,
        }
    }
}

/// Why a G is parked; printed by scheddetail and the deadlock dump in Go's words.
///
/// Do not re-use a reason for a new meaning: add a new one (Go's rule for waitReason).
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum WaitReason {
    /// Not waiting.
    None = 0,
    /// `JoinHandle::join` on an unfinished G.
    Join,
    /// A channel receive.
    ChanReceive,
    /// A channel send.
    ChanSend,
    /// `select!` with no ready arm.
    Select,
    /// `gort::sleep`.
    Sleep,
    /// Waiting for a socket to become ready.
    IoWait,
    /// `sync::Mutex::lock`.
    MutexLock,
    /// `sync::RwLock::read`.
    RwLockRead,
    /// `sync::RwLock::write`.
    RwLockWrite,
    /// `sync::Condvar::wait`.
    CondWait,
    /// `sync::WaitGroup::wait`.
    WaitGroupWait,
    /// `sync::Semaphore::acquire`.
    Semacquire,
    /// `sync::Barrier::wait`.
    BarrierWait,
    /// `sync::Once` while another G runs the initialiser.
    OnceWait,
    /// A G locked to its M waits for that M (LockOSThread).
    LockedThread,
    /// Waiting in `gort::blocking` for a P after the call returned.
    SyscallExit,
}

impl WaitReason {
    /// The reason as Go prints it (`chan receive`, `sync.Mutex.Lock`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            WaitReason::None => "",
            WaitReason::Join => "join",
            WaitReason::ChanReceive => "chan receive",
            WaitReason::ChanSend => "chan send",
            WaitReason::Select => "select",
            WaitReason::Sleep => "sleep",
            WaitReason::IoWait => "IO wait",
            WaitReason::MutexLock => "sync.Mutex.Lock",
            WaitReason::RwLockRead => "sync.RWMutex.RLock",
            WaitReason::RwLockWrite => "sync.RWMutex.Lock",
            WaitReason::CondWait => "sync.Cond.Wait",
            WaitReason::WaitGroupWait => "sync.WaitGroup.Wait",
            WaitReason::Semacquire => "semacquire",
            WaitReason::BarrierWait => "sync.Barrier.Wait",
            WaitReason::OnceWait => "sync.Once.Do",
            WaitReason::LockedThread => "locked thread",
            WaitReason::SyscallExit => "syscall exit",
        }
    }

    fn from_u8(v: u8) -> WaitReason {
        const ALL: [WaitReason; 17] = [
            WaitReason::None,
            WaitReason::Join,
            WaitReason::ChanReceive,
            WaitReason::ChanSend,
            WaitReason::Select,
            WaitReason::Sleep,
            WaitReason::IoWait,
            WaitReason::MutexLock,
            WaitReason::RwLockRead,
            WaitReason::RwLockWrite,
            WaitReason::CondWait,
            WaitReason::WaitGroupWait,
            WaitReason::Semacquire,
            WaitReason::BarrierWait,
            WaitReason::OnceWait,
            WaitReason::LockedThread,
            WaitReason::SyscallExit,
        ];
        ALL.get(v as usize).copied().unwrap_or(WaitReason::None)
    }
}

/// The mutable, non-atomic part of a G: touched only by the holder of the `GRef`.
pub(crate) struct GOwned {
    /// The closure to run, until the G first runs (then moved onto its stack).
    pub(crate) entry: Option<Box<dyn FnOnce() + Send>>,
    /// The coroutine, from the first run until the G is dead.
    pub(crate) coro: Option<Coro>,
    /// This G's slot in its registry shard.
    pub(crate) reg_slot: usize,
}

/// A green thread's record. See the module docs for who may touch what.
pub struct G {
    id: u64,
    name: Option<Arc<str>>,
    stack_size: usize,
    /// Atomic: written by the owner, read (Relaxed) by the tracer and the deadlock check.
    status: AtomicU8,
    /// Atomic: written by the owner before it gives the `GRef` away; read (Relaxed) by the tracer.
    wait_reason: AtomicU8,
    /// Atomic: id of the M running this G, or `usize::MAX`; read (Relaxed) by the tracer.
    m: AtomicUsize,
    /// Only through `&mut GRef` (see [`GRef::owned`]).
    owned: UnsafeCell<GOwned>,
    /// G-local values (`gort::local!`), indexed by key. Touched only by the G itself, on its own
    /// stack, while it runs (see `with_local`), and dropped after it finished.
    locals: UnsafeCell<Vec<Option<Box<dyn Any + Send>>>>,
}

// SAFETY: `G` is shared between threads only as `&G` through the registry (tracer, deadlock dump),
// and those readers touch only `id`, `name`, `stack_size` (immutable after creation) and the
// atomics. `owned` is reached only through `&mut GRef`, of which there is exactly one.
unsafe impl Sync for G {}

impl G {
    /// The G's unique id (never reused; increasing per P batch, like Go's goid).
    pub fn id(&self) -> u64 {
        self.id
    }
    /// The name given with `Builder::name`.
    pub fn name(&self) -> Option<&Arc<str>> {
        self.name.as_ref()
    }
    /// The usable stack size this G asked for.
    pub fn stack_size(&self) -> usize {
        self.stack_size
    }
    /// The current state (a snapshot for tracing; only the owner's view is authoritative).
    pub fn status(&self) -> GStatus {
        GStatus::from_u8(self.status.load(Ordering::Relaxed))
    }
    /// The wait reason, when `status()` is `Waiting`.
    pub fn wait_reason(&self) -> WaitReason {
        WaitReason::from_u8(self.wait_reason.load(Ordering::Relaxed))
    }
    /// The id of the M running this G, if any.
    pub fn m_id(&self) -> Option<usize> {
        let m = self.m.load(Ordering::Relaxed);
        (m != usize::MAX).then_some(m)
    }
}

impl G {
    /// Runs `f` on the value of G-local key `idx` of this G, creating it with `init` first.
    ///
    /// # Safety
    /// Must be called only by the G itself while it runs (on its own stack): that is what makes
    /// the unsynchronised access to `locals` exclusive.
    pub(crate) unsafe fn with_local<R>(
        &self,
        idx: usize,
        init: impl FnOnce() -> Box<dyn Any + Send>,
        f: impl FnOnce(&(dyn Any + Send)) -> R,
    ) -> R {
        let lookup = || -> Option<*const (dyn Any + Send)> {
            // SAFETY: only this G touches `locals` (caller's contract), and no other borrow of
            // it is live: each access is a short borrow that ends before user code runs.
            let v = unsafe { &*self.locals.get() };
            v.get(idx)?.as_deref().map(|b| b as *const (dyn Any + Send))
        };
        let p = match lookup() {
            Some(p) => p,
            None => {
                // The initialiser is user code and may touch other keys: run it with no borrow.
                let value = init();
                // SAFETY: as in `lookup`.
                let v = unsafe { &mut *self.locals.get() };
                if v.len() <= idx {
                    v.resize_with(idx + 1, || None);
                }
                if v[idx].is_none() {
                    v[idx] = Some(value);
                }
                v[idx]
                    .as_deref()
                    .map(|b| b as *const (dyn Any + Send))
                    .unwrap()
            }
        };
        // SAFETY: the value is boxed, so its address is stable while the vector grows, and it is
        // removed only by `take_locals` after the G's closure returned, never while `f` runs on
        // the G.
        f(unsafe { &*p })
    }

    /// Takes every G-local value out (to drop them at G exit).
    ///
    /// # Safety
    /// As for [`G::with_local`]: only the G itself, on its own stack.
    pub(crate) unsafe fn take_locals(&self) -> Vec<Option<Box<dyn Any + Send>>> {
        // SAFETY: caller's contract; the borrow ends before the values are dropped.
        std::mem::take(unsafe { &mut *self.locals.get() })
    }
}

/// The unique owning handle of a G (see the module docs). Moving it moves the G's ownership.
pub struct GRef(NonNull<G>);

// SAFETY: a `GRef` is a unique owner, like `Box<G>`. Everything a G contains is `Send`: the entry
// closure is `Send` by its bound, the name is `Arc<str>`, and the coroutine is `Send` under the
// migration contract documented in coro.rs (the one place that asserts it).
unsafe impl Send for GRef {}

impl std::ops::Deref for GRef {
    type Target = G;
    #[inline]
    fn deref(&self) -> &G {
        // SAFETY: the pointer came from `Box::into_raw` in `GRef::new` and is freed only by
        // `GRef`'s drop, so it is valid while this `GRef` exists.
        unsafe { self.0.as_ref() }
    }
}

impl GRef {
    /// Creates a G (status `Idle`) and registers it in the registry.
    pub(crate) fn new(
        id: u64,
        name: Option<Arc<str>>,
        stack_size: usize,
        entry: Box<dyn FnOnce() + Send>,
    ) -> GRef {
        let g = Box::new(G {
            id,
            name,
            stack_size,
            status: AtomicU8::new(GStatus::Idle as u8),
            wait_reason: AtomicU8::new(WaitReason::None as u8),
            m: AtomicUsize::new(usize::MAX),
            locals: UnsafeCell::new(Vec::new()),
            owned: UnsafeCell::new(GOwned {
                entry: Some(entry),
                coro: None,
                reg_slot: usize::MAX,
            }),
        });
        let mut g = GRef(NonNull::from(Box::leak(g)));
        let slot = registry_insert(&g);
        g.owned().reg_slot = slot;
        g
    }

    /// The mutable part of the G. Only the holder of the unique `GRef` gets here.
    #[inline]
    pub(crate) fn owned(&mut self) -> &mut GOwned {
        // SAFETY: `&mut self` proves we hold the only `GRef`; nobody else reaches `owned` (the
        // registry readers touch only immutable fields and atomics).
        unsafe { &mut *self.0.as_ref().owned.get() }
    }

    #[inline]
    pub(crate) fn set_status(&self, s: GStatus) {
        // Relaxed: the status is a label for tracing; the hand-over of the G itself is ordered by
        // whatever moves the `GRef` (a queue's or a lock's release/acquire).
        self.status.store(s as u8, Ordering::Relaxed);
    }

    #[inline]
    pub(crate) fn set_wait_reason(&self, r: WaitReason) {
        self.wait_reason.store(r as u8, Ordering::Relaxed);
    }

    #[inline]
    pub(crate) fn set_m(&self, m: Option<usize>) {
        self.m.store(m.unwrap_or(usize::MAX), Ordering::Relaxed);
    }

    /// Gives up ownership as a raw pointer (for `runnext`, an `AtomicPtr`).
    #[inline]
    pub(crate) fn into_raw(self) -> *mut G {
        let p = self.0.as_ptr();
        std::mem::forget(self);
        p
    }

    /// Takes ownership back from a raw pointer.
    ///
    /// # Safety
    /// `p` must come from [`GRef::into_raw`], and this must be the only `from_raw` for that
    /// `into_raw` (ownership moves through the raw pointer exactly once).
    #[inline]
    pub(crate) unsafe fn from_raw(p: *mut G) -> GRef {
        // SAFETY: non-null because it came from a `NonNull` in `into_raw` (caller's contract).
        GRef(unsafe { NonNull::new_unchecked(p) })
    }
}

impl Drop for GRef {
    fn drop(&mut self) {
        let slot = self.owned().reg_slot;
        // Leave the registry first, under its shard lock, so no tracer holds `&G` when we free it.
        registry_remove(self.id, slot);
        // SAFETY: we are the unique owner (see `GRef`), the pointer came from `Box::leak`, and
        // nobody else can reach the G: it left the registry above.
        drop(unsafe { Box::from_raw(self.0.as_ptr()) });
    }
}

impl std::fmt::Debug for GRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "G{}", self.id)
    }
}

// ---------------------------------------------------------------------------------------------
// G ids: unique, increasing within a batch. Like Go, Ps take ids in batches of 16 so that spawning
// does not contend on one counter.

// A process static, so not a loom object (ids need only uniqueness; not modelled).
static NEXT_GOID: crate::loom::unmodelled::AtomicU64 = crate::loom::unmodelled::AtomicU64::new(1);
const GOID_BATCH: u64 = 16;

/// A P's cached batch of G ids.
#[derive(Default, Debug)]
pub(crate) struct GoidBatch {
    next: u64,
    end: u64,
}

impl GoidBatch {
    pub(crate) fn next(&mut self) -> u64 {
        if self.next == self.end {
            // Relaxed: only uniqueness matters, which the RMW gives.
            self.next = NEXT_GOID.fetch_add(GOID_BATCH, Ordering::Relaxed);
            self.end = self.next + GOID_BATCH;
        }
        let id = self.next;
        self.next += 1;
        id
    }
}

/// A G id taken outside any P (a spawn from a plain thread).
pub(crate) fn goid_single() -> u64 {
    NEXT_GOID.fetch_add(1, Ordering::Relaxed)
}

// ---------------------------------------------------------------------------------------------
// The registry (Go's allgs): every live G, so that scheddetail and the deadlock dump can list them.
// Sharded by id to keep spawn/exit on different Ps from contending.

const SHARDS: usize = 32;

struct GPtr(*const G);
// SAFETY: the pointer is only dereferenced under the shard lock, for the immutable fields and
// atomics of a G that is still registered (see the module docs); a G leaves before it is freed.
unsafe impl Send for GPtr {}

struct Shard {
    slots: Vec<GPtr>,
    free: Vec<usize>,
    live: usize,
}

#[cfg(not(loom))]
static REGISTRY: [Mutex<Shard>; SHARDS] = [const {
    Mutex::new(Shard {
        slots: Vec::new(),
        free: Vec::new(),
        live: 0,
    })
}; SHARDS];

#[cfg(not(loom))]
fn registry() -> &'static [Mutex<Shard>; SHARDS] {
    &REGISTRY
}

// Under `--cfg loom` the registry is a no-op: it is a process static (loom objects may not
// outlive one model execution), it only serves the tracer and the deadlock dump, and no model
// checks it (docs/loom.md, "Seams").
#[cfg(loom)]
fn registry_insert(_g: &GRef) -> usize {
    usize::MAX
}
#[cfg(loom)]
fn registry_remove(_id: u64, _slot: usize) {}
/// Calls `f` on every live G (under loom: none; the registry is not modelled).
#[cfg(loom)]
pub fn for_each_g(_f: impl FnMut(&G)) {}
/// The number of live Gs (under loom: 0; the registry is not modelled).
#[cfg(loom)]
pub fn registry_count() -> usize {
    0
}

#[cfg(not(loom))]
fn registry_insert(g: &GRef) -> usize {
    let mut s = registry()[(g.id as usize) % SHARDS].lock();
    s.live += 1;
    let p = GPtr(&**g as *const G);
    match s.free.pop() {
        Some(i) => {
            s.slots[i] = p;
            i
        }
        None => {
            s.slots.push(p);
            s.slots.len() - 1
        }
    }
}

#[cfg(not(loom))]
fn registry_remove(id: u64, slot: usize) {
    let mut s = registry()[(id as usize) % SHARDS].lock();
    s.slots[slot] = GPtr(std::ptr::null());
    s.free.push(slot);
    s.live -= 1;
    // Give memory back after a burst: when the shard is mostly empty, shrink what can be shrunk.
    if s.live == 0 && s.slots.len() > 1024 {
        s.slots = Vec::new();
        s.free = Vec::new();
    }
}

#[cfg(not(loom))]
/// Calls `f` on every live G, one registry shard lock at a time (a consistent view per shard,
/// not across shards: the dump is a snapshot in progress, like Go's).
pub fn for_each_g(mut f: impl FnMut(&G)) {
    for shard in registry() {
        let s = shard.lock();
        for p in &s.slots {
            if !p.0.is_null() {
                // SAFETY: non-null slots hold registered Gs, which are not freed while registered,
                // and we hold the shard lock that removal takes (see `GRef::drop`).
                f(unsafe { &*p.0 });
            }
        }
    }
}

#[cfg(not(loom))]
/// The number of live Gs, counted from the registry (exact, but takes every shard lock).
pub fn registry_count() -> usize {
    registry().iter().map(|s| s.lock().live).sum()
}
