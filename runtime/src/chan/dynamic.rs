//! The dynamic `Select` (crossbeam-channel's API) on the engine's select algorithm (select.rs).
//!
//! A `Select` holds one boxed operation per `recv`/`send` call, each with its arms (arms.rs),
//! reused by every `select`/`ready` call, so a select over a runtime-sized set of channels
//! allocates only when operations are added. Per call:
//!
//! * `select` runs the algorithm over the operations' *performing* arms: a receive is a
//!   [`RecvArm`] (performed by pass 1 or by its claimer, exactly as in `select!`, so a losing
//!   receive consumes nothing); a send is a [`WatchArm`] in reserve mode, because its value comes
//!   only later, in [`SelectedOperation::send`]: pass 1 reserves a parked receiver or a buffer
//!   slot, and a parked send is a watcher, woken to run pass 1 again. Go's uniform choice among
//!   ready operations comes with the algorithm's random pass-1 order.
//! * `ready` runs it over *watching* arms only ([`WatchArm`] in ready mode): nothing is
//!   performed; the index of an operation that was ready is returned.
//!
//! The chosen operation leaves the `Select` as a [`SelectedOperation`] holding what it needs to
//! finish: the received result (moved out of the arm), or the send's reservation. It borrows the
//! channels (`'a`), not the `Select`, as in crossbeam. Its `recv`/`send` check that they are given
//! the selected operation's channel: same channel object means same element type, which is what
//! makes the type-erased value and reservation sound to cast back.
//!
//! Dropping a `SelectedOperation` unfinished gives the reservation back (a claimed receiver is
//! woken with `RETRY` and looks again; a reserved slot is freed) and then panics, as crossbeam
//! does: the program forgot an operation it had been promised.

use super::arms::{RecvArm, WatchArm};
use super::select::{select_in, Arms, Mode, SelectArm};
use super::waiter::{Reservation, SelCore};
use super::{Chan, Receiver, RecvError, SendError, Sender, TrySend};
use crate::loom::Arc;
use std::fmt;
use std::marker::PhantomData;
use std::mem::{ManuallyDrop, MaybeUninit};
use std::time::{Duration, Instant};

/// A select over a set of channel operations chosen at run time (crossbeam-channel's `Select`,
/// Go's `reflect.Select`): add operations with [`recv`](Select::recv) and
/// [`send`](Select::send), then wait for one with [`select`](Select::select) (and finish it
/// with [`SelectedOperation::recv`] or [`SelectedOperation::send`]) or learn which is ready with
/// [`ready`](Select::ready).
///
/// Among ready operations one is chosen uniformly at random (Go's rule; see
/// [`new_biased`](Select::new_biased) for the other). A closed channel's operation is ready (it
/// finishes with an error), and so is a due timer channel's. It works on green threads and
/// plain threads alike, and the same `Select` can be used for any number of selects.
///
/// # Examples
///
/// ```
/// use gort::chan::{unbounded, Select};
/// let chans: Vec<_> = (0..4).map(|_| unbounded::<usize>()).collect();
/// let (txs, rxs): (Vec<_>, Vec<_>) = chans.into_iter().unzip();
/// for (i, tx) in txs.into_iter().enumerate() {
///     gort::spawn(move || tx.send(i * 10).unwrap());
/// }
/// let mut sel = Select::new();
/// for rx in &rxs {
///     sel.recv(rx);
/// }
/// let mut got = Vec::new();
/// while got.len() < 4 {
///     let op = sel.select();
///     let i = op.index();
///     match op.recv(&rxs[i]) {
///         Ok(v) => got.push(v),
///         Err(_) => sel.remove(i), // that sender is gone: stop watching its channel
///     }
/// }
/// got.sort();
/// assert_eq!(got, [0, 10, 20, 30]);
/// ```
pub struct Select<'a> {
    ops: Vec<Op<'a>>,
    /// The index the next added operation gets (indices of removed ones are not reused).
    next_index: usize,
    /// Pass 1 in insertion order instead of a random one.
    biased: bool,
    /// Scratch space for pass 1's order, one entry per operation.
    order: Vec<u32>,
}

struct Op<'a> {
    index: usize,
    op: Box<dyn DynOp<'a> + 'a>,
}

