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
//! Everything mutable that is not atomic lives in `GOwned`, reachable only through `&mut GRef`.

use crate::coro::Coro;
use crate::loom::atomic::{AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::any::Any;
use std::cell::UnsafeCell;
use std::panic::Location;
use std::ptr::NonNull;
use std::sync::atomic::AtomicPtr;
use std::sync::Arc;

/// A source location the compiler gives `#[track_caller]` functions: where a G was spawned or
/// where it waits. A `'static` pointer: storing one costs no allocation.
pub type Site = &'static Location<'static>;

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
    /// Waiting to enter `gort::blocking` while `GORT_MAXBLOCKING` calls are in progress.
    BlockingPool,
    /// `WaitGroup::wait` on a wait group bound to the G's synctest bubble, an errgroup's or a
    /// scope's wait inside a bubble (durably blocking).
    WaitGroupWaitDurable,
    /// `JoinHandle::join` on a G of the caller's synctest bubble (durably blocking).
    JoinDurable,
    /// `gort::synctest::wait` (Go's `synctest.Wait`).
    SynctestWait,
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
            WaitReason::BlockingPool => "blocking pool",
            WaitReason::WaitGroupWaitDurable => "sync.WaitGroup.Wait (durable)",
            WaitReason::JoinDurable => "join (durable)",
            WaitReason::SynctestWait => "synctest.Wait",
        }
    }

    pub(crate) fn from_u8(v: u8) -> WaitReason {
        const ALL: [WaitReason; 21] = [
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
            WaitReason::BlockingPool,
            WaitReason::WaitGroupWaitDurable,
            WaitReason::JoinDurable,
            WaitReason::SynctestWait,
        ];
        ALL.get(v as usize).copied().unwrap_or(WaitReason::None)
    }
}

/// The mutable, non-atomic part of a G: touched only by the holder of the `GRef`.
pub(crate) struct GOwned {
    /// What to run, until the G first runs (then moved onto its stack).
    pub(crate) entry: Option<Entry>,
    /// The coroutine, from the first run until the G is dead.
    pub(crate) coro: Option<Coro>,
    /// The G holds a stack reservation (mprotect budget, see `stack::check_capacity`) until its
    /// stack is bound.
    pub(crate) stack_reserved: bool,
    /// `/sched/latencies:seconds` sampling (metrics.rs, "The latency histogram"): the G's count
    /// of times it became runnable, and when (a `metrics::stamp`) it last did so on a sampled
    /// turn (0: this turn is not sampled).
    pub(crate) track_seq: u8,
    pub(crate) runnable_at: u64,
}

