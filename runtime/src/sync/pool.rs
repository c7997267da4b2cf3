//! `Pool<T>`: Go's `sync.Pool`, a cache of reusable values that the runtime empties over time.
//!
//! # Layout (Go's `poolLocal`, adapted)
//!
//! * **private**: one value per pool per M, in the M's thread-local table. Only that thread
//!   touches it, so `get`/`put` on the fast path take no lock and no atomic read-modify-write
//!   (Go's private slot, under `procPin`). In Go the slot belongs to the P and pinning is a
//!   plain increment that preemption respects; gort cannot pin a P that cheaply (sysmon may hand
//!   the P of a long-running G to another M at any instant, and guarding against that costs a
//!   CAS per access, 13 ns per get/put pair here against Go's 8.6), so the slot belongs to the
//!   M: an M runs one G at a time and a G never switches inside `get`/`put`, so it is the same
//!   exclusion. Plain OS threads do not keep a private value.
//! * **shared**: per P, a `Vec` under a lock (Go's lock-free `poolChain`): where `put` goes when
//!   the private slot is taken, and where `get` looks next: its own P's, then the other Ps'
//!   (Go's `getSlow` steal).
//! * **victim**: one `Vec` under a lock per pool; `get` takes from it last, before `new`.
//!
//! # When values are dropped (Go's `poolCleanup`, on a clock instead of the GC)
//!
//! Every [`TICK`] (1 s) sysmon runs the cleanup: each pool's victim values are dropped, its
//! shared values become its victim, and the Ms' release epoch advances (m.rs). An M that sees
//! the new epoch (at its next scheduling round) hands its private values to
//! sysmon (`ORPHANS`), which moves them into their pool's victim at the next tick. So a value
//! `put` and not taken again is dropped within about two to three ticks (2-3 s); a pool in use
//! keeps its working set. An M that goes idle hands its private values over first, so no value
//! waits on a parked thread. Dropping a `Pool` drops the values it holds at once; a private
//! value of a dropped pool is dropped at the next tick.
//!
//! **Who runs `Drop`**: the values the cleanup drops are dropped by a green thread the cleanup
//! spawns for them (named `gort-pool-cleanup`; Go runs no destructors here; gort cannot free
//! without running them), one at a time, each under the G boundary (a panic is reported and
//! the rest are still dropped). So a pooled type's `Drop` may block like any G's code; sysmon
//! never runs user code, and an M never runs a value's `Drop` in its scheduler loop.
//!
//! # Who touches what
//!
//! * The thread-local table: only its thread, and only inside `with_table`, which runs no user
//!   code (`new`, drops) while it holds the table; a `busy` flag makes a re-entrant use (from a
//!   signal handler, say) fall back to the shared path instead of aliasing. The table is never
//!   dropped (no thread-local destructor to check on each access): an M hands its values over
//!   before its thread exits, and plain threads never fill it.
//! * `Shared::locals`, `Shared::victim`, `ORPHANS`, `REGISTRY`: under their locks, each taken
//!   alone (leaves), never across user code (`new` and drops run after unlocking).
//! * The release epoch (`m::RELEASE_EPOCH`, shared with the task pool): advanced by sysmon's
//!   cleanup (Relaxed: it only tells Ms to hand values over; what they hand over travels
//!   through `ORPHANS`' lock). The scavenger advances it too, which hands values over a little
//!   earlier than the clock would; they still reach their pool's victim, as at a tick.

use crate::loom::unmodelled::Mutex;
use crossbeam_utils::CachePadded;
use std::cell::{Cell, UnsafeCell};
use std::fmt;
use std::mem::ManuallyDrop;
#[cfg(test)]
use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

/// How often sysmon runs the pool cleanup.
pub const TICK: Duration = Duration::from_secs(1);

