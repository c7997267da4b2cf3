//! Unix signals delivered to channels (Go's `os/signal`): [`notify`], [`stop`], [`ignore`],
//! [`reset`], [`ctrl_c`]. Users name it `gort::signal`.
//!
//! # How a signal travels
//!
//! 1. **The handler** (installed with `SA_SIGINFO | SA_ONSTACK | SA_RESTART` the first time a
//!    channel wants the signal) runs on whatever thread the kernel picked. It sets the signal's
//!    bit in `PENDING` (a `fetch_or`: repeats before the watcher looks are coalesced, as in
//!    Go's `sig.mask`), writes one byte to the self-pipe (a non-blocking socket pair; a full
//!    pipe already has a wake-up in it), calls the handler that was installed before ours if
//!    there was one (signal-hook's and tokio's rule), and restores `errno`. No locks, no
//!    allocation: all of it is async-signal-safe.
//! 2. **The watcher** is one G (named `gort.signal`, started by the first `notify`, Go's
//!    `os/signal.loop`) parked on the pipe's read end in the netpoller: no thread per signal,
//!    no thread at all while nothing arrives. Woken, it drains the pipe, then swaps
//!    `PENDING` to 0 (in that order: a signal landing between the two leaves its bit for this
//!    swap and a byte for the next wake-up, never a bit without a byte), and under the registry
//!    lock `try_send`s each signal to every channel that asked for it. A full channel drops it
//!    (Go: "a buffer of size 1 is sufficient" for one kind of signal; [`notify`]'s channel has
//!    room for one of each signal it asked for). A channel whose receivers are all gone is
//!    unregistered as if [`stop`]ped.
//! 3. **Dispositions.** A signal's handler is installed when its first channel registers and the
//!    disposition found then is restored when its last one goes (Go's `disableSignal`), so a
//!    stopped SIGINT kills the process again. [`ignore`] sets `SIG_IGN`; [`reset`] restores the
//!    disposition from before gort first touched the signal.
//!
//! # The runtime's own handler (SIGSEGV, SIGBUS)
//!
//! The stack-overflow report (signal.rs) owns SIGSEGV and SIGBUS. A [`Signal`] cannot name them,
//! nor SIGFPE and SIGILL (faults of the faulting thread, which a channel could never handle in
//! time) nor SIGKILL and SIGSTOP (which cannot be caught): [`Signal::from_raw`] refuses them, so
//! nothing here ever replaces or chains around the overflow handler. A handler some library
//! installs later for SIGSEGV must chain to the previous one (ours) or overflows are reported as
//! a bare SIGSEGV; that is signal.rs's concern and is documented there.
//!
//! # Who touches what
//!
//! * `PENDING`, `WAKE_FD`: the handler writes (`fetch_or`, reads the fd), the watcher swaps;
//!   SeqCst, so the bit set before the byte is seen by the swap after the drain.
//! * `PREV[sig]`: the disposition to chain to, a leaked `&'static` published with Release
//!   before our handler is installed and read with Acquire by the handler; never freed, never
//!   written in place, so a handler still running from an earlier install cycle reads valid
//!   memory.
//! * `REGISTRY` (a mutex): the channels, the per-signal counts, the saved dispositions. Taken by
//!   `notify`/`stop`/`ignore`/`reset` and by the watcher while it sends; never by the handler.
//!   Lock order: the registry lock < a channel's lock (the watcher sends under it).

use crate::chan::{Receiver, Sender, TrySendError};
use std::io;
use std::mem::MaybeUninit;
use std::ptr;
use std::sync::atomic::{AtomicI32, AtomicPtr, AtomicU64, Ordering};

/// A Unix signal that a channel can receive: every signal but SIGKILL and SIGSTOP (which
/// cannot be caught) and SIGSEGV, SIGBUS, SIGFPE, SIGILL (faults, which the runtime's
/// stack-overflow handler or the default action must handle on the faulting thread).
///
/// # Examples
///
/// ```
/// use gort::signal::Signal;
/// assert_eq!(Signal::SIGUSR1.as_raw(), libc::SIGUSR1);
/// assert_eq!(Signal::from_raw(libc::SIGTERM), Some(Signal::SIGTERM));
/// assert_eq!(Signal::from_raw(libc::SIGKILL), None);
/// assert_eq!(Signal::SIGINT.to_string(), "SIGINT");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Signal(libc::c_int);