/// A green thread's record. See the module docs for who may touch what.
pub struct G {
    /// Atomic, Relaxed: rewritten only when a dead G record is reused (under its shard lock).
    id: AtomicU64,
    /// Written only when a dead G record is reused, under its registry shard lock; read by the
    /// holder of the `GRef`, by the G itself while it runs, or under the shard lock.
    name: UnsafeCell<Option<Arc<str>>>,
    /// Where the G was spawned and by which G (0: a plain thread). Written, as `name`, only when
    /// the record is (re)used, under its shard lock.
    spawn: UnsafeCell<SpawnInfo>,
    /// Atomic, Relaxed: as `id`.
    stack_size: AtomicUsize,
    /// The registry shard and slot of this record (fixed for the record's life). The shard is
    /// a byte (`SHARDS` is 32) so that the synctest key fits the padding: the record stays 240
    /// bytes.
    shard: u8,
    slot: u32,
    /// Atomic: written by the owner, read (Relaxed) by the tracer and the deadlock check.
    status: AtomicU8,
    /// Atomic: written by the owner before it gives the `GRef` away; read (Relaxed) by the tracer.
    wait_reason: AtomicU8,
    /// The synctest bubble this G belongs to (`bubble.rs`: a key of its table), 0 for none.
    /// Written by the spawner before the G is first made runnable (and cleared when the record
    /// is reused); read (Relaxed) by whoever holds the `GRef` (`ready` routes the G to its
    /// bubble), ordered by the hand-over of the `GRef`. In the padding after the two bytes
    /// above: the record does not grow.
    bubble: AtomicU32,
    /// Atomic, Relaxed: when the G last parked, in `sysmon::coarse_ms` (the dump's "for 3s").
    wait_since: AtomicU32,
    /// Atomic, Relaxed: the user's source line of the blocking call the G parked in (null: not
    /// known), written with the wait reason; read by the dump.
    wait_site: AtomicPtr<Location<'static>>,
    /// Atomic, Relaxed: what the G waits on, encoded ([`WaitObj::encode`]); written with the wait
    /// reason, read by the dump. An address in it is an identity only, never dereferenced.
    wait_obj: AtomicUsize,
    wait_aux: AtomicU64,
    /// Atomic: id of the M running this G, or `usize::MAX`; read (Relaxed) by the tracer.
    m: AtomicUsize,
    /// Atomic, Relaxed: the G's stack pointer at its last park (`ParkFn::addr`), 0 if it last
    /// suspended otherwise. Written by the M that ran the G, right after the switch and before
    /// it marks the G `Waiting`; read by the readier (a prefetch hint) and by the stack
    /// shrinking (stack.rs, which reads it only while it holds the G off every M and after a
    /// heavy barrier, so it sees this park's value).
    parked_sp: AtomicUsize,
    /// LockOSThread: the M this G is wired to (M id + 1; 0 = none) and the nesting count.
    /// Written only by the G itself while it runs; read (Relaxed) by the M that picks it.
    pub(crate) locked_m: AtomicUsize,
    pub(crate) lock_count: AtomicUsize,
    /// Only through `&mut GRef` (see [`GRef::owned`]).
    owned: UnsafeCell<GOwned>,
    /// G-local values (`gort::local!`), indexed by key. Touched only by the G itself, on its own
    /// stack, while it runs (see `with_local`), and dropped after it finished.
    /// Boxed on first use: most Gs have none, and the record must stay one 256-byte chunk.
    locals: UnsafeCell<Option<Box<Locals>>>,
}

/// A G's `gort::local!` values, by key.
type Locals = Vec<Option<Box<dyn Any + Send>>>;

/// Where and by whom a G was spawned (the dump's `created by` line).
#[derive(Clone, Copy, Debug)]
pub struct SpawnInfo {
    /// The `spawn`/`Builder::spawn` call (`#[track_caller]`).
    pub site: Option<Site>,
    /// The spawning G's id; 0 when a plain thread spawned it.
    pub parent: u64,
}

impl SpawnInfo {
    /// Unknown site, no parent (the loom models' Gs).
    pub const NONE: SpawnInfo = SpawnInfo {
        site: None,
        parent: 0,
    };
}

/// What a parked G waits on, as the dump prints it. Addresses are identities (printed, never
/// dereferenced: the object may be gone by the time anyone reads them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum WaitObj {
    /// Nothing recorded.
    None,
    /// A channel (its address: `chan_id`) and its capacity (`None`: unbounded). While the G is
    /// parked on it alone, its length is 0 for a receive and `cap` for a send.
    Chan {
        /// The channel's identity.
        id: usize,
        /// Its capacity.
        cap: Option<usize>,
    },
    /// A gort `Mutex`/`RwLock` (the address of the semaphore its waiters queue on): the dump
    /// finds its owner in the table of contended locks (dump.rs).
    Lock(usize),
    /// `JoinHandle::join` of G `goid`.
    Join(u64),
    /// `select!` over `n` channel arms.
    Select(usize),
}

const OBJ_TAG_SHIFT: u32 = 61;
const OBJ_LOW: u64 = (1 << OBJ_TAG_SHIFT) - 1;