/// A cache of reusable values, shared by Gs (Go's `sync.Pool`): `get` returns a cached value or
/// a new one from the pool's function, `put` offers a value back. The runtime drops cached
/// values that are not reused within a few seconds (module docs, "When values are dropped").
///
/// Like Go's, a pool is for values that are expensive to make and cheap to keep (buffers,
/// encoders), not a free list with guarantees: any value may be dropped instead of returned.
///
/// # Examples
///
/// ```
/// use gort::sync::Pool;
/// static BUFS: Pool<Vec<u8>> = Pool::new(|| Vec::with_capacity(4096));
/// let hs: Vec<_> = (0..8)
///     .map(|i| {
///         gort::spawn(move || {
///             let mut b = BUFS.get();
///             b.clear();
///             b.extend_from_slice(format!("request {i}").as_bytes());
///             let n = b.len();
///             BUFS.put(b);
///             n
///         })
///     })
///     .collect();
/// for h in hs {
///     assert!(h.join().unwrap() >= 9);
/// }
/// ```
pub struct Pool<T: Send + 'static, F = fn() -> T> {
    new: F,
    shared: OnceLock<Arc<Shared<T>>>,
}

struct Shared<T> {
    /// Unique for the process's life: tells this pool's thread-local entries from stale ones.
    id: u64,
    /// Index in every thread's table (reused after the pool is dropped).
    idx: usize,
    /// One list per P (Go's per-P `poolLocal`), rebuilt when the number of Ps changed
    /// (`set_maxprocs`): the slow paths compare its length with `nprocs` and, if they differ,
    /// take the write lock and move every value into a table of the new size (Go re-allocates
    /// `p.local` in `pinSlow` the same way). Read-locked on the slow paths only.
    locals: parking_lot::RwLock<Lists<T>>,
    victim: Mutex<Vec<T>>,
}

/// The per-P lists of a pool.
type Lists<T> = Box<[CachePadded<Mutex<Vec<T>>>]>;

/// A table of `n` empty per-P lists.
fn lists<T>(n: usize) -> Lists<T> {
    (0..n.max(1))
        .map(|_| CachePadded::new(Mutex::new(Vec::new())))
        .collect()
}

impl<T> Shared<T> {
    /// The per-P lists, resized first if the number of Ps changed.
    fn locals(&self) -> parking_lot::RwLockReadGuard<'_, Lists<T>> {
        let n = crate::sched().nprocs();
        {
            let l = self.locals.read();
            if l.len() == n {
                return l;
            }
        }
        let mut w = self.locals.write();
        if w.len() != n {
            let fresh = lists::<T>(n);
            for (i, old) in w.iter().enumerate() {
                fresh[i % fresh.len()].lock().append(&mut old.lock());
            }
            *w = fresh;
        }
        parking_lot::RwLockWriteGuard::downgrade(w)
    }
}

impl<T: Send + 'static, F: Fn() -> T> Pool<T, F> {
    /// A pool whose [`get`](Self::get) calls `f` when it has nothing cached (`const`: a pool
    /// can be a `static`).
    ///
    /// # Examples
    ///
    /// ```
    /// let p = gort::sync::Pool::new(|| String::from("fresh"));
    /// assert_eq!(p.get(), "fresh");
    /// ```
    pub const fn new(f: F) -> Pool<T, F> {
        Pool {
            new: f,
            shared: OnceLock::new(),
        }
    }

    fn shared(&self) -> &Arc<Shared<T>> {
        self.shared.get_or_init(Shared::register)
    }

    /// A cached value if there is one (this M's, this P's, another P's, the victims), else a
    /// new one from the pool's function. Nothing is known about which cached value comes back.
    ///
    /// # Examples
    ///
    /// ```
    /// let p = gort::sync::Pool::new(|| 0u32);
    /// p.put(7);
    /// let v = p.get(); // 7 most likely; 0 if the runtime dropped it meanwhile
    /// assert!(v == 7 || v == 0);
    /// ```
    #[inline]
    pub fn get(&self) -> T {
        let sh = self.shared();
        if let Some(v) = local_take::<T>(sh) {
            return v;
        }
        self.get_slow(sh)
    }

    #[cold]
    fn get_slow(&self, sh: &Arc<Shared<T>>) -> T {
        {
            let locals = sh.locals();
            let n = locals.len();
            let home = home(n);
            for i in 0..n {
                if let Some(v) = locals[(home + i) % n].lock().pop() {
                    return v;
                }
            }
        }
        if let Some(v) = sh.victim.lock().pop() {
            return v;
        }
        (self.new)()
    }

    /// Offers `v` for reuse.
    ///
    /// # Examples
    ///
    /// ```
    /// let p = gort::sync::Pool::new(Vec::<u8>::new);
    /// let mut b = p.get();
    /// b.push(1);
    /// b.clear();
    /// p.put(b);
    /// ```
    #[inline]
    pub fn put(&self, v: T) {
        let sh = self.shared();
        let mut v = Some(v);
        if !local_put(sh, &mut v) {
            self.put_slow(sh, v);
        }
    }

    #[cold]
    fn put_slow(&self, sh: &Arc<Shared<T>>, v: Option<T>) {
        let Some(v) = local_put_new(sh, v) else {
            return;
        };
        let locals = sh.locals();
        let n = locals.len();
        locals[home(n)].lock().push(v);
    }
}