// SAFETY: operations are added only for `T: Send` (so `&Receiver<T>`/`&Sender<T>` are `Send` and
// `Sync`). Their interior state (cells, waiter nodes, slots) is touched only through `&mut
// Select` (`select`/`ready` and their variants); between calls no waiter is linked and no value
// or reservation is held (the chosen one moved to its `SelectedOperation`). Through `&Select`
// only `clone` runs, which reads the channel handles alone.
unsafe impl Send for Select<'_> {}
// SAFETY: as above.
unsafe impl Sync for Select<'_> {}

/// One operation of a `Select`, type-erased.
trait DynOp<'a> {
    /// The arm that `select` (`perform`) or `ready` (not `perform`) runs.
    fn arm(&self, perform: bool) -> &dyn SelectArm;
    /// After `select` chose this operation: what its `SelectedOperation` needs.
    fn take_selected(&self) -> Pending;
    /// The channel (for identity checks and for giving a reserved slot back).
    fn chan(&self) -> &'a dyn ChanRef;
    fn clone_op(&self) -> Box<dyn DynOp<'a> + 'a>;
}

/// What a `SelectedOperation` may do with its channel without knowing its element type.
trait ChanRef {
    fn release_slot(&self);
}

impl<T> ChanRef for Chan<T> {
    fn release_slot(&self) {
        Chan::release_slot(self);
    }
}

struct RecvOp<'a, T> {
    rx: &'a Receiver<T>,
    perform: RecvArm<'a, T>,
    watch: WatchArm<'a, T>,
}

impl<'a, T: Send> DynOp<'a> for RecvOp<'a, T> {
    fn arm(&self, perform: bool) -> &dyn SelectArm {
        if perform {
            &self.perform
        } else {
            &self.watch
        }
    }

    fn take_selected(&self) -> Pending {
        let r = self
            .perform
            .take_result()
            .expect("select chose a receive that did not complete");
        Pending::Recv(Erased::new(r))
    }

    fn chan(&self) -> &'a dyn ChanRef {
        let rx: &'a Receiver<T> = self.rx;
        &*rx.c
    }

    fn clone_op(&self) -> Box<dyn DynOp<'a> + 'a> {
        Box::new(RecvOp::new(self.rx))
    }
}

impl<'a, T> RecvOp<'a, T> {
    fn new(rx: &'a Receiver<T>) -> Self {
        RecvOp {
            rx,
            perform: RecvArm::new(rx),
            watch: WatchArm::new(&rx.c, false),
        }
    }
}

struct SendOp<'a, T> {
    tx: &'a Sender<T>,
    watch: WatchArm<'a, T>,
}

impl<'a, T: Send> DynOp<'a> for SendOp<'a, T> {
    fn arm(&self, perform: bool) -> &dyn SelectArm {
        self.watch.reserve.set(perform);
        &self.watch
    }

    fn take_selected(&self) -> Pending {
        match self.watch.got.take() {
            Some(Reservation::Closed) => Pending::SendClosed,
            Some(Reservation::Slot) => Pending::SendSlot,
            Some(Reservation::Receiver(core, slot)) => Pending::SendTo(core, slot),
            // A deferred sender woken by `close` is answered with nothing.
            None => Pending::SendClosed,
        }
    }

    fn chan(&self) -> &'a dyn ChanRef {
        let tx: &'a Sender<T> = self.tx;
        &*tx.c
    }

    fn clone_op(&self) -> Box<dyn DynOp<'a> + 'a> {
        Box::new(SendOp {
            tx: self.tx,
            watch: WatchArm::new(&self.tx.c, true),
        })
    }
}

/// A `Select`'s operations as the algorithm's arm set.
struct OpArms<'s, 'a> {
    ops: &'s [Op<'a>],
    perform: bool,
}

impl Arms for OpArms<'_, '_> {
    fn len(&self) -> usize {
        self.ops.len()
    }
    fn arm(&self, i: usize) -> &dyn SelectArm {
        self.ops[i].op.arm(self.perform)
    }
}

