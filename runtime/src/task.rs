//! Task cells: the one allocation behind every G's work, and the block pool that serves them.
//!
//! A spawn makes one *cell*: a small header (a reference count and a table of three functions)
//! followed by the G's work, a [`Runnable`] (join.rs's `Task`: the closure and the join slot;
//! a detached G's closure; a synctest member's wrapper; a model's no-op). The G holds one
//! counted reference (an [`Entry`]) until its work returned; a `JoinHandle` holds another (a
//! [`RawRef`] plus a table of its own, typed on the result). The last reference to go destroys
//! the work in place and gives the block back. This is `Arc<dyn Runnable>` with the allocation
//! taken away from `malloc`: the cell's layout is known at the spawn, so a small cell (at most
//! [`pool::MAX_BLOCK`] bytes, the common case: a closure capturing a few words) comes from a
//! per-thread free list of fixed-size blocks, carved from 64 KiB chunks, the way Go's `mcache`
//! serves small objects from per-P spans. Measured in spawn_join's profile (callgrind, 2 Ps):
//! `malloc` and `free` of the 80-byte task cost about 330 instructions per G, most of it in
//! glibc's `_int_malloc` and `_int_free` walking bins, because a burst keeps a million tasks
//! alive at once (every `JoinHandle` holds one) and glibc's per-thread cache holds 7.
//!
//! # Invariants (who touches what)
//!
//! * `Header::refs` counts the live `Entry`/`RawRef`/[`TaskPtr`] values of the cell (Arc's
//!   protocol): a clone adds one (Relaxed: the cloner already holds a reference, so the cell is
//!   alive); a drop subtracts one with Release, and the one that takes it to zero issues an
//!   Acquire fence before it destroys the work, so every use by any other holder happens before
//!   the destruction (the pairing is the Release decrement of each other holder).
//! * `Header::vt` and the work's type are fixed when the cell is made and never change; the
//!   functions in it are the work's own, monomorphised (so an `Entry` knows how to run and
//!   destroy its work without knowing its type).
//! * The work is reached only through a reference: `Runnable::run`/`abandon` get the G's
//!   reference by value (each is called at most once per cell: the engine takes the `Entry` out
//!   of the G record to call it), and the join side reaches it through the `JoinHandle`'s.
//!   What the work shares between them is its own business (join.rs: a mutex and an atomic).
//! * A block is owned by exactly one cell from `pool::alloc` to `pool::free`; a free block is
//!   owned by exactly one free list (a thread's, or the global one under its lock). A block is
//!   never handed out twice: `free` is called once, by the destroyer, after the work was dropped.
//! * A thread keeps at most [`pool::LOCAL_CAP`] free blocks per class and moves the older half
//!   to the global list beyond that; a thread that ends gives all of them back (its
//!   thread-local's destructor), and so does an M before it parks and at its first round after
//!   the scavenger asks (`m::request_release`, before it releases chunks): blocks freed in a
//!   random order would otherwise sit in every chunk from some M's list and pin them all. A
//!   plain thread that spawns keeps its list until it ends. Free lists are vectors of
//!   addresses, outside the blocks: a free block's bytes mean nothing.
//! * Memory goes back after a burst through the scavenger (scavenge.rs, step 3: once a burst
//!   of Gs has drained and stayed quiet): [`pool::release_free_chunks`] takes each class's
//!   global list out under its lock, finds the chunks all of whose blocks are in it (chunks
//!   are `CHUNK`-aligned, so a block's chunk is its address rounded down), gives those chunks
//!   back to the allocator and puts the other blocks back; the scavenger's `malloc_trim` then
//!   returns the pages to the OS. The blocks it holds meanwhile are in no list, so no thread
//!   can be handed one; a chunk with a block alive, or free in some thread's list, is kept.
//!   Between bursts the pool keeps what the last burst needed (RSS flat over rounds, as Go's
//!   heap until its scavenger returns free spans).
//! * Under `--cfg loom` the pool is bypassed (every cell is a plain allocation): the models
//!   create cells inside model executions, and a pool outliving them is not part of any model.

use crate::loom::unmodelled::{fence, AtomicUsize, Ordering};
use std::alloc::Layout;
use std::marker::PhantomData;
use std::ptr::NonNull;