/// The shared list a caller uses first: its P's (a plain thread: list 0).
fn home(n: usize) -> usize {
    crate::sched::current_p_id().unwrap_or(0) % n
}

impl<T: Send + 'static> Shared<T> {
    fn register() -> Arc<Shared<T>> {
        let n = crate::sched().nprocs();
        let (id, idx) = {
            let mut ids = IDS.lock();
            ids.next_id += 1;
            let idx = ids.free.pop().unwrap_or_else(|| {
                ids.next_idx += 1;
                ids.next_idx - 1
            });
            (ids.next_id, idx)
        };
        let sh = Arc::new(Shared {
            id,
            idx,
            locals: parking_lot::RwLock::new(lists(n)),
            victim: Mutex::new(Vec::new()),
        });
        let weak: Weak<dyn Clean> = Arc::downgrade(&sh) as Weak<dyn Clean>;
        REGISTRY.lock().push(weak);
        sh
    }
}

impl<T> Drop for Shared<T> {
    fn drop(&mut self) {
        IDS.lock().free.push(self.idx);
    }
}

struct Ids {
    next_id: u64,
    next_idx: usize,
    free: Vec<usize>,
}

static IDS: Mutex<Ids> = Mutex::new(Ids {
    next_id: 0,
    next_idx: 0,
    free: Vec::new(),
});

/// Every live pool, for the cleanup.
static REGISTRY: Mutex<Vec<Weak<dyn Clean>>> = Mutex::new(Vec::new());

/// Private values handed over by Ms (module docs), for sysmon to place or drop.
static ORPHANS: Mutex<Vec<Box<dyn Slot>>> = Mutex::new(Vec::new());

/// What the cleanup does to a pool, without knowing `T`.
trait Clean: Send + Sync {
    /// Drops the victims and makes the shared values the new victims. Returns what to drop.
    fn shift(&self) -> Vec<Box<dyn Send>>;
}

impl<T: Send + 'static> Clean for Shared<T> {
    fn shift(&self) -> Vec<Box<dyn Send>> {
        let mut fresh = Vec::new();
        for l in self.locals.read().iter() {
            fresh.append(&mut l.lock());
        }
        let old = std::mem::replace(&mut *self.victim.lock(), fresh);
        if old.is_empty() {
            Vec::new()
        } else {
            vec![Box::new(old)]
        }
    }
}

/// One pool's private value in one thread's table.
trait Slot: Send {
    /// Sysmon: moves the value into its pool's victims; returns it to drop if the pool is gone.
    fn adopt(self: Box<Self>) -> Option<Box<dyn Send>>;
    fn is_empty(&self) -> bool;
}

struct TypedSlot<T> {
    obj: Option<T>,
    pool: Weak<Shared<T>>,
}