impl<'a> Select<'a> {
    /// An empty set of operations; among ready ones, `select` and `ready` choose uniformly at
    /// random.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut sel = gort::chan::Select::new();
    /// assert!(sel.try_select().is_err()); // nothing to select
    /// ```
    #[must_use]
    pub fn new() -> Select<'a> {
        Select {
            ops: Vec::with_capacity(4),
            next_index: 0,
            biased: false,
            order: Vec::with_capacity(4),
        }
    }

    /// An empty set of operations that prefers the earliest added among ready ones
    /// (crossbeam's `new_biased`; not Go's rule).
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx1, rx1) = gort::chan::unbounded::<u8>();
    /// let (tx2, rx2) = gort::chan::unbounded::<u8>();
    /// tx1.send(1).unwrap();
    /// tx2.send(2).unwrap();
    /// let mut sel = gort::chan::Select::new_biased();
    /// let first = sel.recv(&rx1);
    /// sel.recv(&rx2);
    /// assert_eq!(sel.ready(), first);
    /// ```
    #[must_use]
    pub fn new_biased() -> Select<'a> {
        Select {
            biased: true,
            ..Select::new()
        }
    }

    /// Adds a receive from `rx`; returns the operation's index.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = gort::chan::bounded(1);
    /// tx.send(7).unwrap();
    /// let mut sel = gort::chan::Select::new();
    /// let i = sel.recv(&rx);
    /// let op = sel.select();
    /// assert_eq!(op.index(), i);
    /// assert_eq!(op.recv(&rx), Ok(7));
    /// ```
    pub fn recv<T: Send>(&mut self, rx: &'a Receiver<T>) -> usize {
        self.push(Box::new(RecvOp::new(rx)))
    }

    /// Adds a send on `tx`; returns the operation's index. The value is given when the
    /// operation is finished ([`SelectedOperation::send`]).
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = gort::chan::bounded(1);
    /// let mut sel = gort::chan::Select::new();
    /// let i = sel.send(&tx);
    /// let op = sel.select();
    /// assert_eq!(op.index(), i);
    /// op.send(&tx, "hi").unwrap();
    /// assert_eq!(rx.recv(), Ok("hi"));
    /// ```
    pub fn send<T: Send>(&mut self, tx: &'a Sender<T>) -> usize {
        self.push(Box::new(SendOp {
            tx,
            watch: WatchArm::new(&tx.c, true),
        }))
    }

    fn push(&mut self, op: Box<dyn DynOp<'a> + 'a>) -> usize {
        let index = self.next_index;
        self.next_index += 1;
        self.ops.push(Op { index, op });
        self.order.push(0);
        index
    }

    /// Removes the operation with index `index` (its index is not reused), for example once
    /// its channel is closed.
    ///
    /// # Panics
    ///
    /// If no operation has that index (never added, or already removed).
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx1, rx1) = gort::chan::unbounded::<i32>();
    /// let (_, rx2) = gort::chan::unbounded::<i32>(); // closed at once
    /// let mut sel = gort::chan::Select::new();
    /// let op1 = sel.recv(&rx1);
    /// let op2 = sel.recv(&rx2);
    /// let op = sel.select();
    /// assert_eq!(op.index(), op2);
    /// assert!(op.recv(&rx2).is_err());
    /// sel.remove(op2);
    /// tx1.send(10).unwrap();
    /// let op = sel.select();
    /// assert_eq!(op.index(), op1);
    /// assert_eq!(op.recv(&rx1), Ok(10));
    /// ```
    pub fn remove(&mut self, index: usize) {
        assert!(
            index < self.next_index,
            "index out of bounds; {index} >= {}",
            self.next_index
        );
        let pos = self
            .ops
            .iter()
            .position(|op| op.index == index)
            .expect("no operation with this index");
        self.ops.remove(pos);
        self.order.pop();
    }

    /// Selects a ready operation without blocking; `Err` if none is ready.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = gort::chan::unbounded::<u8>();
    /// let mut sel = gort::chan::Select::new();
    /// sel.recv(&rx);
    /// assert!(sel.try_select().is_err());
    /// tx.send(1).unwrap();
    /// assert_eq!(sel.try_select().unwrap().recv(&rx), Ok(1));
    /// ```
    #[track_caller]
    pub fn try_select(&mut self) -> Result<SelectedOperation<'a>, TrySelectError> {
        self.run_select(Mode::NonBlock).ok_or(TrySelectError)
    }

    /// Waits until an operation is ready, selects it, and returns it to be finished with
    /// [`SelectedOperation::recv`] or [`SelectedOperation::send`].
    ///
    /// # Panics
    ///
    /// If no operation was added (it would wait for good; crossbeam panics too).
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = gort::chan::bounded::<u32>(0);
    /// gort::spawn(move || tx.send(5).unwrap());
    /// let mut sel = gort::chan::Select::new();
    /// sel.recv(&rx);
    /// assert_eq!(sel.select().recv(&rx), Ok(5));
    /// ```
    #[track_caller]
    pub fn select(&mut self) -> SelectedOperation<'a> {
        assert!(
            !self.ops.is_empty(),
            "no operations have been added to `Select`"
        );
        self.run_select(Mode::Block)
            .expect("a blocking select returned without an operation")
    }

    /// As [`select`](Select::select), giving up after `timeout`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let (_tx, rx) = gort::chan::bounded::<u8>(0);
    /// let mut sel = gort::chan::Select::new();
    /// sel.recv(&rx);
    /// assert!(sel.select_timeout(Duration::from_millis(5)).is_err());
    /// ```
    #[track_caller]
    pub fn select_timeout(
        &mut self,
        timeout: Duration,
    ) -> Result<SelectedOperation<'a>, SelectTimeoutError> {
        self.run_select(Mode::Timeout(timeout))
            .ok_or(SelectTimeoutError)
    }

    /// As [`select`](Select::select), giving up at `deadline`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let timer = gort::time::after(Duration::from_millis(1));
    /// let mut sel = gort::chan::Select::new();
    /// sel.recv(&timer);
    /// let op = sel.select_deadline(Instant::now() + Duration::from_secs(5)).unwrap();
    /// assert!(op.recv(&timer).is_ok());
    /// ```
    #[track_caller]
    pub fn select_deadline(
        &mut self,
        deadline: Instant,
    ) -> Result<SelectedOperation<'a>, SelectTimeoutError> {
        self.run_select(Mode::Deadline(deadline))
            .ok_or(SelectTimeoutError)
    }

    #[track_caller]
    fn run_select(&mut self, mode: Mode) -> Option<SelectedOperation<'a>> {
        let arms = OpArms {
            ops: &self.ops,
            perform: true,
        };
        let pos = select_in(&arms, mode, self.biased, &mut self.order)?;
        let op = &self.ops[pos];
        Some(SelectedOperation {
            index: op.index,
            chan: op.op.chan(),
            pending: op.op.take_selected(),
            _not_send: PhantomData,
        })
    }

    /// The index of a ready operation, if one is ready now; performs nothing. By the time the
    /// caller acts, another party may have taken the readiness (so act with a non-blocking
    /// operation and loop).
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = gort::chan::unbounded::<u8>();
    /// let mut sel = gort::chan::Select::new();
    /// let i = sel.recv(&rx);
    /// assert!(sel.try_ready().is_err());
    /// tx.send(1).unwrap();
    /// assert_eq!(sel.try_ready(), Ok(i));
    /// assert_eq!(rx.try_recv(), Ok(1)); // ready did not take it
    /// ```
    pub fn try_ready(&mut self) -> Result<usize, TryReadyError> {
        self.run_ready(Mode::NonBlock).ok_or(TryReadyError)
    }

    /// Waits until an operation is ready and returns its index; performs nothing (see
    /// [`try_ready`](Select::try_ready)).
    ///
    /// # Panics
    ///
    /// If no operation was added.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = gort::chan::bounded::<u8>(0);
    /// let mut sel = gort::chan::Select::new();
    /// let i = sel.send(&tx);
    /// gort::spawn(move || rx.recv().unwrap());
    /// assert_eq!(sel.ready(), i); // a receiver is waiting
    /// loop {
    ///     match tx.try_send(1) {
    ///         Ok(()) => break,
    ///         Err(_) => gort::yield_now(), // taken meanwhile: look again
    ///     }
    /// }
    /// ```
    #[track_caller]
    pub fn ready(&mut self) -> usize {
        assert!(
            !self.ops.is_empty(),
            "no operations have been added to `Select`"
        );
        self.run_ready(Mode::Block)
            .expect("a blocking ready returned without an operation")
    }

    /// As [`ready`](Select::ready), giving up after `timeout`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let (_tx, rx) = gort::chan::bounded::<u8>(0);
    /// let mut sel = gort::chan::Select::new();
    /// sel.recv(&rx);
    /// assert!(sel.ready_timeout(Duration::from_millis(5)).is_err());
    /// ```
    #[track_caller]
    pub fn ready_timeout(&mut self, timeout: Duration) -> Result<usize, ReadyTimeoutError> {
        self.run_ready(Mode::Timeout(timeout))
            .ok_or(ReadyTimeoutError)
    }

    /// As [`ready`](Select::ready), giving up at `deadline`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let timer = gort::time::after(Duration::from_millis(1));
    /// let mut sel = gort::chan::Select::new();
    /// let i = sel.recv(&timer);
    /// assert_eq!(sel.ready_deadline(Instant::now() + Duration::from_secs(5)), Ok(i));
    /// ```
    #[track_caller]
    pub fn ready_deadline(&mut self, deadline: Instant) -> Result<usize, ReadyTimeoutError> {
        self.run_ready(Mode::Deadline(deadline))
            .ok_or(ReadyTimeoutError)
    }

    #[track_caller]
    fn run_ready(&mut self, mode: Mode) -> Option<usize> {
        let arms = OpArms {
            ops: &self.ops,
            perform: false,
        };
        let pos = select_in(&arms, mode, self.biased, &mut self.order)?;
        Some(self.ops[pos].index)
    }
}