/// The work of a G, as the engine sees it. Each method gets the G's counted reference and is
/// called at most once per cell (the engine takes the `Entry` out of the G record to call it).
pub(crate) trait Runnable: Send + Sync + Sized + 'static {
    /// Runs the work on the G (join.rs: the closure, then the exit protocol). Dropping `this`
    /// gives up the G's reference.
    fn run(this: TaskPtr<Self>);
    /// The G will never run: complete the work with `why` (the closure is dropped unrun).
    fn abandon(this: TaskPtr<Self>, why: String);
}

/// The bytes a cell adds in front of its work (for a work aligned to at most 8).
#[cfg(test)]
pub(crate) const HEADER_BYTES: usize = std::mem::size_of::<Header>();

/// The start of every cell.
#[repr(C)]
struct Header {
    /// Live references; see the module docs for the orderings.
    refs: AtomicUsize,
    /// The work's own functions (fixed for the cell's life).
    vt: &'static VTable,
}

/// How to run and destroy the work of a cell whose type is erased.
struct VTable {
    run: unsafe fn(NonNull<Header>),
    abandon: unsafe fn(NonNull<Header>, String),
    destroy: unsafe fn(NonNull<Header>),
}

/// A cell: the header, then the work.
#[repr(C)]
struct Cell<R> {
    hdr: Header,
    work: R,
}

fn vtable<R: Runnable>() -> &'static VTable {
    &VTable {
        run: run_erased::<R>,
        abandon: abandon_erased::<R>,
        destroy: destroy_erased::<R>,
    }
}

/// # Safety
/// `h` is a counted reference to a `Cell<R>`, given up to this call.
unsafe fn run_erased<R: Runnable>(h: NonNull<Header>) {
    // SAFETY: caller's contract: the reference moves into the `TaskPtr`.
    R::run(unsafe { TaskPtr::from_header(h) })
}

/// # Safety
/// As for [`run_erased`].
unsafe fn abandon_erased<R: Runnable>(h: NonNull<Header>, why: String) {
    // SAFETY: caller's contract: the reference moves into the `TaskPtr`.
    R::abandon(unsafe { TaskPtr::from_header(h) }, why)
}

/// # Safety
/// `h` is a `Cell<R>` whose last reference was just released (after the Acquire fence).
unsafe fn destroy_erased<R: Runnable>(h: NonNull<Header>) {
    /// Gives the block back even if the work's destructor panics (join.rs catches that panic
    /// at the G's boundary; the block must not leak with it).
    struct Free(NonNull<u8>, Layout);
    impl Drop for Free {
        fn drop(&mut self) {
            // SAFETY: the block came from `pool::alloc` with this layout (`TaskPtr::new`), and
            // its work has been dropped (or is being unwound out of) by now.
            unsafe { pool::free(self.0, self.1) }
        }
    }
    let _free = Free(h.cast(), Layout::new::<Cell<R>>());
    // SAFETY: no reference is left (caller's contract), so nobody else reaches the work.
    unsafe { std::ptr::drop_in_place(&raw mut (*h.cast::<Cell<R>>().as_ptr()).work) };
}

/// Releases one reference; destroys the work and frees the block if it was the last.
///
/// # Safety
/// `h` is a counted reference to a live cell, given up to this call.
unsafe fn release(h: NonNull<Header>) {
    // SAFETY: the cell is alive while we hold a reference (caller's contract).
    let hdr = unsafe { h.as_ref() };
    // Release: our uses of the work happen before the destroyer's Acquire fence.
    if hdr.refs.fetch_sub(1, Ordering::Release) != 1 {
        return;
    }
    // Acquire: pairs with every other holder's Release decrement.
    fence(Ordering::Acquire);
    let destroy = hdr.vt.destroy;
    // SAFETY: we released the last reference.
    unsafe { destroy(h) }
}

/// Adds one reference (the caller holds one, so the cell is alive).
fn acquire(hdr: &Header) {
    // Relaxed: the new reference is derived from a live one (Arc's argument); Arc's guard
    // against an overflowing count is kept.
    if hdr.refs.fetch_add(1, Ordering::Relaxed) > isize::MAX as usize {
        std::process::abort();
    }
}

/// A typed counted reference to a cell's work (the `Arc<R>` of this module).
pub(crate) struct TaskPtr<R: Runnable> {
    cell: NonNull<Cell<R>>,
    _own: PhantomData<R>,
}