impl<T: Send + 'static> Slot for TypedSlot<T> {
    fn adopt(self: Box<Self>) -> Option<Box<dyn Send>> {
        let obj = self.obj?;
        match self.pool.upgrade() {
            Some(sh) => {
                sh.victim.lock().push(obj);
                // `sh` may be the last reference (the pool was just dropped): then this drops the
                // pool and its values, here on sysmon, as the module docs say.
                None
            }
            None => Some(Box::new(obj)),
        }
    }

    fn is_empty(&self) -> bool {
        self.obj.is_none()
    }
}

/// A thread's private values (module docs, "Layout").
struct Table {
    /// True on an M's thread (set when the M starts); plain threads keep no private values.
    is_m: bool,
    /// Indexed by `Shared::idx`: (pool id, slot).
    slots: Vec<Option<(u64, Box<dyn Slot>)>>,
}

thread_local! {
    static TABLE: ThreadTable = const {
        ThreadTable {
            busy: Cell::new(false),
            t: UnsafeCell::new(ManuallyDrop::new(Table {
                is_m: false,
                slots: Vec::new(),
            })),
        }
    };
}

/// [`Table`] with its borrow flag; `ManuallyDrop`: never dropped (module docs).
struct ThreadTable {
    busy: Cell<bool>,
    t: UnsafeCell<ManuallyDrop<Table>>,
}

/// Runs `f` on this thread's table unless it is in use (re-entrancy); `f` must not run user
/// code. `#[inline(never)]` plus `black_box`, as `m::with_m`: a G may move to another thread
/// between two calls, so a thread-local address must not be reused across them.
#[inline(never)]
fn with_any_table<R>(f: impl FnOnce(&mut Table) -> Option<R>) -> Option<R> {
    std::hint::black_box(());
    TABLE.with(|tt| {
        if tt.busy.replace(true) {
            return None;
        }
        // SAFETY: this thread's table; `busy` was clear, so no other `&mut` to it is live
        // (`with_any_table` is the only way in, and it sets `busy` until it returns), and `f`
        // runs no user code that could come back here.
        let r = f(unsafe { &mut *tt.t.get() });
        tt.busy.set(false);
        r
    })
}

/// [`with_any_table`] on an M's thread only. (The epoch is not checked here: the M checks it
/// each scheduling round, which keeps the fast path to the table alone.)
#[inline(always)]
fn with_table<R>(f: impl FnOnce(&mut Table) -> Option<R>) -> Option<R> {
    with_any_table(|t| if t.is_m { f(t) } else { None })
}

/// The fast path of `get`: this M's private value.
fn local_take<T: Send + 'static>(sh: &Shared<T>) -> Option<T> {
    with_table(|t| {
        let (id, slot) = t.slots.get_mut(sh.idx)?.as_mut()?;
        if *id != sh.id {
            return None;
        }
        // SAFETY: an entry carrying this pool's id was made by `local_put` of this pool, as a
        // `TypedSlot<T>` (ids are unique for the process's life, so no other pool's entry, of
        // another `T`, carries it).
        let slot = unsafe { &mut *(slot.as_mut() as *mut dyn Slot as *mut TypedSlot<T>) };
        slot.obj.take()
    })
}

/// The fast path of `put`: into this M's private slot if this pool has one here and it is
/// free (then `v` is taken and true returned).
fn local_put<T: Send + 'static>(sh: &Shared<T>, v: &mut Option<T>) -> bool {
    with_table(|t| {
        let (id, slot) = t.slots.get_mut(sh.idx)?.as_mut()?;
        if *id != sh.id {
            return None;
        }
        // SAFETY: as in `local_take`.
        let slot = unsafe { &mut *(slot.as_mut() as *mut dyn Slot as *mut TypedSlot<T>) };
        if slot.obj.is_some() {
            return None;
        }
        slot.obj = v.take();
        Some(())
    })
    .is_some()
}