macro_rules! signals {
    ($($name:ident),* $(,)?) => {
        impl Signal {
            $(
                #[doc = concat!("`", stringify!($name), "`.")]
                pub const $name: Signal = Signal(libc::$name);
            )*
        }

        /// Names of the standard signals a `Signal` can hold.
        const NAMED: &[(libc::c_int, &str)] = &[$((libc::$name, stringify!($name))),*];
    };
}

signals!(
    SIGHUP, SIGINT, SIGQUIT, SIGTRAP, SIGABRT, SIGUSR1, SIGUSR2, SIGPIPE, SIGALRM, SIGTERM,
    SIGCHLD, SIGCONT, SIGTSTP, SIGTTIN, SIGTTOU, SIGURG, SIGXCPU, SIGXFSZ, SIGVTALRM, SIGPROF,
    SIGWINCH, SIGIO, SIGSYS,
);

/// Signals no channel may take (see [`Signal`]).
const FORBIDDEN: [libc::c_int; 6] = [
    libc::SIGKILL,
    libc::SIGSTOP,
    libc::SIGSEGV,
    libc::SIGBUS,
    libc::SIGFPE,
    libc::SIGILL,
];

/// One past the largest signal number we handle (bits of a `u64`: signal n is bit n - 1).
const NSIG: usize = 65;

impl Signal {
    /// The signal with number `n`, if a channel may receive it: a standard signal other than
    /// SIGKILL, SIGSTOP, SIGSEGV, SIGBUS, SIGFPE, SIGILL, or a real-time one
    /// (`SIGRTMIN..=SIGRTMAX`).
    ///
    /// # Examples
    ///
    /// ```
    /// use gort::signal::Signal;
    /// assert_eq!(Signal::from_raw(libc::SIGHUP), Some(Signal::SIGHUP));
    /// assert_eq!(Signal::from_raw(libc::SIGSEGV), None); // the runtime's overflow handler
    /// assert_eq!(Signal::from_raw(0), None);
    /// #[cfg(target_os = "linux")]
    /// assert!(Signal::from_raw(libc::SIGRTMIN()).is_some());
    /// ```
    pub fn from_raw(n: i32) -> Option<Signal> {
        let standard = NAMED.iter().any(|&(s, _)| s == n);
        let realtime = rt_range().is_some_and(|r| r.contains(&n));
        ((standard || realtime) && !FORBIDDEN.contains(&n) && (n as usize) < NSIG)
            .then_some(Signal(n))
    }

    /// The signal's number.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(gort::signal::Signal::SIGTERM.as_raw(), libc::SIGTERM);
    /// ```
    pub fn as_raw(self) -> i32 {
        self.0
    }

    fn bit(self) -> u64 {
        1 << (self.0 - 1)
    }

    /// Every signal `notify(&[])` relays: the standard ones a `Signal` can hold (real-time
    /// signals only when named).
    fn all_standard() -> impl Iterator<Item = Signal> {
        NAMED.iter().map(|&(n, _)| Signal(n))
    }
}

/// The real-time signals (`SIGRTMIN..=SIGRTMAX`), where the platform has them (Linux); macOS
/// and the BSDs have none.
fn rt_range() -> Option<std::ops::RangeInclusive<i32>> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    return Some(libc::SIGRTMIN()..=libc::SIGRTMAX());
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    return None;
}

impl std::fmt::Display for Signal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match NAMED.iter().find(|&&(n, _)| n == self.0) {
            Some((_, name)) => f.write_str(name),
            None => match rt_range() {
                Some(r) => write!(f, "SIGRTMIN+{}", self.0 - r.start()),
                None => write!(f, "signal {}", self.0),
            },
        }
    }
}

impl std::fmt::Debug for Signal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

// ---- what the handler touches ------------------------------------------------------------

/// Signals caught and not yet delivered (bit n - 1 for signal n). See the module docs.
static PENDING: AtomicU64 = AtomicU64::new(0);
/// The self-pipe's write end (-1 until the watcher exists).
static WAKE_FD: AtomicI32 = AtomicI32::new(-1);
/// Per signal, the disposition our handler chains to (null: none). See the module docs.
static PREV: [AtomicPtr<libc::sigaction>; NSIG] = [const { AtomicPtr::new(ptr::null_mut()) }; NSIG];

