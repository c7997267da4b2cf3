//! P: a processor, the right to run Gs. `GORT_MAXPROCS` of them exist for the process's life.
//!
//! A P has a shared part ([`PShared`]: `runnext`, the stealer, counters) that any thread may read,
//! and an owner-only part (`PLocal`: the run queue's push/pop end, caches) that only the P's
//! current owner touches. Who owns a P is one atomic word, `PShared::own` = `tag << 8 | state`,
//! where `tag` is the owning M's id + 1 (0: nobody). Go uses a status word the same way
//! (`_Pidle`, `_Prunning`, `_Psyscall`, changed by CAS); the tag rules out ABA (a P retaken from
//! M1 and given to M2 cannot be mistaken for M1's again).
//!
//! | state       | who owns `PLocal`                   | who may change the state            |
//! |-------------|-------------------------------------|-------------------------------------|
//! | `IDLE`      | whoever holds `Sched::lock` (the P is on the idle list) | `pidleget` under the lock |
//! | `OWNED`     | the M (scheduler code, between Gs)  | the M                               |
//! | `RUNNING_G` | nobody: the M is inside a G         | the M (`finish`), the G (`g_access`, `enter_syscall`), sysmon (retake from a hog) |
//! | `G_ACCESS`  | the running G, briefly (ready, spawn) | that G                            |
//! | `SYSCALL`   | nobody: the G is in a blocking call | the G (`exit_syscall`), sysmon (retake) |
//!
//! Ownership tokens make the rules types (rayon's evidence tokens, tokio's `#[must_use]`
//! transitions): a `PHandle` proves `OWNED` and gives `&PLocal`; a `RunningP` (held by the M
//! while a G runs) gives only CAS-guarded access; every transition that can lose the P returns an
//! `Option` the caller must look at. All transitions out of a state that a thief (sysmon) may also
//! leave are CASes on the full word, so exactly one party wins (loom model 5).
//!
//! Orderings: a transition that hands `PLocal` to another party is a Release (store or CAS
//! success); a transition that takes it is an Acquire (CAS success). So every write to `PLocal`
//! by one owner happens-before every read by the next.
//!
//! Other invariants:
//! 1. Only the owner *puts* into `runnext`; anyone may *take* from it (swap with null).
//! 2. A P on the idle list has an empty local queue and `runnext` (debug-asserted).

use crate::g::{GCache, GRef, GoidBatch, G};
use crate::loom::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use crate::runq::{LocalQueue, Stealer};
use crate::stack::StackCache;
use std::cell::{Cell, RefCell, UnsafeCell};

/// A P's state as the tracer prints it (Go's numbers).
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PStatus {
    /// On the idle list.
    Idle = 0,
    /// Held by an M running Gs or looking for work.
    Running = 1,
    /// Its G is inside a blocking call; sysmon may retake it.
    Syscall = 2,
}

pub(crate) const IDLE: u64 = 0;
pub(crate) const OWNED: u64 = 1;
pub(crate) const RUNNING_G: u64 = 2;
pub(crate) const G_ACCESS: u64 = 3;
pub(crate) const SYSCALL: u64 = 4;

#[inline]
fn word(tag: u64, state: u64) -> u64 {
    tag << 8 | state
}

/// The tag sysmon (or any non-M retaker) uses while it holds a retaken P.
pub(crate) const RETAKER_TAG: u64 = u64::MAX >> 8;