impl WaitObj {
    /// The two words the G record keeps (`wait_obj`, `wait_aux`).
    #[inline(always)]
    pub(crate) fn encode(self) -> (usize, u64) {
        let tag = |t: u64, low: u64| (t << OBJ_TAG_SHIFT) | (low & OBJ_LOW);
        match self {
            WaitObj::None => (0, 0),
            WaitObj::Chan { id, cap } => (id, tag(1, cap.map_or(OBJ_LOW, |c| c as u64))),
            WaitObj::Lock(a) => (a, tag(2, 0)),
            WaitObj::Join(g) => (0, tag(3, g)),
            WaitObj::Select(n) => (0, tag(4, n as u64)),
        }
    }

    fn decode(obj: usize, aux: u64) -> WaitObj {
        let low = aux & OBJ_LOW;
        match aux >> OBJ_TAG_SHIFT {
            1 => WaitObj::Chan {
                id: obj,
                cap: (low != OBJ_LOW).then_some(low as usize),
            },
            2 => WaitObj::Lock(obj),
            3 => WaitObj::Join(low),
            4 => WaitObj::Select(low as usize),
            _ => WaitObj::None,
        }
    }
}

// SAFETY: `G` is shared between threads only as `&G` through the registry (tracer, deadlock dump),
// and those readers touch only `id`, `name`, `stack_size` (immutable after creation) and the
// atomics. `owned` is reached only through `&mut GRef`, of which there is exactly one.
unsafe impl Sync for G {}