/// This thread's `errno` (the handler saves and restores it around its `write`).
fn errno_ptr() -> *mut libc::c_int {
    // SAFETY: these return the calling thread's errno location, valid for the thread's life.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    return unsafe { libc::__errno_location() };
    // SAFETY: as above.
    #[cfg(any(target_os = "macos", target_os = "ios", target_os = "freebsd"))]
    return unsafe { libc::__error() };
    // SAFETY: as above.
    #[cfg(any(target_os = "netbsd", target_os = "openbsd"))]
    return unsafe { libc::__errno() };
}

extern "C" fn handler(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    // SAFETY: the calling thread's errno location.
    let errno = unsafe { *errno_ptr() };
    if sig > 0 && (sig as usize) < NSIG {
        PENDING.fetch_or(1 << (sig - 1), Ordering::SeqCst);
        let fd = WAKE_FD.load(Ordering::SeqCst);
        if fd >= 0 {
            let b = 1u8;
            // SAFETY: `fd` is the self-pipe's write end, never closed; one byte from a local.
            // write(2) is async-signal-safe; EAGAIN (a full pipe) already means "wake up".
            unsafe { libc::write(fd, (&b as *const u8).cast(), 1) };
        }
        // Acquire: pairs with the Release in `install`.
        let prev = PREV[sig as usize].load(Ordering::Acquire);
        if !prev.is_null() {
            // SAFETY: non-null PREV entries are leaked, never-written sigactions (module docs).
            let act = unsafe { &*prev };
            let h = act.sa_sigaction;
            if h != libc::SIG_DFL && h != libc::SIG_IGN {
                if act.sa_flags & libc::SA_SIGINFO != 0 {
                    // SAFETY: with SA_SIGINFO the saved handler has the three-argument
                    // signature; we forward what the kernel gave us.
                    unsafe {
                        let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                            std::mem::transmute(h);
                        f(sig, info, ctx)
                    }
                } else {
                    // SAFETY: without SA_SIGINFO the saved handler takes the number only.
                    unsafe {
                        let f: extern "C" fn(libc::c_int) = std::mem::transmute(h);
                        f(sig)
                    }
                }
            }
        }
    }
    // SAFETY: as above.
    unsafe { *errno_ptr() = errno };
}

/// Installs our handler for `sig`; returns the disposition it replaced.
fn install(sig: Signal) -> io::Result<libc::sigaction> {
    let old = current(sig)?;
    // Published before our handler can run for `sig` (Release; the handler Acquires).
    let saved: &'static mut libc::sigaction = Box::leak(Box::new(old));
    PREV[sig.0 as usize].store(saved, Ordering::Release);
    // SAFETY: `sigaction` is plain old data; all-zero is a valid value.
    let mut act: libc::sigaction = unsafe { MaybeUninit::zeroed().assume_init() };
    act.sa_sigaction = handler as *const () as libc::sighandler_t;
    act.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK | libc::SA_RESTART;
    // SAFETY: `act.sa_mask` is a valid, writable sigset_t.
    unsafe { libc::sigemptyset(&mut act.sa_mask) };
    set(sig, &act)?;
    Ok(old)
}

/// The current disposition of `sig`.
fn current(sig: Signal) -> io::Result<libc::sigaction> {
    // SAFETY: plain old data; a null `act` only queries into `old`.
    let mut old: libc::sigaction = unsafe { MaybeUninit::zeroed().assume_init() };
    // SAFETY: `old` is a valid, writable sigaction.
    cvt(unsafe { libc::sigaction(sig.0, ptr::null(), &mut old) })?;
    Ok(old)
}

/// Sets the disposition of `sig` to `act`.
fn set(sig: Signal, act: &libc::sigaction) -> io::Result<()> {
    // SAFETY: `act` is a fully initialised sigaction (ours, or one the kernel gave us).
    cvt(unsafe { libc::sigaction(sig.0, act, ptr::null_mut()) })
}

/// Sets `sig` to `SIG_DFL` or `SIG_IGN`.
fn set_simple(sig: Signal, h: libc::sighandler_t) -> io::Result<()> {
    // SAFETY: plain old data; all-zero is SIG_DFL with an empty mask and no flags.
    let mut act: libc::sigaction = unsafe { MaybeUninit::zeroed().assume_init() };
    act.sa_sigaction = h;
    set(sig, &act)
}