// SAFETY: a `TaskPtr` gives `&R` only (Deref) and may drop `R` on any thread when it is the
// last reference: that needs `R: Send + Sync`, which `Runnable` requires, as `Arc<R>` would.
unsafe impl<R: Runnable> Send for TaskPtr<R> {}
// SAFETY: as above.
unsafe impl<R: Runnable> Sync for TaskPtr<R> {}

impl<R: Runnable> TaskPtr<R> {
    /// Makes a cell holding `work`, with one reference (this one).
    pub(crate) fn new(work: R) -> TaskPtr<R> {
        let layout = Layout::new::<Cell<R>>();
        let cell = pool::alloc(layout).cast::<Cell<R>>();
        // SAFETY: the block is fresh, ours, and fits `Cell<R>` (size and alignment: `alloc`).
        unsafe {
            cell.as_ptr().write(Cell {
                hdr: Header {
                    refs: AtomicUsize::new(1),
                    vt: vtable::<R>(),
                },
                work,
            })
        };
        TaskPtr {
            cell,
            _own: PhantomData,
        }
    }

    /// # Safety
    /// `h` is a counted reference to a `Cell<R>`; it moves into the result.
    unsafe fn from_header(h: NonNull<Header>) -> TaskPtr<R> {
        TaskPtr {
            cell: h.cast(),
            _own: PhantomData,
        }
    }

    /// Another reference, as the G's entry (type-erased).
    pub(crate) fn entry(&self) -> Entry {
        acquire(self.header());
        Entry(RawRef(self.cell.cast()))
    }

    /// This reference, type-erased (for a `JoinHandle`).
    pub(crate) fn into_raw_ref(self) -> RawRef {
        let h = self.cell.cast();
        std::mem::forget(self);
        RawRef(h)
    }

    /// This reference, as a G's entry.
    pub(crate) fn into_entry(self) -> Entry {
        Entry(self.into_raw_ref())
    }

    fn header(&self) -> &Header {
        // SAFETY: the cell is alive while this reference exists; the header is its first field.
        unsafe { &self.cell.as_ref().hdr }
    }
}

impl<R: Runnable> std::ops::Deref for TaskPtr<R> {
    type Target = R;
    fn deref(&self) -> &R {
        // SAFETY: the cell is alive while this reference exists; its work is dropped only by
        // the last reference's release.
        unsafe { &self.cell.as_ref().work }
    }
}

impl<R: Runnable> Drop for TaskPtr<R> {
    fn drop(&mut self) {
        // SAFETY: this is a counted reference, given up here.
        unsafe { release(self.cell.cast()) }
    }
}

/// A counted reference to a cell of unknown work type (a `JoinHandle`'s).
pub(crate) struct RawRef(NonNull<Header>);

// SAFETY: as for `TaskPtr`: every work type is `Send + Sync` (`Runnable`), and a `RawRef` only
// hands its pointer to the functions of the work's own tables.
unsafe impl Send for RawRef {}
// SAFETY: as above.
unsafe impl Sync for RawRef {}

impl RawRef {
    /// The work, as the `R` it was made with.
    ///
    /// # Safety
    /// The cell must hold an `R` (the caller made it with `TaskPtr::<R>::new`).
    pub(crate) unsafe fn work<R: Runnable>(&self) -> &R {
        // SAFETY: caller's contract for the type; alive while this reference exists.
        unsafe { &self.0.cast::<Cell<R>>().as_ref().work }
    }
}

impl Drop for RawRef {
    fn drop(&mut self) {
        // SAFETY: this is a counted reference, given up here.
        unsafe { release(self.0) }
    }
}

/// The G's counted reference to its work, type-erased (`g::Entry`).
pub(crate) struct Entry(RawRef);

impl Entry {
    /// A cell holding `work`; this is its only reference.
    pub(crate) fn new<R: Runnable>(work: R) -> Entry {
        TaskPtr::new(work).into_entry()
    }

    /// Runs the work on the G (`Runnable::run`), giving up this reference.
    pub(crate) fn run(self) {
        let h = (self.0).0;
        std::mem::forget(self);
        // SAFETY: `h` is a counted reference, moved into the call; the table is the work's own.
        unsafe { (h.as_ref().vt.run)(h) }
    }

    /// The G will never run (`Runnable::abandon`), giving up this reference.
    pub(crate) fn abandon(self, why: String) {
        let h = (self.0).0;
        std::mem::forget(self);
        // SAFETY: as in `run`.
        unsafe { (h.as_ref().vt.abandon)(h, why) }
    }
}