impl Clone for Select<'_> {
    fn clone(&self) -> Self {
        Select {
            ops: self
                .ops
                .iter()
                .map(|op| Op {
                    index: op.index,
                    op: op.op.clone_op(),
                })
                .collect(),
            next_index: self.next_index,
            biased: self.biased,
            order: vec![0; self.ops.len()],
        }
    }
}

impl Default for Select<'_> {
    fn default() -> Self {
        Select::new()
    }
}

impl fmt::Debug for Select<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad("Select { .. }")
    }
}

/// What a selected operation still has to do.
enum Pending {
    /// A receive, done: its `Result<T, RecvError>`, erased.
    Recv(Erased),
    /// A send on a closed channel: it will fail.
    SendClosed,
    /// A send with a reserved buffer slot.
    SendSlot,
    /// A send to a claimed, parked receiver: its core and its slot (`*mut Option<T>`).
    SendTo(*const SelCore, *mut ()),
    /// Finished.
    Done,
}

/// An operation chosen by [`Select::select`], still to be finished with
/// [`recv`](SelectedOperation::recv) or [`send`](SelectedOperation::send), given the same
/// channel the operation was added with (a clone of that `Receiver`/`Sender` will do).
///
/// A chosen receive has already taken its value; a chosen send holds a reservation (a parked
/// receiver waits for the value, or a buffer slot is kept for it), so finish promptly.
///
/// # Panics
///
/// Dropping it unfinished panics (crossbeam's rule), after giving the reservation back: the
/// receiver it held looks again, the slot is freed; a received value is dropped.
///
/// # Examples
///
/// ```
/// let (tx, rx) = gort::chan::bounded::<i32>(0);
/// drop(rx);
/// let mut sel = gort::chan::Select::new();
/// let i = sel.send(&tx);
/// let op = sel.select();
/// assert_eq!(op.index(), i);
/// assert_eq!(op.send(&tx, 10), Err(gort::chan::SendError(10))); // closed
/// ```
#[must_use = "a selected operation must be finished with `recv` or `send`"]
pub struct SelectedOperation<'a> {
    index: usize,
    chan: &'a dyn ChanRef,
    pending: Pending,
    /// Not `Send`/`Sync`: it may hold a received value of a type that is not, and raw pointers
    /// into a parked receiver's frame.
    _not_send: PhantomData<*mut ()>,
}