fn cvt(r: libc::c_int) -> io::Result<()> {
    if r == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

// ---- the registry -------------------------------------------------------------------------

struct Handler {
    tx: Sender<Signal>,
    chan: usize,
    mask: u64,
}

struct Registry {
    handlers: Vec<Handler>,
    /// Per signal: how many channels want it (our handler is installed while > 0).
    refs: [u32; NSIG],
    /// Per signal: the disposition our handler replaced (restored when `refs` drops to 0).
    replaced: [Option<libc::sigaction>; NSIG],
    /// Per signal: the disposition before gort first touched it (for `reset`).
    original: [Option<libc::sigaction>; NSIG],
    /// The watcher G has been started (and `WAKE_FD` set).
    watching: bool,
}

static REGISTRY: crate::loom::unmodelled::Mutex<Registry> =
    crate::loom::unmodelled::Mutex::new(Registry {
        handlers: Vec::new(),
        refs: [0; NSIG],
        replaced: [None; NSIG],
        original: [None; NSIG],
        watching: false,
    });

fn signals_of(mask: u64) -> impl Iterator<Item = Signal> {
    (1..NSIG as libc::c_int).filter_map(move |n| (mask & (1 << (n - 1)) != 0).then_some(Signal(n)))
}

fn mask_of(sigs: &[Signal]) -> u64 {
    if sigs.is_empty() {
        Signal::all_standard().fold(0, |m, s| m | s.bit())
    } else {
        sigs.iter().fold(0, |m, s| m | s.bit())
    }
}

impl Registry {
    /// Our handler for every signal of `mask` (counted once per channel).
    fn enable(&mut self, mask: u64) -> io::Result<()> {
        for s in signals_of(mask) {
            let i = s.0 as usize;
            if self.refs[i] == 0 {
                let old = install(s)?;
                self.original[i].get_or_insert(old);
                self.replaced[i] = Some(old);
            }
            self.refs[i] += 1;
        }
        Ok(())
    }

    /// One channel less for every signal of `mask`; the last one restores what we replaced.
    fn disable(&mut self, mask: u64) {
        for s in signals_of(mask) {
            let i = s.0 as usize;
            if self.refs[i] == 0 {
                continue;
            }
            self.refs[i] -= 1;
            if self.refs[i] == 0 {
                if let Some(old) = self.replaced[i].take() {
                    // Cannot fail: the disposition came from the kernel for this signal.
                    let _ = set(s, &old);
                }
                PREV[i].store(ptr::null_mut(), Ordering::Release);
            }
        }
    }

    /// Removes the channels at `idx` (sorted ascending) and disables their signals.
    fn remove(&mut self, mut idx: Vec<usize>) {
        idx.sort_unstable();
        for i in idx.into_iter().rev() {
            let h = self.handlers.remove(i);
            self.disable(h.mask);
        }
    }

    /// Takes the signals of `mask` away from every channel (for `ignore` and `reset`).
    fn unregister_all(&mut self, mask: u64) {
        let mut gone = Vec::new();
        for (i, h) in self.handlers.iter_mut().enumerate() {
            let lose = h.mask & mask;
            h.mask &= !mask;
            if lose != 0 {
                // disable() needs `self`: collect, then apply.
                gone.push((i, lose));
            }
        }
        let mut empty = Vec::new();
        for (i, lose) in gone {
            self.disable(lose);
            if self.handlers[i].mask == 0 {
                empty.push(i);
            }
        }
        // Emptied channels were already disabled for every signal they had.
        empty.sort_unstable();
        for i in empty.into_iter().rev() {
            self.handlers.remove(i);
        }
    }

    /// Records the original disposition of every signal of `mask` not yet touched.
    fn remember_originals(&mut self, mask: u64) -> io::Result<()> {
        for s in signals_of(mask) {
            if self.original[s.0 as usize].is_none() {
                self.original[s.0 as usize] = Some(current(s)?);
            }
        }
        Ok(())
    }
}

/// Creates the self-pipe and starts the watcher G (once).
fn start_watcher(reg: &mut Registry) -> io::Result<()> {
    if reg.watching {
        return Ok(());
    }
    let (r, w) = std::os::unix::net::UnixStream::pair()?;
    w.set_nonblocking(true)?;
    let r = crate::net::UnixStream::from_std(r)?;
    // The write end lives for the process (the handler may write to it at any time).
    let wfd = std::os::fd::IntoRawFd::into_raw_fd(w);
    WAKE_FD.store(wfd, Ordering::SeqCst);
    // Detached: it runs for the process's life.
    drop(
        crate::join::Builder::new()
            .name("gort.signal")
            .spawn(move || watch(r))?,
    );
    reg.watching = true;
    Ok(())
}

/// The watcher G: waits on the self-pipe, then delivers what is pending (module docs).
fn watch(r: crate::net::UnixStream) {
    use std::io::Read;
    let mut buf = [0u8; 64];
    loop {
        match (&r).read(&mut buf) {
            Ok(0) => return, // cannot happen: the write end is never closed
            Ok(_) => {
                // Drain what else is there without parking, then deliver.
                r.set_nonblocking(true).ok();
                while matches!((&r).read(&mut buf), Ok(n) if n > 0) {}
                r.set_nonblocking(false).ok();
                deliver(PENDING.swap(0, Ordering::SeqCst));
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                eprintln!("gort: signal watcher: the self-pipe failed ({e}); signals are no longer delivered to channels");
                return;
            }
        }
    }
}

/// Sends each signal of `bits` to every channel that wants it.
fn deliver(bits: u64) {
    if bits == 0 {
        return;
    }
    let mut reg = REGISTRY.lock();
    let mut closed = Vec::new();
    for (i, h) in reg.handlers.iter().enumerate() {
        for s in signals_of(bits & h.mask) {
            match h.tx.try_send(s) {
                Ok(()) | Err(TrySendError::Full(_)) => {}
                Err(TrySendError::Closed(_)) => {
                    closed.push(i);
                    break;
                }
            }
        }
    }
    if !closed.is_empty() {
        reg.remove(closed);
    }
}

/// Relays the signals `sigs` (every standard signal if empty) to the returned channel (Go's
/// `signal.Notify`), until [`stop`]. Select on it with `gort::select!` or `recv` it. While a
/// channel wants a signal, the signal's default action (ending the process for SIGINT and
/// SIGTERM) does not happen; [`stop`] brings it back.
///
/// The channel holds one of each signal asked for; a signal arriving while its kind is already
/// waiting in the channel is dropped (Go's rule: a signal is a notification, not a count).
/// Several channels may want the same signal: each gets its own copy. Dropping every receiver
/// without [`stop`] unregisters the channel only when the next of its signals arrives (that one
/// is then lost): call [`stop`].
///
/// If the process cannot set up delivery (out of file descriptors), a warning is printed, the
/// signals keep their current action, and the channel never receives; [`ctrl_c`] returns that
/// error instead.
///
/// # Examples
///
/// ```
/// use gort::signal::{self, Signal};
/// let rx = signal::notify(&[Signal::SIGUSR1]);
/// // SAFETY: raise has no preconditions.
/// unsafe { libc::raise(libc::SIGUSR1) };
/// assert_eq!(rx.recv(), Ok(Signal::SIGUSR1));
/// signal::stop(&rx);
/// ```
pub fn notify(sigs: &[Signal]) -> Receiver<Signal> {
    match try_notify(sigs) {
        Ok(rx) => rx,
        Err(e) => {
            eprintln!(
                "gort: signal::notify({sigs:?}): cannot set up signal delivery ({e}); the \
                 signals keep their current action and the channel will not receive them"
            );
            crate::chan::bounded(1).1
        }
    }
}

fn try_notify(sigs: &[Signal]) -> io::Result<Receiver<Signal>> {
    let mask = mask_of(sigs);
    let (tx, rx) = crate::chan::bounded(mask.count_ones() as usize);
    let mut reg = REGISTRY.lock();
    start_watcher(&mut reg)?;
    reg.enable(mask)?;
    reg.handlers.push(Handler {
        chan: tx.chan_id(),
        tx,
        mask,
    });
    Ok(rx)
}

/// Stops relaying signals to `rx`'s channel (Go's `signal.Stop`): once it returns, the channel
/// receives no more signals. A signal nobody else wants gets back the action it had before it
/// was first relayed. Stopping a channel that is not registered does nothing.
///
/// # Examples
///
/// ```
/// use gort::signal::{self, Signal};
/// let rx = signal::notify(&[Signal::SIGUSR2]);
/// signal::stop(&rx);
/// signal::stop(&rx); // a second stop is harmless
/// assert!(rx.try_recv().is_err());
/// ```
pub fn stop(rx: &Receiver<Signal>) {
    let id = rx.chan_id();
    let mut reg = REGISTRY.lock();
    let idx: Vec<usize> = (0..reg.handlers.len())
        .filter(|&i| reg.handlers[i].chan == id)
        .collect();
    reg.remove(idx);
}

/// Ignores the signals `sigs` (every standard signal if empty) in the whole process (Go's
/// `signal.Ignore`): channels stop receiving them and the kernel discards them (`SIG_IGN`,
/// which children inherit).
///
/// Fails only if the kernel refuses the change (it does not for these signals).
///
/// # Examples
///
/// ```
/// use gort::signal::{self, Signal};
/// signal::ignore(&[Signal::SIGUSR2]).unwrap();
/// // SAFETY: raise has no preconditions.
/// unsafe { libc::raise(libc::SIGUSR2) }; // discarded: the process goes on
/// signal::reset(&[Signal::SIGUSR2]).unwrap();
/// ```
pub fn ignore(sigs: &[Signal]) -> io::Result<()> {
    let mask = mask_of(sigs);
    let mut reg = REGISTRY.lock();
    reg.remember_originals(mask)?;
    reg.unregister_all(mask);
    for s in signals_of(mask) {
        set_simple(s, libc::SIG_IGN)?;
    }
    Ok(())
}

/// Undoes [`notify`] and [`ignore`] for the signals `sigs` (every standard signal if empty)
/// (Go's `signal.Reset`): channels stop receiving them, and each gets back the action it had
/// before gort first touched it (for SIGINT and SIGTERM normally: end the process).
///
/// # Examples
///
/// ```
/// use gort::signal::{self, Signal};
/// let rx = signal::notify(&[Signal::SIGWINCH]);
/// signal::reset(&[Signal::SIGWINCH]).unwrap();
/// // SAFETY: raise has no preconditions.
/// unsafe { libc::raise(libc::SIGWINCH) }; // its default action: nothing
/// assert!(rx.try_recv().is_err());
/// ```
pub fn reset(sigs: &[Signal]) -> io::Result<()> {
    let mask = mask_of(sigs);
    let mut reg = REGISTRY.lock();
    reg.unregister_all(mask);
    for s in signals_of(mask) {
        if let Some(orig) = reg.original[s.0 as usize] {
            set(s, &orig)?;
        }
    }
    Ok(())
}

/// Parks the calling G (or blocks the thread) until the next SIGINT (Ctrl-C), which does not
/// end the process meanwhile; afterwards SIGINT gets its previous action back. For a graceful
/// shutdown, or `notify(&[Signal::SIGINT, Signal::SIGTERM])` to wait for either in a `select!`.
///
/// Fails if signal delivery cannot be set up (out of file descriptors).
///
/// # Examples
///
/// ```
/// use gort::signal::{self, Signal};
/// # // Keep SIGINT caught for the whole example, so that no raise below can end the process.
/// # let caught = signal::notify(&[Signal::SIGINT]);
/// let h = gort::spawn(gort::signal::ctrl_c);
/// // Play the user pressing Ctrl-C until the G has seen it.
/// while !h.is_finished() {
///     // SAFETY: raise has no preconditions.
///     unsafe { libc::raise(libc::SIGINT) };
///     gort::sleep(std::time::Duration::from_millis(5));
/// }
/// h.join().unwrap().unwrap();
/// # signal::stop(&caught);
/// ```
pub fn ctrl_c() -> io::Result<()> {
    let rx = try_notify(&[Signal::SIGINT])?;
    let r = rx.recv();
    stop(&rx);
    r.map(drop).map_err(|_| {
        io::Error::new(
            io::ErrorKind::BrokenPipe,
            "signal delivery stopped (the watcher failed)",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_and_names() {
        assert_eq!(
            signals_of(Signal::SIGUSR1.bit()).collect::<Vec<_>>(),
            [Signal::SIGUSR1]
        );
        let all = mask_of(&[]);
        assert_eq!(all.count_ones() as usize, NAMED.len());
        assert_eq!(all & (1 << (libc::SIGSEGV - 1)), 0);
        assert_eq!(format!("{:?}", Signal::SIGTERM), "SIGTERM");
        #[cfg(target_os = "linux")]
        {
            let rt = Signal::from_raw(libc::SIGRTMIN() + 2).unwrap();
            assert_eq!(rt.to_string(), "SIGRTMIN+2");
        }
        for f in FORBIDDEN {
            assert_eq!(Signal::from_raw(f), None);
        }
        assert_eq!(Signal::from_raw(NSIG as i32), None);
        assert_eq!(Signal::from_raw(-1), None);
    }
}