/// The part of a P other threads may touch, plus the owner-only part behind the `own` word.
pub struct PShared {
    pub(crate) id: usize,
    /// Who owns the P (see the module docs). SeqCst is not needed: Acquire/Release per the table.
    own: AtomicU64,
    /// The G to run next (Go's runnext), owned through this pointer (see `GRef::into_raw`).
    /// Put: owner only (swap, SeqCst: step S1 of the submit recipe in sched.rs). Take: anyone
    /// (swap with null, AcqRel: pairs with the put's release half).
    pub(crate) runnext: AtomicPtr<G>,
    pub(crate) stealer: Stealer,
    /// Atomic, Relaxed: the owner's schedtick, mirrored for sysmon (slice detection) and traces.
    pub(crate) schedtick: AtomicU64,
    /// Atomic, Relaxed: bumped on each entry into a blocking call.
    pub(crate) syscalltick: AtomicU64,
    /// Atomic, Relaxed: bumped (load + store, not an RMW) by the P's owner each time a G
    /// switches out on this P other than into a park that waits (a yield, an exit, a cancelled
    /// park); those parks are counted exactly in `stats` instead, so every switch bumps one
    /// counter. [`PShared::switch_count`] is the sum, which sysmon's hog and blocked-call
    /// checks only compare with their last reading. An M whose P was retaken while its G ran
    /// bumps neither (the P's new owner moves the count).
    pub(crate) switches: AtomicU64,
    /// Atomic, Relaxed: bumped (load + store) by the owner each time it takes its runnext
    /// (`Sched::runqget`). A thief compares it across its back-off: if it moved, the owner ran
    /// (or queued) what the thief saw (sched.rs, "The runnext back-off"). Unlike `switches`, a
    /// cancelled park, which runs the same G on without looking at runnext, does not move it.
    pub(crate) runnext_taken: AtomicU64,
    /// Atomic, Relaxed: id of the M holding the P, or `usize::MAX` (traces).
    pub(crate) m: AtomicUsize,
    /// Set by sysmon when the P's time slice is over (10 ms without a new slice): the next
    /// scheduling round lets the local queue go before `runnext`, and `should_yield()` says so.
    /// Relaxed: a hint.
    pub(crate) preempt: AtomicBool,
    /// How long a thief waits before taking this P's runnext while it runs (sched.rs,
    /// `steal_work`): grown each time the owner ran that G meanwhile, reset by a steal.
    /// Read and written by thieves, Relaxed and racy: a heuristic, not part of any protocol
    /// (unmodelled: loom has nothing to check in it).
    pub(crate) steal_backoff_us: crate::loom::unmodelled::AtomicUsize,
    /// Counters and the latency histogram (metrics.rs): written by the owner only.
    pub(crate) stats: crate::metrics::PStats,
    /// `LIVE`, `RETIRING` or `DEAD` (sched.rs, "Resizing the Ps"). Written under
    /// `Sched::lock`; read without it (Relaxed) by the owner as a hint, then again under the
    /// lock.
    pub(crate) life: AtomicU8,
    /// Owner-only state; see `own`.
    local: UnsafeCell<PLocal>,
}

/// `PShared::life`: the P is one of the `nprocs` live Ps.
pub(crate) const LIVE: u8 = 0;
/// `PShared::life`: removed by `set_maxprocs` while an M held it; that M retires it at its
/// next scheduling round.
pub(crate) const RETIRING: u8 = 1;
/// `PShared::life`: removed, held by nobody, on no list.
pub(crate) const DEAD: u8 = 2;

// SAFETY: everything but `local` is atomic or immutable; `local` (which holds `!Sync` cells and
// crossbeam's `!Sync` worker end) is reached only by the party that owns the P according to
// `own`, through `PHandle::local` or `RunningP::g_access`, and the hand-over between owners is a
// Release/Acquire pair on `own` (module docs).
// SAFETY: argued in the comment above.
unsafe impl Sync for PShared {}

/// The owner's part of a P.
pub(crate) struct PLocal {
    pub(crate) runq: LocalQueue,
    pub(crate) stacks: RefCell<StackCache>,
    pub(crate) goids: RefCell<GoidBatch>,
    pub(crate) gfree: RefCell<GCache>,
    /// Scheduling rounds that started a new time slice (not counting runnext inheritance).
    pub(crate) schedtick: Cell<u64>,
    /// Park addresses (`G::parked_sp`) of the last [`RECENT_PARKS`] parks on this P, a ring
    /// written at `recent_at`: a G readied from here soon after it parked here still has its
    /// frames in this core's cache, so its stack is not prefetched (a ping-pong pair, a small
    /// pipeline).
    recent_parks: Cell<[usize; RECENT_PARKS]>,
    recent_at: Cell<u8>,
    /// A batch of fresh Gs taken from the global queue under `Sched::lock`, given G records
    /// after the lock is released (`Sched::globrunqget` / `globrunq_fresh`). Empty outside the
    /// two.
    pub(crate) glob_batch: RefCell<Vec<crate::sched::FreshG>>,
    /// The execution trace's buffer of events on this P (exectrace.rs).
    pub(crate) trace: RefCell<crate::exectrace::PBuf>,
}

/// How many parks [`PLocal`] remembers for the prefetch decision.
const RECENT_PARKS: usize = 4;

impl PLocal {
    /// Notes that a G parked on this P at `addr` (`G::parked_sp`; 0 is ignored).
    pub(crate) fn note_park(&self, addr: usize) {
        if addr != 0 {
            // One slot written in place (a shift of the whole array was 16 instructions on
            // every switch).
            let at = self.recent_at.get();
            self.recent_at.set(at.wrapping_add(1));
            let ring: &Cell<[usize]> = &self.recent_parks;
            let slots = ring.as_slice_of_cells();
            slots[at as usize % RECENT_PARKS].set(addr);
        }
    }