/// The block pool (see the module docs): fixed-size blocks of `GRAIN`-byte classes up to
/// `MAX_BLOCK`, per-thread free lists in front of one global list per class.
pub(crate) mod pool {
    use crate::loom::unmodelled::Mutex;
    use std::alloc::Layout;
    use std::cell::RefCell;
    use std::ptr::NonNull;

    /// Block sizes are multiples of this (and blocks are aligned to it).
    const GRAIN: usize = 16;
    /// The largest block; larger cells (or more strictly aligned ones) go to the allocator.
    pub(crate) const MAX_BLOCK: usize = 128;
    const CLASSES: usize = MAX_BLOCK / GRAIN;
    /// Bytes carved at once when a class runs dry; chunks are aligned to their size (so a
    /// block's chunk is its address rounded down: `release_free_chunks`).
    const CHUNK: usize = 64 * 1024;
    /// Free blocks a thread keeps per class before it moves the older half to the global list.
    pub(crate) const LOCAL_CAP: usize = 2048;
    /// Blocks a thread takes from the global list at once.
    const BATCH: usize = 256;

    /// A free block's address.
    type Block = usize;

    struct Local {
        free: [Vec<Block>; CLASSES],
    }

    impl Drop for Local {
        fn drop(&mut self) {
            // The thread ends: its blocks go back to the global lists, for the other threads.
            for (c, l) in self.free.iter_mut().enumerate() {
                if !l.is_empty() {
                    GLOBAL[c].lock().append(l);
                }
            }
        }
    }

    std::thread_local! {
        static LOCAL: RefCell<Local> = const {
            RefCell::new(Local {
                free: [const { Vec::new() }; CLASSES],
            })
        };
    }

    static GLOBAL: [Mutex<Vec<Block>>; CLASSES] = [const { Mutex::new(Vec::new()) }; CLASSES];

    fn class_of(layout: Layout) -> Option<usize> {
        if cfg!(loom) || layout.align() > GRAIN || layout.size() > MAX_BLOCK {
            return None;
        }
        Some(layout.size().max(1).div_ceil(GRAIN) - 1)
    }

    /// A block for `layout`. Not inlined: the thread-local address is computed inside, never
    /// in a caller's frame that a G might carry to another thread (m.rs, `with_m`).
    #[inline(never)]
    pub(crate) fn alloc(layout: Layout) -> NonNull<u8> {
        let Some(c) = class_of(layout) else {
            return plain_alloc(layout);
        };
        let b = LOCAL
            .try_with(|l| {
                let mut l = l.borrow_mut();
                let list = &mut l.free[c];
                if list.is_empty() {
                    refill(list, c);
                }
                list.pop()
            })
            .ok()
            .flatten()
            // The thread is ending (its thread-local is gone): one block straight from the
            // global list.
            .unwrap_or_else(|| {
                let mut one = Vec::new();
                refill(&mut one, c);
                let b = one.pop().expect("refill adds blocks");
                // The rest of the batch back where it came from: no list would hold it
                // otherwise, and its chunks could never be released.
                if !one.is_empty() {
                    GLOBAL[c].lock().append(&mut one);
                }
                b
            });
        // SAFETY: block addresses are never 0 (they come from a chunk the allocator gave).
        unsafe { NonNull::new_unchecked(b as *mut u8) }
    }

    /// Gives back a block `alloc(layout)` returned.
    ///
    /// # Safety
    /// `p` came from [`alloc`] with the same `layout`, and nothing uses it any more.
    #[inline(never)]
    pub(crate) unsafe fn free(p: NonNull<u8>, layout: Layout) {
        let Some(c) = class_of(layout) else {
            // SAFETY: `alloc` got it from `plain_alloc` with this layout (caller's contract).
            unsafe { std::alloc::dealloc(p.as_ptr(), layout) };
            return;
        };
        let b = p.as_ptr() as Block;
        let kept = LOCAL.try_with(|l| {
            let mut l = l.borrow_mut();
            let list = &mut l.free[c];
            list.push(b);
            if list.len() > LOCAL_CAP {
                // The oldest half (coldest in this core's cache) goes to the global list.
                let older: Vec<Block> = list.drain(..LOCAL_CAP / 2).collect();
                GLOBAL[c].lock().extend(older);
            }
        });
        if kept.is_err() {
            GLOBAL[c].lock().push(b);
        }
    }