impl SelectedOperation<'_> {
    /// The index of the selected operation (as returned by `Select::recv`/`Select::send`).
    ///
    /// # Examples
    ///
    /// ```
    /// let (_tx1, rx1) = gort::chan::bounded::<()>(0);
    /// let (tx2, rx2) = gort::chan::bounded::<()>(1);
    /// let mut sel = gort::chan::Select::new();
    /// sel.recv(&rx1);
    /// let i2 = sel.send(&tx2);
    /// let op = sel.select(); // only the send has room
    /// assert_eq!(op.index(), i2);
    /// op.send(&tx2, ()).unwrap();
    /// assert_eq!(rx2.recv(), Ok(()));
    /// ```
    #[must_use]
    pub fn index(&self) -> usize {
        self.index
    }

    fn is_chan<T>(&self, c: &Arc<Chan<T>>) -> bool {
        std::ptr::addr_eq(self.chan as *const dyn ChanRef, Arc::as_ptr(c))
    }

    /// Finishes a selected receive: its value, or `Err` if the channel was closed and drained.
    ///
    /// # Panics
    ///
    /// If `rx` is not a receiver of the selected operation's channel, or the operation is a
    /// send.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = gort::chan::bounded::<i32>(0);
    /// drop(tx);
    /// let mut sel = gort::chan::Select::new();
    /// sel.recv(&rx);
    /// assert_eq!(sel.select().recv(&rx), Err(gort::chan::RecvError));
    /// ```
    pub fn recv<T>(mut self, rx: &Receiver<T>) -> Result<T, RecvError> {
        assert!(
            self.is_chan(&rx.c),
            "passed a receiver that wasn't selected"
        );
        match std::mem::replace(&mut self.pending, Pending::Done) {
            // SAFETY: the value was made by the `RecvOp` of this very channel (the check
            // above: one channel object has one element type), as `Result<T, RecvError>`.
            Pending::Recv(v) => unsafe { v.take::<Result<T, RecvError>>() },
            other => {
                self.pending = other;
                panic!("`SelectedOperation::recv` called on a selected send");
            }
        }
    }

    /// Finishes a selected send with `value`; `Err` (returning it) if the channel was closed.
    ///
    /// # Panics
    ///
    /// If `tx` is not a sender of the selected operation's channel, or the operation is a
    /// receive.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = gort::chan::bounded::<u8>(0);
    /// let h = gort::spawn(move || rx.recv());
    /// let mut sel = gort::chan::Select::new();
    /// sel.send(&tx);
    /// sel.select().send(&tx, 3).unwrap();
    /// assert_eq!(h.join().unwrap(), Ok(3));
    /// ```
    pub fn send<T>(mut self, tx: &Sender<T>, value: T) -> Result<(), SendError<T>> {
        assert!(self.is_chan(&tx.c), "passed a sender that wasn't selected");
        match std::mem::replace(&mut self.pending, Pending::Done) {
            Pending::SendClosed => Err(SendError(value)),
            Pending::SendTo(core, slot) => {
                // SAFETY: the receiver's core was claimed by our reservation and not completed,
                // so its waiter, slot and frame are alive and ours to write (waiter.rs, step 4);
                // the slot is an `Option<T>` of this very channel (the check above).
                unsafe {
                    *slot.cast::<Option<T>>() = Some(value);
                    (*core).complete();
                }
                Ok(())
            }
            Pending::SendSlot => match tx.c.send_reserved(value) {
                TrySend::Sent => Ok(()),
                TrySend::Closed(v) | TrySend::Full(v) => Err(SendError(v)),
            },
            other => {
                self.pending = other;
                panic!("`SelectedOperation::send` called on a selected receive");
            }
        }
    }
}