    /// Whether a G with park address `addr` is among the last few to park on this P.
    pub(crate) fn parked_recently(&self, addr: usize) -> bool {
        self.recent_parks.get().contains(&addr)
    }
}

impl PShared {
    /// Every switch out of a G on this P so far: the other switches plus the parks that waited
    /// (see `switches`). Relaxed reads, for sysmon's "has it moved since my last tick?".
    #[inline]
    pub(crate) fn switch_count(&self) -> u64 {
        self.switches
            .load(Ordering::Relaxed)
            .wrapping_add(crate::metrics::parks_on(self))
    }

    pub(crate) fn new(id: usize) -> PShared {
        let (runq, stealer) = LocalQueue::new();
        PShared {
            id,
            own: AtomicU64::new(word(0, IDLE)),
            runnext: AtomicPtr::new(std::ptr::null_mut()),
            stealer,
            schedtick: AtomicU64::new(0),
            syscalltick: AtomicU64::new(0),
            switches: AtomicU64::new(0),
            runnext_taken: AtomicU64::new(0),
            m: AtomicUsize::new(usize::MAX),
            preempt: AtomicBool::new(false),
            steal_backoff_us: crate::loom::unmodelled::AtomicUsize::new(
                crate::sched::STEAL_BACKOFF_MIN_US,
            ),
            stats: crate::metrics::PStats::new(),
            life: AtomicU8::new(LIVE),
            local: UnsafeCell::new(PLocal {
                runq,
                stacks: RefCell::new(StackCache::default()),
                goids: RefCell::new(GoidBatch::default()),
                gfree: RefCell::new(GCache::default()),
                schedtick: Cell::new(0),
                recent_parks: Cell::new([0; RECENT_PARKS]),
                recent_at: Cell::new(0),
                glob_batch: RefCell::new(Vec::new()),
                trace: RefCell::new(Default::default()),
            }),
        }
    }

    /// Current status (a snapshot for traces and sysmon).
    pub fn status(&self) -> PStatus {
        match self.own.load(Ordering::Relaxed) & 0xff {
            IDLE => PStatus::Idle,
            SYSCALL => PStatus::Syscall,
            _ => PStatus::Running,
        }
    }

    /// The raw ownership word (for sysmon's retake and traces).
    pub(crate) fn own_word(&self) -> u64 {
        self.own.load(Ordering::Relaxed)
    }

    /// Local queue length for traces (runnext not counted, as in Go).
    pub fn runqsize(&self) -> usize {
        self.stealer.len()
    }

    /// True if a G sits in runnext (a snapshot, for metrics).
    pub(crate) fn has_runnext(&self) -> bool {
        !self.runnext.load(Ordering::Relaxed).is_null()
    }

    /// Whether `set_maxprocs` removed this P while an M held it (a Relaxed hint for the owner;
    /// decided under `Sched::lock`).
    #[inline]
    pub(crate) fn retiring(&self) -> bool {
        self.life.load(Ordering::Relaxed) == RETIRING
    }

    /// True if the P has a G in runnext or its local queue (a racy snapshot; used by step T3 of
    /// the stop-spinning recipe after its SeqCst fence).
    pub(crate) fn has_work(&self) -> bool {
        !self.runnext.load(Ordering::SeqCst).is_null() || !self.stealer.is_empty()
    }

    /// Takes the G in runnext, if any. Any thread may call this.
    pub(crate) fn take_runnext(&self) -> Option<GRef> {
        if self.runnext.load(Ordering::Relaxed).is_null() {
            return None;
        }
        let p = self.runnext.swap(std::ptr::null_mut(), Ordering::AcqRel);
        // SAFETY: non-null values in runnext come from `GRef::into_raw` in `put_runnext`, and the
        // swap makes us the only taker of this pointer.
        (!p.is_null()).then(|| unsafe { GRef::from_raw(p) })
    }

    /// A thief's take of runnext (Go's last steal round): takes the G only if runnext still holds
    /// `seen`, the pointer the thief saw before pausing, so that a G the owner ran meanwhile and
    /// replaced (the partner of a ping-pong) is not stolen.
    pub(crate) fn steal_runnext(&self, seen: *mut G) -> Option<GRef> {
        if seen.is_null() {
            return None;
        }
        self.runnext
            .compare_exchange(
                seen,
                std::ptr::null_mut(),
                Ordering::AcqRel,
                Ordering::Relaxed,
            )
            .ok()
            // SAFETY: the CAS removed `seen` from runnext, where only `GRef::into_raw` pointers
            // are put, so we own it now.
            .map(|p| unsafe { GRef::from_raw(p) })
    }