    /// Moves this thread's free blocks to the global lists (an M between Gs, through
    /// `m::release_caches`: when the scavenger asked before it releases chunks, and before the
    /// M parks), so blocks an idle or long-lived M keeps do not pin chunks for ever.
    #[inline(never)]
    pub(crate) fn flush_local() {
        let _ = LOCAL.try_with(|l| {
            let mut l = l.borrow_mut();
            for (c, list) in l.free.iter_mut().enumerate() {
                if !list.is_empty() {
                    GLOBAL[c].lock().append(list);
                }
            }
        });
    }

    /// Adds free blocks of class `c` to `list`: a batch from the global list, else a new chunk.
    #[cold]
    fn refill(list: &mut Vec<Block>, c: usize) {
        {
            let mut g = GLOBAL[c].lock();
            if !g.is_empty() {
                let at = g.len().saturating_sub(BATCH);
                list.extend(g.drain(at..));
                return;
            }
        }
        let size = (c + 1) * GRAIN;
        let chunk = plain_alloc(chunk_layout());
        let base = chunk.as_ptr() as usize;
        // Highest address first, so the blocks are handed out in address order.
        list.extend((0..CHUNK / size).rev().map(|i| base + i * size));
    }

    fn chunk_layout() -> Layout {
        Layout::from_size_align(CHUNK, CHUNK).expect("valid layout")
    }

    /// Gives back to the allocator every chunk all of whose blocks are free in the global lists
    /// (module docs); returns the number of chunks released. For the scavenger thread, after a
    /// burst: it sorts each class's global list (a million free blocks: tens of milliseconds,
    /// off every M's path).
    pub(crate) fn release_free_chunks() -> usize {
        let mut released = 0;
        for (c, global) in GLOBAL.iter().enumerate() {
            let mut blocks = std::mem::take(&mut *global.lock());
            if blocks.is_empty() {
                continue;
            }
            let per_chunk = CHUNK / ((c + 1) * GRAIN);
            blocks.sort_unstable();
            let mut keep = Vec::new();
            let mut free_chunks = Vec::new();
            for run in blocks.chunk_by(|a, b| a & !(CHUNK - 1) == b & !(CHUNK - 1)) {
                if run.len() == per_chunk {
                    free_chunks.push(run[0] & !(CHUNK - 1));
                } else {
                    keep.extend_from_slice(run);
                }
            }
            drop(blocks);
            if !keep.is_empty() {
                global.lock().append(&mut keep);
            }
            for chunk in free_chunks {
                // SAFETY: `chunk` came from `plain_alloc(chunk_layout())` in `refill` (every
                // block of a chunk is in one class and the chunk is aligned to its size), and
                // every block of it was free and taken out of the only list holding it, so
                // nothing uses any of its bytes or can be handed one of its blocks.
                unsafe { std::alloc::dealloc(chunk as *mut u8, chunk_layout()) };
                released += 1;
            }
        }
        released
    }

    fn plain_alloc(layout: Layout) -> NonNull<u8> {
        // SAFETY: every layout here has a non-zero size (a cell has a header).
        let p = unsafe { std::alloc::alloc(layout) };
        NonNull::new(p).unwrap_or_else(|| std::alloc::handle_alloc_error(layout))
    }