/// The slow path of `put` on an M: makes this pool's private slot here if it has none (a
/// dropped pool's entry at the same index goes to sysmon, which drops its value) and puts `v`
/// in it; returns `v` if it did not (the slot is taken, or this is not an M).
fn local_put_new<T: Send + 'static>(sh: &Arc<Shared<T>>, mut v: Option<T>) -> Option<T> {
    let stale = with_table(|t| {
        if t.slots.len() <= sh.idx {
            t.slots.resize_with(sh.idx + 1, || None);
        }
        let e = &mut t.slots[sh.idx];
        if matches!(e, Some((id, _)) if *id == sh.id) {
            return None; // ours, and full
        }
        let old = e.replace((
            sh.id,
            Box::new(TypedSlot {
                obj: v.take(),
                pool: Arc::downgrade(sh),
            }),
        ));
        Some(old.map(|(_, s)| s))
    });
    if let Some(Some(old)) = stale {
        ORPHANS.lock().push(old);
    }
    v
}

/// Hands this thread's private values to sysmon (`ORPHANS`); moves boxes only, runs no `Drop`.
fn orphan(t: &mut Table) {
    let mut out = Vec::new();
    for e in t.slots.iter_mut() {
        if matches!(e, Some((_, s)) if !s.is_empty()) {
            out.extend(e.take().map(|(_, s)| s));
        }
    }
    if !out.is_empty() {
        ORPHANS.lock().append(&mut out);
    }
}

/// Called by an M when it starts: its thread keeps private values from now on.
pub(crate) fn m_started() {
    with_any_table(|t| {
        t.is_m = true;
        Some(())
    });
}

/// Called by an M on its scheduler stack (between Gs) when the epoch moved or before it parks:
/// hands its private values to sysmon.
pub(crate) fn m_release() {
    with_any_table(|t| {
        orphan(t);
        Some(())
    });
}

/// Unit tests that drive [`cleanup`] themselves stop sysmon's (Relaxed: a test switch).
#[cfg(test)]
static PAUSED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// sysmon, every [`TICK`]: the cleanup (module docs, "When values are dropped").
pub(crate) fn cleanup() {
    #[cfg(test)]
    if PAUSED.load(Ordering::Relaxed) {
        return;
    }
    cleanup_now();
}

fn cleanup_now() {
    if IDS.lock().next_id == 0 {
        return; // no pool was ever made
    }
    // Even with no pool left, an M may hold a dropped pool's value: the epoch moves on (each M
    // hands its values over once), and what they handed over is dropped.
    crate::m::request_release();
    let pools: Vec<Arc<dyn Clean>> = {
        let mut r = REGISTRY.lock();
        r.retain(|w| w.strong_count() > 0);
        r.iter().filter_map(Weak::upgrade).collect()
    };
    let orphans = std::mem::take(&mut *ORPHANS.lock());
    // No `Drop` runs here: what must be dropped goes to a G (below).
    let mut dead: Vec<Box<dyn Send>> = Vec::new();
    for p in &pools {
        dead.extend(p.shift());
    }
    for o in orphans {
        if let Ok(Some(d)) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| o.adopt())) {
            dead.push(d);
        }
    }
    // The drops run in a G of their own, not on sysmon: a `Drop` may block (a channel send,
    // a gort lock) or be slow, and sysmon must keep ticking. Each runs under the G boundary
    // (`join::guarded`), so one panicking `Drop` neither stops the others nor reaches an M.
    let drops = move || {
        for d in dead {
            crate::join::guarded("a sync::Pool value's destructor", move || drop(d));
        }
        for p in pools {
            crate::join::guarded("a sync::Pool value's destructor", move || drop(p));
        }
    };
    if let Err(e) = crate::join::Builder::new()
        .name("gort-pool-cleanup")
        .spawn_detached(drops)
    {
        // No G could be made (the stack allocator failed): these values are leaked rather than
        // dropped on sysmon.
        eprintln!("gort: sync::Pool cleanup could not start a green thread ({e}); unused pooled values are kept");
    }
}