impl Drop for SelectedOperation<'_> {
    fn drop(&mut self) {
        match std::mem::replace(&mut self.pending, Pending::Done) {
            Pending::Done => return,
            Pending::Recv(v) => drop(v),
            Pending::SendClosed => {}
            Pending::SendSlot => self.chan.release_slot(),
            // SAFETY: as in `send`: the core is ours to complete; it is woken to look again.
            Pending::SendTo(core, _) => unsafe { (*core).complete_retry() },
        }
        if !std::thread::panicking() {
            panic!("dropped `SelectedOperation` without completing the operation");
        }
    }
}

impl fmt::Debug for SelectedOperation<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SelectedOperation")
            .field("index", &self.index)
            .finish_non_exhaustive()
    }
}

/// A value of any type, moved out of a select arm into its `SelectedOperation` without knowing
/// its type: stored inline when it fits in four words (no allocation for the common element
/// types), boxed otherwise, with the drop function of its real type.
struct Erased {
    data: MaybeUninit<[usize; 4]>,
    drop_fn: unsafe fn(&mut MaybeUninit<[usize; 4]>),
}

impl Erased {
    const fn fits<V>() -> bool {
        size_of::<V>() <= size_of::<[usize; 4]>() && align_of::<V>() <= align_of::<[usize; 4]>()
    }