    /// Retakes the P from `expected` (an M's `RUNNING_G` or `SYSCALL` word, as read by sysmon).
    /// Exactly one of the retaker and the M's own transition (`RunningP::finish`,
    /// `exit_syscall`, `g_access`) wins the CAS.
    #[must_use]
    pub(crate) fn try_retake(&'static self, expected: u64) -> Option<PHandle> {
        let st = expected & 0xff;
        debug_assert!(st == RUNNING_G || st == SYSCALL);
        // Mutation (docs/loom.md): a check-then-store instead of the CAS; loom model 5 must then
        // find the M's `exit_syscall` and sysmon both winning the P.
        #[cfg(gort_mutate = "retake_without_cas")]
        {
            if self.own.load(Ordering::Acquire) != expected {
                return None;
            }
            self.own.store(word(RETAKER_TAG, OWNED), Ordering::Release);
            return Some(PHandle {
                p: self,
                tag: RETAKER_TAG,
            });
        }
        #[allow(unreachable_code)]
        self.own
            .compare_exchange(
                expected,
                word(RETAKER_TAG, OWNED),
                Ordering::Acquire,
                Ordering::Relaxed,
            )
            .ok()
            .map(|_| PHandle {
                p: self,
                tag: RETAKER_TAG,
            })
    }

    /// Makes the P's initial idle handle. Only `Sched::new` (once per P) and `set_maxprocs`,
    /// for a P it makes or revives (`DEAD`, so nobody holds a handle), under `Sched::lock`.
    pub(crate) fn initial_handle(&'static self) -> PHandle {
        PHandle { p: self, tag: 0 }
    }
}

/// Proof of owning a P in scheduler context (state `OWNED`, or `IDLE` while on the idle list,
/// where the list's lock is the proof). Not `Clone`: there is one per P.
pub(crate) struct PHandle {
    p: &'static PShared,
    tag: u64,
}

impl PHandle {
    #[inline]
    pub(crate) fn shared(&self) -> &'static PShared {
        self.p
    }

    #[inline]
    pub(crate) fn id(&self) -> usize {
        self.p.id
    }

    /// The owner-only part.
    #[inline]
    pub(crate) fn local(&self) -> &PLocal {
        // SAFETY: a `PHandle` exists only for the party that owns the P (`OWNED` with our tag, or
        // `IDLE` under the idle list's lock), created by a winning transition; it is consumed by
        // every transition that gives the P away, so nobody else reaches `local` meanwhile.
        unsafe { &*self.p.local.get() }
    }

    /// Takes the P for M `m` (after `pidleget`, a wake-up, or a retake).
    pub(crate) fn adopt(mut self, m: usize) -> PHandle {
        self.tag = m as u64 + 1;
        // Release: publishes the previous owner's writes... they were already acquired by us;
        // this store only relabels. Relaxed would do; Release keeps the table's rule simple.
        self.p.own.store(word(self.tag, OWNED), Ordering::Release);
        self.p.m.store(m, Ordering::Relaxed);
        self
    }

    /// Puts the P on the idle list's side of the protocol (caller holds `Sched::lock`).
    pub(crate) fn make_idle(mut self) -> PHandle {
        debug_assert!(
            self.local().runq.len() == 0,
            "idle P with a non-empty run queue"
        );
        self.tag = 0;
        self.p.own.store(word(0, IDLE), Ordering::Release);
        self.p.m.store(usize::MAX, Ordering::Relaxed);
        self
    }

    /// The M is about to resume a G: the P becomes `RUNNING_G` (G code and sysmon may now
    /// compete for it through CASes).
    pub(crate) fn start_g(self) -> RunningP {
        // Release: hands `PLocal` to whoever wins it next (the G's `g_access`, or sysmon).
        self.p
            .own
            .store(word(self.tag, RUNNING_G), Ordering::Release);
        RunningP {
            p: self.p,
            tag: self.tag,
        }
    }
}