impl G {
    /// The G's unique id (never reused; increasing per P batch, like Go's goid).
    pub fn id(&self) -> u64 {
        self.id.load(Ordering::Relaxed)
    }
    /// The name given with `Builder::name`.
    pub fn name(&self) -> Option<&Arc<str>> {
        // SAFETY: `name` changes only in `GRef::reuse`, which needs the unique `GRef` of a dead
        // G and holds the shard lock; every `&G` reader is either that holder, the running G
        // itself, or a registry reader under the shard lock (module docs).
        unsafe { (*self.name.get()).as_ref() }
    }
    /// The usable stack size this G asked for.
    pub fn stack_size(&self) -> usize {
        self.stack_size.load(Ordering::Relaxed)
    }
    /// The current state (a snapshot for tracing; only the owner's view is authoritative).
    pub fn status(&self) -> GStatus {
        GStatus::from_u8(self.status.load(Ordering::Relaxed))
    }
    /// The stack pointer of the G's last park, 0 if it last suspended otherwise (see the
    /// field's note for when a reader may rely on it).
    #[inline]
    pub(crate) fn parked_sp(&self) -> usize {
        self.parked_sp.load(Ordering::Relaxed)
    }
    /// The wait reason, when `status()` is `Waiting`.
    pub fn wait_reason(&self) -> WaitReason {
        WaitReason::from_u8(self.wait_reason.load(Ordering::Relaxed))
    }
    /// The key of the synctest bubble this G belongs to (0: none; see `bubble.rs`).
    #[inline]
    pub(crate) fn bubble_key(&self) -> u32 {
        self.bubble.load(Ordering::Relaxed)
    }
    /// Where the registry keeps this record (fixed for the record's life): for [`with_registered`].
    pub(crate) fn registry_pos(&self) -> (usize, usize) {
        (self.shard as usize, self.slot as usize)
    }
    /// Where the G was spawned, and by which G.
    pub fn spawn_info(&self) -> SpawnInfo {
        // SAFETY: as for `name`: written only in `GRef::reuse`, by the holder of a dead G's
        // unique `GRef` under its shard lock, which every other reader holds.
        unsafe { *self.spawn.get() }
    }
    /// The user's source line of the blocking call the G last parked in.
    pub fn wait_site(&self) -> Option<Site> {
        let p = self.wait_site.load(Ordering::Relaxed);
        // SAFETY: the pointer is null or came from a `&'static Location` (`set_wait`).
        (!p.is_null()).then(|| unsafe { &*p })
    }
    /// What the G waits on (meaningful while `status()` is `Waiting`).
    pub fn wait_obj(&self) -> WaitObj {
        WaitObj::decode(
            self.wait_obj.load(Ordering::Relaxed),
            self.wait_aux.load(Ordering::Relaxed),
        )
    }
    /// When the G last parked, in `sysmon::coarse_ms` milliseconds.
    pub fn wait_since_ms(&self) -> u32 {
        self.wait_since.load(Ordering::Relaxed)
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
    // SAFETY: callers uphold the `# Safety` contract in this function's docs.
    pub(crate) unsafe fn with_local<R>(
        &self,
        idx: usize,
        init: impl FnOnce() -> Box<dyn Any + Send>,
        f: impl FnOnce(&(dyn Any + Send)) -> R,
    ) -> R {
        let lookup = || -> Option<*const (dyn Any + Send)> {
            // SAFETY: only this G touches `locals` (caller's contract), and no other borrow of
            // it is live: each access is a short borrow that ends before user code runs.
            let v = unsafe { &*self.locals.get() }.as_deref()?;
            v.get(idx)?.as_deref().map(|b| b as *const (dyn Any + Send))
        };
        let p = match lookup() {
            Some(p) => p,
            None => {
                // The initialiser is user code and may touch other keys: run it with no borrow.
                let value = init();
                // SAFETY: as in `lookup`.
                let v = unsafe { &mut *self.locals.get() }.get_or_insert_with(Default::default);
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

    /// True if the G ever made a G-local value (its table exists, possibly emptied).
    ///
    /// # Safety
    /// As for [`G::with_local`]: only the G itself, on its own stack.
    // SAFETY: callers uphold the `# Safety` contract in this function's docs.
    #[inline]
    pub(crate) unsafe fn has_locals(&self) -> bool {
        // SAFETY: caller's contract; a read of the `Option`'s tag, no borrow kept.
        unsafe { (*self.locals.get()).is_some() }
    }

    /// Takes every G-local value out (to drop them at G exit).
    ///
    /// # Safety
    /// As for [`G::with_local`]: only the G itself, on its own stack.
    // SAFETY: callers uphold the `# Safety` contract in this function's docs.
    pub(crate) unsafe fn take_locals(&self) -> Locals {
        // SAFETY: caller's contract; the borrow ends before the values are dropped.
        unsafe { &mut *self.locals.get() }
            .take()
            .map(|b| *b)
            .unwrap_or_default()
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
    /// Creates a G (status `Idle`) running `entry`: a dead record from `cache` (or the global
    /// free list) if there is one, else a new record, registered once for its whole life.
    pub(crate) fn alloc(
        cache: Option<&mut GCache>,
        id: u64,
        name: Option<Arc<str>>,
        spawn: SpawnInfo,
        stack_size: usize,
        entry: Entry,
    ) -> GRef {
        if let Some(mut g) = cache.and_then(|c| c.get()) {
            g.reuse(id, name, spawn, stack_size);
            let o = g.owned();
            o.entry = Some(entry);
            o.track_seq = id as u8;
            o.runnable_at = 0;
            return g;
        }
        // One hold of the shard lock reserves the slot and publishes the new record in it.
        let p = registry_insert(id, |shard, slot| G {
            id: AtomicU64::new(id),
            name: UnsafeCell::new(name),
            spawn: UnsafeCell::new(spawn),
            stack_size: AtomicUsize::new(stack_size),
            shard,
            slot,
            status: AtomicU8::new(GStatus::Idle as u8),
            wait_reason: AtomicU8::new(WaitReason::None as u8),
            bubble: AtomicU32::new(0),
            wait_since: AtomicU32::new(0),
            wait_site: AtomicPtr::new(std::ptr::null_mut()),
            wait_obj: AtomicUsize::new(0),
            wait_aux: AtomicU64::new(0),
            m: AtomicUsize::new(usize::MAX),
            parked_sp: AtomicUsize::new(0),
            locked_m: AtomicUsize::new(0),
            lock_count: AtomicUsize::new(0),
            locals: UnsafeCell::new(None),
            owned: UnsafeCell::new(GOwned {
                entry: Some(entry),
                coro: None,
                stack_reserved: false,
                track_seq: id as u8,
                runnable_at: 0,
            }),
        });
        GRef(p)
    }

    /// Re-initialises a dead record for a new G (Go reuses dead Gs the same way, `gfget`).
    fn reuse(&mut self, id: u64, name: Option<Arc<str>>, spawn: SpawnInfo, stack_size: usize) {
        let old = {
            let _shard = registry()[self.shard as usize].lock();
            self.id.store(id, Ordering::Relaxed);
            self.stack_size.store(stack_size, Ordering::Relaxed);
            self.wait_reason
                .store(WaitReason::None as u8, Ordering::Relaxed);
            self.bubble.store(0, Ordering::Relaxed);
            self.m.store(usize::MAX, Ordering::Relaxed);
            self.locked_m.store(0, Ordering::Relaxed);
            self.lock_count.store(0, Ordering::Relaxed);
            self.status.store(GStatus::Idle as u8, Ordering::Relaxed);
            self.set_wait(WaitReason::None, None, WaitObj::None);
            // SAFETY: we hold the unique `GRef` of a dead G and its shard lock, which every
            // other reader of `name` and `spawn` holds (see `G::name`).
            unsafe { *self.0.as_ref().spawn.get() = spawn };
            // SAFETY: as above.
            std::mem::replace(unsafe { &mut *self.0.as_ref().name.get() }, name)
        };
        drop(old);
        // A G's locals are dropped by that G, on its own stack, before it ends (join.rs steps 2
        // and 6): none is left here. Should one be (an engine bug), dropping it now would run its
        // destructor inside another G's spawn, so it is leaked instead.
        // SAFETY: a dead G runs no code, so nobody else touches its locals; we hold its `GRef`.
        let left = unsafe { self.take_locals() };
        debug_assert!(left.is_empty(), "a dead G record still held G-local values");
        std::mem::forget(left);
    }

    /// The mutable part of the G. Only the holder of the unique `GRef` gets here.
    #[inline]
    pub(crate) fn owned(&mut self) -> &mut GOwned {
        // SAFETY: `&mut self` proves we hold the only `GRef`; nobody else reaches `owned` (the
        // registry readers touch only immutable fields and atomics).
        unsafe { &mut *self.0.as_ref().owned.get() }
    }

    #[inline]
    pub(crate) fn set_status_shared(g: &G, s: GStatus) {
        g.status.store(s as u8, Ordering::Relaxed);
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

    /// Makes the G a member of the bubble with key `key` (the spawner, before the G first runs).
    #[inline]
    pub(crate) fn set_bubble_key(&self, key: u32) {
        self.bubble.store(key, Ordering::Relaxed);
    }

    /// Records why, where (the user's line) and on what the G parks, and when (coarse clock).
    /// Relaxed stores: labels for the dump, like the status.
    #[inline(always)]
    pub(crate) fn set_wait(&self, r: WaitReason, site: Option<Site>, obj: WaitObj) {
        let site = site.map_or(std::ptr::null_mut(), |l| {
            l as *const Location<'static> as *mut _
        });
        self.set_wait_raw(r, site, obj.encode());
    }

    /// [`GRef::set_wait`] with the site and object already in the record's form (what a park
    /// callback carries: no encoding on the M).
    #[inline(always)]
    pub(crate) fn set_wait_raw(
        &self,
        r: WaitReason,
        site: *mut Location<'static>,
        obj: (usize, u64),
    ) {
        self.wait_reason.store(r as u8, Ordering::Relaxed);
        self.wait_site.store(site, Ordering::Relaxed);
        self.wait_obj.store(obj.0, Ordering::Relaxed);
        self.wait_aux.store(obj.1, Ordering::Relaxed);
        self.wait_since
            .store(crate::sysmon::coarse_ms(), Ordering::Relaxed);
    }

    /// Records the stack pointer of the park the G just switched out in (0: it did not park);
    /// see the field.
    #[inline]
    pub(crate) fn set_parked_sp(&self, sp: usize) {
        self.parked_sp.store(sp, Ordering::Relaxed);
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
    // SAFETY: callers uphold the `# Safety` contract in this function's docs.
    pub(crate) unsafe fn from_raw(p: *mut G) -> GRef {
        // SAFETY: non-null because it came from a `NonNull` in `into_raw` (caller's contract).
        GRef(unsafe { NonNull::new_unchecked(p) })
    }
}

impl Drop for GRef {
    fn drop(&mut self) {
        // Only dead Gs (their coroutine finished and taken by `gdestroy`) and Gs that never ran
        // are freed. Dropping a suspended coroutine would make corosensei unwind the G's stack
        // here, on whatever thread drops it, outside the G: its destructors would not run as
        // that G (issue 15, item 5). The engine never does this; stop loudly if it happens.
        if self.owned().coro.is_some() {
            crate::fatal::fatal!(
                "G{} was dropped while suspended (its owner, an Unparker, was dropped instead of \
                 unparked); this is a gort bug",
                self.id()
            );
        }
        // Leave the registry first, under its shard lock, so no tracer holds `&G` when we free it.
        registry_remove(self.shard as usize, self.slot as usize);
        // SAFETY: we are the unique owner (see `GRef`), the pointer came from `Box::leak`, and
        // nobody else can reach the G: it left the registry above.
        drop(unsafe { Box::from_raw(self.0.as_ptr()) });
    }
}

impl std::fmt::Debug for GRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "G{}", self.id())
    }
}

// ---------------------------------------------------------------------------------------------
// G ids: unique, increasing within a batch. Like Go, Ps take ids in batches of 16 so that spawning
// does not contend on one counter.

// Process statics use the std types even under `--cfg loom` (`loom::unmodelled`): loom objects
// may not outlive one model execution, and none of these is part of a model (docs/loom.md).
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

const SHARDS: usize = 32; // fits `G::shard` (a u8)

struct GPtr(*const G);
// SAFETY: the pointer is only dereferenced under the shard lock, for the immutable fields and
// atomics of a G that is still registered (see the module docs); a G leaves before it is freed.
unsafe impl Send for GPtr {}

struct Shard {
    slots: Vec<GPtr>,
    free: Vec<usize>,
    live: usize,
}

static REGISTRY: [crate::loom::unmodelled::Mutex<Shard>; SHARDS] = [const {
    crate::loom::unmodelled::Mutex::new(Shard {
        slots: Vec::new(),
        free: Vec::new(),
        live: 0,
    })
}; SHARDS];

fn registry() -> &'static [crate::loom::unmodelled::Mutex<Shard>; SHARDS] {
    &REGISTRY
}

/// Picks a shard (round-robin by id), reserves a slot in it, makes the record for that shard
/// and slot with `make` (boxed: the record's address is fixed for its life) and publishes it
/// there, all in one hold of the shard lock (a fresh record used to take it twice).
fn registry_insert(id: u64, make: impl FnOnce(u8, u32) -> G) -> NonNull<G> {
    let shard = (id as usize) % SHARDS;
    let mut s = registry()[shard].lock();
    let slot = match s.free.pop() {
        Some(i) => i,
        None => {
            s.slots.push(GPtr(std::ptr::null()));
            s.slots.len() - 1
        }
    };
    let slot32 = u32::try_from(slot)
        .unwrap_or_else(|_| crate::fatal::fatal!("more than 2^32 G records in one registry shard"));
    let g = NonNull::from(Box::leak(Box::new(make(shard as u8, slot32))));
    s.live += 1;
    s.slots[slot] = GPtr(g.as_ptr());
    g
}

fn registry_remove(shard: usize, slot: usize) {
    let mut s = registry()[shard].lock();
    s.slots[slot] = GPtr(std::ptr::null());
    s.free.push(slot);
    s.live -= 1;
    // Give memory back after a burst: when the shard is empty, drop its tables.
    if s.live == 0 && s.slots.len() > 1024 {
        s.slots = Vec::new();
        s.free = Vec::new();
    }
}

/// Calls `f` on every live G, one registry shard lock at a time (a consistent view per shard,
/// not across shards: the dump is a snapshot in progress, like Go's).
///
/// A shard's lock is held for at most [`WALK_CHUNK`] slots at a time, so a walk over a million
/// Gs (the dump) delays a spawn or an exit in that shard by microseconds, not milliseconds;
/// `f` must be short (copy what it needs; format later).
pub fn for_each_g(mut f: impl FnMut(&G)) {
    walk_from(0, |g| {
        f(g);
        false
    });
}

/// Runs `f` on the live G with id `id`, if there is one, under its shard lock, and stops
/// there. A fresh record sits in shard `id % SHARDS`, so that shard is searched first; a
/// reused record keeps the shard it was made in, so the others follow. For sysmon's hog
/// report, which used to walk the whole registry (a million slots during a spawn burst) to
/// name one G.
pub(crate) fn find_g<R>(id: u64, f: impl FnOnce(&G) -> R) -> Option<R> {
    let mut f = Some(f);
    let mut r = None;
    walk_from((id as usize) % SHARDS, |g| {
        if g.id() != id {
            return false;
        }
        r = f.take().map(|f| f(g));
        true
    });
    r
}

/// The registry walk of [`for_each_g`] and [`find_g`]: every shard from `first` on (wrapping),
/// [`WALK_CHUNK`] slots per hold of a shard lock, until `f` returns true (then true).
fn walk_from(first: usize, mut f: impl FnMut(&G) -> bool) -> bool {
    for shard in (0..SHARDS).map(|i| &registry()[(first + i) % SHARDS]) {
        let mut at = 0;
        loop {
            let s = shard.lock();
            let end = s.slots.len().min(at + WALK_CHUNK);
            for p in &s.slots[at.min(end)..end] {
                // SAFETY: non-null slots hold registered Gs, which are not freed while
                // registered, and we hold the shard lock that removal takes (`GRef::drop`).
                if !p.0.is_null() && f(unsafe { &*p.0 }) {
                    return true;
                }
            }
            if end >= s.slots.len() {
                break;
            }
            at = end;
        }
    }
    false
}

/// Runs `f` on the G registered at `pos` (`G::registry_pos`) if it still has id `id`, under its
/// shard lock (the record cannot be freed meanwhile). For the synctest loop, which reads the
/// wait reason of a G it no longer holds (the G is parked; its owner is what it waits on).
pub(crate) fn with_registered<R>(
    pos: (usize, usize),
    id: u64,
    f: impl FnOnce(&G) -> R,
) -> Option<R> {
    let s = registry()[pos.0].lock();
    let p = s.slots.get(pos.1)?;
    if p.0.is_null() {
        return None;
    }
    // SAFETY: as in `for_each_g`: a non-null slot holds a registered G, not freed while we hold
    // the shard lock.
    let g = unsafe { &*p.0 };
    (g.id() == id).then(|| f(g))
}
/// Slots [`for_each_g`] looks at per hold of a shard lock.
pub const WALK_CHUNK: usize = 1024;

/// The number of G records, live or cached dead, counted from the registry.
pub fn registry_count() -> usize {
    registry().iter().map(|s| s.lock().live).sum()
}

// ---------------------------------------------------------------------------------------------
// Dead G records, cached for reuse (Go's gfree lists): per P, spilling to a global list, so a
// spawn usually costs no allocation for its record. Bounded, so memory returns after a burst.

/// What a G runs: its task, type-erased (see join.rs).
pub(crate) type Entry = crate::task::Entry;

/// Dead Gs a P keeps (Go: 64, moving half to the global list when full).
const GCACHE_CAP: usize = 64;
/// Dead Gs kept in the global list; more are freed. 65,536 records of 240 bytes is 15 MiB at
/// most, kept only while Gs come and go: the scavenger cuts the list to [`GFREE_KEEP_QUIET`]
/// once a burst has drained (scavenge.rs). Measured (issue 20): with 4,096, spawn_join on 2 Ps
/// freed and re-made records all along (the spawner's P outruns the P running the Gs, so the
/// backlog grows past the list and shrinks again): callgrind, 200,000 Gs, 467-472M
/// instructions against 430-441M with 65,536 (`GRef::alloc` 40-45M against 23-29M, and no
/// record freed).
const GFREE_GLOBAL_CAP: usize = 65536;
/// What the global list keeps after the scavenger's cut (the old cap: 1 MiB kept warm).
const GFREE_KEEP_QUIET: usize = 4096;

static GFREE: crate::loom::unmodelled::Mutex<Vec<GRef>> =
    crate::loom::unmodelled::Mutex::new(Vec::new());

/// A P's cache of dead G records.
#[derive(Default)]
pub(crate) struct GCache(Vec<GRef>);

impl GCache {
    fn get(&mut self) -> Option<GRef> {
        // Under loom a G holds loom atomics of one model execution: never share it across them.
        if self.0.is_empty() && !cfg!(loom) {
            let mut global = GFREE.lock();
            let n = global.len().min(GCACHE_CAP / 2);
            let at = global.len() - n;
            self.0.extend(global.drain(at..));
        }
        self.0.pop()
    }

    /// Moves every cached record to the global list (or frees it beyond the cap): the P is
    /// being removed by `set_maxprocs`.
    pub(crate) fn drain_to_global(&mut self) {
        spill(std::mem::take(&mut self.0));
    }

    /// Takes back a dead G (its coroutine and entry already dropped).
    pub(crate) fn put(&mut self, mut g: GRef) {
        debug_assert!(g.owned().coro.is_none() && g.owned().entry.is_none());
        // G-local values were dropped on the G's stack at exit, until none was left
        // (`drop_g_locals`).
        g.set_status(GStatus::Dead);
        if self.0.len() >= GCACHE_CAP {
            spill(self.0.drain(GCACHE_CAP / 2..).collect());
        }
        self.0.push(g);
    }
}

/// Frees the dead records of the global list beyond [`GFREE_KEEP_QUIET`] (the scavenger, after a
/// burst drained: scavenge.rs). Returns how many were freed.
pub(crate) fn trim_gfree() -> usize {
    let extra: Vec<GRef> = {
        let mut global = GFREE.lock();
        let keep = global.len().min(GFREE_KEEP_QUIET);
        global.drain(keep..).collect()
    };
    let n = extra.len();
    drop(extra); // outside the list's lock: each leaves the registry under its shard lock
    n
}

/// Moves dead records to the global list, freeing those beyond its cap.
fn spill(gs: Vec<GRef>) {
    let mut global = GFREE.lock();
    let room = if cfg!(loom) {
        0
    } else {
        GFREE_GLOBAL_CAP.saturating_sub(global.len())
    };
    let mut gs = gs.into_iter();
    global.extend(gs.by_ref().take(room));
    drop(global);
    drop(gs.collect::<Vec<_>>()); // over the cap: freed
}
#[cfg(test)]
mod size {
    /// The G record is part of what every parked G costs (docs/design.md, "What one G costs"):
    /// 240 bytes, one 256-byte malloc chunk. This fails if a field pushes it to the next chunk.
    #[test]
    fn g_record_fits_one_256_byte_chunk() {
        assert!(
            std::mem::size_of::<super::G>() <= 256 - 16,
            "G record grew to {} bytes; update docs/design.md if that is intended",
            std::mem::size_of::<super::G>()
        );
    }
}