    /// Free blocks in the global lists, per class (for tests).
    #[cfg(test)]
    pub(crate) fn global_free() -> usize {
        GLOBAL.iter().map(|g| g.lock().len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize as Count;
    use std::sync::Arc;

    /// Tests that count released chunks run one at a time (a release takes every class's).
    static RELEASING: std::sync::Mutex<()> = std::sync::Mutex::new(());

    struct Probe {
        drops: Arc<Count>,
        ran: Arc<Count>,
    }
    impl Drop for Probe {
        fn drop(&mut self) {
            self.drops.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }
    impl Runnable for Probe {
        fn run(this: TaskPtr<Self>) {
            this.ran.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
        fn abandon(this: TaskPtr<Self>, _why: String) {
            this.ran.fetch_add(100, std::sync::atomic::Ordering::SeqCst);
        }
    }

    #[test]
    fn the_last_reference_drops_the_work_once() {
        let drops = Arc::new(Count::new(0));
        let ran = Arc::new(Count::new(0));
        let t = TaskPtr::new(Probe {
            drops: drops.clone(),
            ran: ran.clone(),
        });
        let e = t.entry();
        let raw = t.into_raw_ref();
        e.run();
        assert_eq!(ran.load(std::sync::atomic::Ordering::SeqCst), 1);
        assert_eq!(
            drops.load(std::sync::atomic::Ordering::SeqCst),
            0,
            "the handle still holds it"
        );
        // SAFETY: made as a `Probe` above.
        let work = unsafe { raw.work::<Probe>() };
        assert_eq!(work.ran.load(std::sync::atomic::Ordering::SeqCst), 1);
        drop(raw);
        assert_eq!(drops.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    #[test]
    fn blocks_are_reused_and_never_shared_between_live_cells() {
        let drops = Arc::new(Count::new(0));
        let ran = Arc::new(Count::new(0));
        let mk = || {
            TaskPtr::new(Probe {
                drops: drops.clone(),
                ran: ran.clone(),
            })
        };
        // Live cells have distinct blocks.
        let live: Vec<_> = (0..3 * pool::LOCAL_CAP).map(|_| mk()).collect();
        let mut addrs: Vec<usize> = live.iter().map(|t| t.cell.as_ptr() as usize).collect();
        addrs.sort_unstable();
        addrs.dedup();
        assert_eq!(addrs.len(), live.len());
        // Freeing more than a thread keeps moves blocks to the global list.
        drop(live);
        assert!(pool::global_free() > 0);
        assert_eq!(
            drops.load(std::sync::atomic::Ordering::SeqCst),
            3 * pool::LOCAL_CAP
        );
        // A freed block is handed out again (LIFO on this thread).
        let a = mk();
        let pa = a.cell.as_ptr() as usize;
        drop(a);
        let b = mk();
        assert_eq!(b.cell.as_ptr() as usize, pa);
    }

    #[test]
    fn chunks_whose_blocks_are_all_free_go_back() {
        // A size class no other test uses (cells of 113-128 bytes: 512 blocks per chunk).
        struct Wide([u8; 100]);
        impl Runnable for Wide {
            fn run(_: TaskPtr<Self>) {}
            fn abandon(_: TaskPtr<Self>, _: String) {}
        }
        let _one = RELEASING.lock().unwrap_or_else(|e| e.into_inner());
        // Three chunks' worth, made and freed on a thread that then ends: its free list goes
        // to the global list (the thread-local's destructor), where the scavenger finds it.
        std::thread::spawn(|| {
            let cells: Vec<_> = (0..3 * 512).map(|_| TaskPtr::new(Wide([1; 100]))).collect();
            assert!(cells.iter().all(|c| c.0[99] == 1));
        })
        .join()
        .unwrap();
        assert!(pool::release_free_chunks() >= 3);
        // The pool still serves that class afterwards (from a new chunk).
        let t = TaskPtr::new(Wide([2; 100]));
        assert_eq!(t.0[0], 2);
    }

    #[test]
    fn blocks_freed_out_of_order_on_a_live_thread_are_released_after_a_flush() {
        // A class no other test uses (cells of 97-112 bytes: 585 blocks per chunk).
        struct Mid([u8; 90]);
        impl Runnable for Mid {
            fn run(_: TaskPtr<Self>) {}
            fn abandon(_: TaskPtr<Self>, _: String) {}
        }
        let _one = RELEASING.lock().unwrap_or_else(|e| e.into_inner());
        std::thread::spawn(|| {
            let mut cells: Vec<_> = (0..20 * 585)
                .map(|_| Some(TaskPtr::new(Mid([3; 90]))))
                .collect();
            // Free in a scattered order: this thread's list then holds blocks of every chunk.
            let n = cells.len();
            for i in 0..n {
                cells[(i * 7919) % n] = None;
            }
            assert!(cells.iter().all(Option::is_none));
            let probe = TaskPtr::new(Mid([4; 90]));
            assert_eq!(probe.0[89], 4);
            drop(probe);
            // Without the flush, the blocks this live thread keeps pin every chunk.
            pool::flush_local();
            assert!(pool::release_free_chunks() >= 20);
        })
        .join()
        .unwrap();
    }

    #[test]
    fn large_or_aligned_work_goes_to_the_allocator() {
        #[repr(align(64))]
        struct Big([u8; 200]);
        impl Runnable for Big {
            fn run(_: TaskPtr<Self>) {}
            fn abandon(_: TaskPtr<Self>, _: String) {}
        }
        let t = TaskPtr::new(Big([7; 200]));
        assert_eq!(t.0[199], 7);
        assert_eq!(t.cell.as_ptr() as usize % 64, 0);
        t.entry().abandon(String::new());
    }
}