impl<T: Send + 'static, F> fmt::Debug for Pool<T, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (shared, victim) = match self.shared.get() {
            Some(sh) => (
                sh.locals
                    .read()
                    .iter()
                    .map(|l| l.lock().len())
                    .sum::<usize>(),
                sh.victim.lock().len(),
            ),
            None => (0, 0),
        };
        f.debug_struct("Pool")
            .field("shared", &shared)
            .field("victim", &victim)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    /// Serialises these tests and keeps sysmon's cleanup out of them: a cleanup (theirs or
    /// sysmon's) between a `put` and a `get` would move the value on.
    fn exclusive() -> impl Drop {
        static ONE: std::sync::Mutex<()> = std::sync::Mutex::new(());
        struct Resume(#[allow(dead_code)] std::sync::MutexGuard<'static, ()>);
        impl Drop for Resume {
            fn drop(&mut self) {
                PAUSED.store(false, Ordering::Relaxed);
            }
        }
        let g = ONE.lock().unwrap_or_else(|e| e.into_inner());
        PAUSED.store(true, Ordering::Relaxed);
        Resume(g)
    }

    /// Go: src/sync/pool_test.go, TestPool (runtime.GC() is the cleanup here; the body runs in
    /// a G, which stays on its M without a scheduling point, as Go's runs pinned to its P).
    #[test]
    fn pool() {
        let _x = exclusive();
        crate::spawn(|| {
            let p = Pool::new(|| "");
            assert_eq!(p.get(), "", "expected empty");
            p.put("a");
            p.put("b");
            assert_eq!(p.get(), "a");
            assert_eq!(p.get(), "b");
            assert_eq!(p.get(), "");
            // Put in a large number of objects so they spill into stealable space.
            for _ in 0..100 {
                p.put("c");
            }
            // After one cleanup, the victim cache should keep them alive.
            cleanup_now();
            m_release(); // what this M does at its next round
            assert_eq!(p.get(), "c", "want c after one cleanup");
            // A second cleanup drops the victims (the private one is in ORPHANS, adopted into
            // the victims by this cleanup: a third drops it).
            cleanup_now();
            cleanup_now();
            assert_eq!(p.get(), "", "want empty after the cleanups");
        })
        .join()
        .unwrap();
    }

    /// Go: src/sync/pool_test.go, TestPoolNew.
    #[test]
    fn pool_new() {
        let _x = exclusive();
        crate::spawn(|| {
            let i = AtomicUsize::new(0);
            let p = Pool::new(|| i.fetch_add(1, Ordering::SeqCst) + 1);
            assert_eq!(p.get(), 1);
            assert_eq!(p.get(), 2);
            p.put(42);
            assert_eq!(p.get(), 42);
            assert_eq!(p.get(), 3);
        })
        .join()
        .unwrap();
    }

    /// A value of a dropped pool left in an M's slot goes to sysmon and is dropped by the
    /// cleanup's G, and a stale slot is replaced by the next pool at its index.
    #[test]
    fn dropped_pool_private_values_are_dropped() {
        static DROPS: AtomicUsize = AtomicUsize::new(0);
        struct D;
        impl Drop for D {
            fn drop(&mut self) {
                DROPS.fetch_add(1, Ordering::SeqCst);
            }
        }
        let x = exclusive();
        crate::spawn(|| {
            let p = Pool::new(|| D);
            p.put(D);
            p.put(D); // shared
            drop(p); // the shared one dies now
            assert_eq!(DROPS.load(Ordering::SeqCst), 1);
            let q = Pool::new(|| 1u64); // may reuse the index: replaces the stale slot
            q.put(5);
            drop(q);
        })
        .join()
        .unwrap();
        drop(x);
        // sysmon's cleanup (not paused here) drops it.
        let t = std::time::Instant::now();
        while DROPS.load(Ordering::SeqCst) < 2 {
            assert!(
                t.elapsed() < Duration::from_secs(30),
                "private value never dropped"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}