    fn new<V>(v: V) -> Erased {
        let mut data = MaybeUninit::<[usize; 4]>::uninit();
        if Self::fits::<V>() {
            // SAFETY: `V` fits `data` in size and alignment (`fits`).
            unsafe { data.as_mut_ptr().cast::<V>().write(v) };
            Erased {
                data,
                drop_fn: Self::drop_inline::<V>,
            }
        } else {
            // SAFETY: a `Box` is one pointer, which fits.
            unsafe { data.as_mut_ptr().cast::<Box<V>>().write(Box::new(v)) };
            Erased {
                data,
                drop_fn: Self::drop_boxed::<V>,
            }
        }
    }

    /// # Safety
    /// `data` holds a `V` written by `new::<V>` and not taken.
    // SAFETY: callers uphold the `# Safety` contract in this function's docs.
    unsafe fn drop_inline<V>(data: &mut MaybeUninit<[usize; 4]>) {
        // SAFETY: the caller's contract.
        unsafe { data.as_mut_ptr().cast::<V>().drop_in_place() };
    }

    /// # Safety
    /// `data` holds a `Box<V>` written by `new::<V>` and not taken.
    // SAFETY: callers uphold the `# Safety` contract in this function's docs.
    unsafe fn drop_boxed<V>(data: &mut MaybeUninit<[usize; 4]>) {
        // SAFETY: the caller's contract.
        unsafe { data.as_mut_ptr().cast::<Box<V>>().drop_in_place() };
    }

    /// Moves the value out.
    ///
    /// # Safety
    /// `V` is the type this was made with (`new::<V>`).
    // SAFETY: callers uphold the `# Safety` contract in this function's docs.
    unsafe fn take<V>(self) -> V {
        // Not dropped: the value moves out instead.
        let me = ManuallyDrop::new(self);
        if Self::fits::<V>() {
            // SAFETY: the caller's contract: `new::<V>` wrote a `V` here.
            unsafe { me.data.as_ptr().cast::<V>().read() }
        } else {
            // SAFETY: the caller's contract: `new::<V>` wrote a `Box<V>` here.
            *unsafe { me.data.as_ptr().cast::<Box<V>>().read() }
        }
    }
}

impl Drop for Erased {
    fn drop(&mut self) {
        // SAFETY: `drop_fn` was made by `new` for the type it wrote, and the value was not taken
        // (`take` does not run this).
        unsafe { (self.drop_fn)(&mut self.data) };
    }
}

/// [`Select::try_select`] found no operation ready.
///
/// # Examples
///
/// ```
/// let e = gort::chan::Select::new().try_select().unwrap_err();
/// assert_eq!(e.to_string(), "all operations in select would block");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrySelectError;

/// [`Select::select_timeout`] / [`Select::select_deadline`] timed out.
///
/// # Examples
///
/// ```
/// let mut sel = gort::chan::Select::new();
/// let e = sel.select_timeout(std::time::Duration::ZERO).unwrap_err();
/// assert_eq!(e.to_string(), "timed out waiting on select");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SelectTimeoutError;

/// [`Select::try_ready`] found no operation ready.
///
/// # Examples
///
/// ```
/// assert!(gort::chan::Select::new().try_ready().is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TryReadyError;

/// [`Select::ready_timeout`] / [`Select::ready_deadline`] timed out.
///
/// # Examples
///
/// ```
/// let mut sel = gort::chan::Select::new();
/// let e = sel.ready_timeout(std::time::Duration::ZERO).unwrap_err();
/// assert_eq!(e.to_string(), "timed out waiting on ready");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadyTimeoutError;

impl fmt::Display for TrySelectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad("all operations in select would block")
    }
}
impl std::error::Error for TrySelectError {}

impl fmt::Display for SelectTimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad("timed out waiting on select")
    }
}
impl std::error::Error for SelectTimeoutError {}

impl fmt::Display for TryReadyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad("all operations in select would block")
    }
}
impl std::error::Error for TryReadyError {}

impl fmt::Display for ReadyTimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad("timed out waiting on ready")
    }
}
impl std::error::Error for ReadyTimeoutError {}