fn put_runnext(p: &PShared, g: GRef) -> Option<GRef> {
    // SeqCst: step S1 of the submit recipe (sched.rs): ordered before the readier's loads of
    // `npidle`/`nmspinning` in `wakep`.
    let old = p.runnext.swap(g.into_raw(), Ordering::SeqCst);
    // SAFETY: `old` was put by an owner of this P via `into_raw` and the swap removed it from
    // runnext, so we are its only owner now.
    (!old.is_null()).then(|| unsafe { GRef::from_raw(old) })
}

/// What the M holds while one of its Gs runs on the P (state `RUNNING_G`, `G_ACCESS` or
/// `SYSCALL` with the M's tag, unless someone retook the P).
pub(crate) struct RunningP {
    p: &'static PShared,
    tag: u64,
}

impl RunningP {
    #[inline]
    pub(crate) fn shared(&self) -> &'static PShared {
        self.p
    }

    /// True while the P is still this M's (no retake happened). A relaxed snapshot.
    #[inline]
    pub(crate) fn still_mine(&self) -> bool {
        self.p.own.load(Ordering::Relaxed) >> 8 == self.tag
    }

    /// The G switched out: take the P back for scheduler work. `None` if sysmon retook it
    /// meanwhile (the M then has no P).
    #[must_use]
    pub(crate) fn finish(self) -> Option<PHandle> {
        self.p
            .own
            .compare_exchange(
                word(self.tag, RUNNING_G),
                word(self.tag, OWNED),
                Ordering::Acquire,
                Ordering::Relaxed,
            )
            .ok()
            .map(|_| PHandle {
                p: self.p,
                tag: self.tag,
            })
    }

    /// From the running G: borrows the P's local part for `f` (a ready, a spawn), unless the P
    /// was retaken or is already borrowed (nested), in which case `None`.
    #[inline]
    pub(crate) fn g_access<R>(&self, f: impl FnOnce(&PShared, &PLocal) -> R) -> Option<R> {
        self.p
            .own
            .compare_exchange(
                word(self.tag, RUNNING_G),
                word(self.tag, G_ACCESS),
                Ordering::Acquire,
                Ordering::Relaxed,
            )
            .ok()?;
        // SAFETY: the CAS above moved the P from RUNNING_G to G_ACCESS with our tag; in G_ACCESS
        // nobody else may touch `local` (sysmon and `finish` expect RUNNING_G), until the store
        // below.
        let r = f(self.p, unsafe { &*self.p.local.get() });
        // Release: publishes this access's writes to the next owner transition (Acquire).
        self.p
            .own
            .store(word(self.tag, RUNNING_G), Ordering::Release);
        Some(r)
    }

    /// The running G enters a blocking call (Go's `entersyscall`): the P becomes `SYSCALL`, which
    /// sysmon may retake. False if the P was already gone.
    pub(crate) fn enter_syscall(&self) -> bool {
        self.p.syscalltick.fetch_add(1, Ordering::Relaxed);
        self.p
            .own
            .compare_exchange(
                word(self.tag, RUNNING_G),
                word(self.tag, SYSCALL),
                Ordering::Release,
                Ordering::Relaxed,
            )
            .is_ok()
    }

    /// The G left its blocking call (Go's `exitsyscall` fast path): reclaims the P unless sysmon
    /// retook it. True if the P is ours again.
    #[must_use]
    pub(crate) fn exit_syscall(&self) -> bool {
        self.p
            .own
            .compare_exchange(
                word(self.tag, SYSCALL),
                word(self.tag, RUNNING_G),
                Ordering::Acquire,
                Ordering::Relaxed,
            )
            .is_ok()
    }

    /// The G hands the P off at once (Go's `entersyscallblock`): gives up `RUNNING_G` for an
    /// owned handle the caller passes to another M. `None` if it was already retaken.
    #[must_use]
    pub(crate) fn release(&self) -> Option<PHandle> {
        self.p
            .own
            .compare_exchange(
                word(self.tag, RUNNING_G),
                word(RETAKER_TAG, OWNED),
                Ordering::Acquire,
                Ordering::Relaxed,
            )
            .ok()
            .map(|_| PHandle {
                p: self.p,
                tag: RETAKER_TAG,
            })
    }

    /// Re-enters the running state with a P obtained elsewhere (exitsyscall's slow path took an
    /// idle P): converts an owned handle into the running token for the same M.
    pub(crate) fn from_handle(h: PHandle) -> RunningP {
        h.start_g()
    }
}

/// Puts `g` into the runnext of a P accessed from a running G (through `g_access`).
#[must_use]
pub(crate) fn put_runnext_shared(p: &PShared, g: GRef) -> Option<GRef> {
    put_runnext(p, g)
}
