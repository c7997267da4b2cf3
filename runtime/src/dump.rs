//! `gort::dump`: every G, what it waits on and where, in Go's goroutine-dump format; wait-for
//! cycles among Gs; the owners of contended gort locks; the SIGQUIT dump.
//!
//! # What a G's entry says, and where it comes from
//!
//! ```text
//! goroutine 7 'worker' [sync.Mutex.Lock, 2 minutes]:
//! gort::sync::Mutex::lock(lock 0x55d0c3a1b2c0, held by goroutine 8, waiting 2m3s)
//!     src/main.rs:14:21
//! created by gort::spawn in goroutine 1
//!     src/main.rs:10:5
//! ```
//!
//! (the file lines are indented by a tab, as Go's.) Go's shape (`goroutine N [reason, N
//! minutes]:`, frames as `function(args)` over `\tfile:line`, `created by ... in goroutine N`), with the G's name after its id as the
//! rest of gort prints it. Everything comes from the G record (g.rs), written by the G's owner
//! with relaxed stores: the wait reason, the **wait site** (the user's source line of the
//! blocking call: every blocking API is `#[track_caller]` down to `park`, which stores the
//! `&'static Location`, a pointer, no allocation), the time it parked (`sysmon::coarse_ms`,
//! so ±10 ms), what it waits on (a channel's identity and capacity; a lock; the G it joins),
//! and its **spawn site** and parent (`#[track_caller]` on `spawn`/`Builder::spawn`). Gs
//! spawned from plain threads that no M has taken yet have no record: they are listed from
//! `Sched`'s fresh queue (id, name, spawn site). Such a G is missing from a dump taken in the
//! moment between its batch leaving the fresh queue and its M giving it a record (outside
//! `Sched::lock`, `Sched::globrunq_fresh`): the dump is a snapshot in progress, as Go's is.
//!
//! **The owner of a lock** is not in the waiter's record (it changes while the waiter sleeps);
//! gort's `Mutex`/`RwLock` keep their owner's id in the lock (one relaxed store per lock and
//! unlock), and while Gs wait on a lock, its semaphore is in `LOCK_OWNERS` with a pointer to
//! that cell. The dump reads the owner through the table, under the table's lock: an entry is
//! added by the first waiter to queue and removed by the release that pops the last waiter,
//! before it wakes it, both under the semaphore's queue lock. While the entry exists a waiter
//! is parked inside `lock(&self)`, so the lock (and its owner cell) is alive: the read is
//! sound without touching the lock itself.
//!
//! **Wait-for cycles**: a G waiting on a lock points at its owner, a G in `join` at the G it
//! joins; each G has at most one such edge, so a cycle is found by following edges (the
//! partial deadlocks the whole-program detector cannot see, since other Gs still run). Each
//! member's entry says so, and the dump ends with the cycle.
//!
//! # Cost and consistency
//!
//! Nothing stops the world. The walk copies a few words per G under the registry's shard
//! locks, [`crate::g::WALK_CHUNK`] slots per hold, and the fresh queue under `Sched::lock`
//! in chunks as large; formatting happens after, with no engine lock held (the writer is user
//! code). So the dump is a snapshot in progress, as Go's is without its stop-the-world: a G
//! may be listed in a state it has just left.
//!
//! **No backtraces of suspended Gs.** Walking a parked G's stack from another thread races
//! with its resumption: a waker may ready it and another M run it (writing the very frames
//! being read) or finish it (its stack goes back to the pool, and may be unmapped) while the
//! dumper reads; only the holder of the G's `GRef` may touch its stack, and that holder is
//! whatever the G waits on. Making it sound means stopping every G's wake-up for the walk,
//! which the issue's bound (one scheduling round per P) forbids for a million Gs; and release
//! builds have no frame pointers, so an unwinder would have to run DWARF CFI from
//! corosensei's private saved context. The wait site and spawn site answer the question a
//! Go stack answers most often: which line of mine is this G stuck on.

use crate::g::{GStatus, Site, WaitObj, WaitReason};
use crate::loom::unmodelled::Mutex;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

// ---- lock owners ------------------------------------------------------------------------------

const OWNER_SHARDS: usize = 16;

/// Contended gort locks: (address of the semaphore its waiters queue on, address of its owner
/// cell), while Gs wait on it (module docs). A leaf lock.
static LOCK_OWNERS: [Mutex<Vec<(usize, usize)>>; OWNER_SHARDS] =
    [const { Mutex::new(Vec::new()) }; OWNER_SHARDS];

fn owner_shard(sema: usize) -> &'static Mutex<Vec<(usize, usize)>> {
    &LOCK_OWNERS[(sema >> 4) % OWNER_SHARDS]
}

/// The first waiter queued on semaphore `sema`, whose lock keeps its owner in `owner`. Caller:
/// under the semaphore's queue lock.
pub(crate) fn lock_waited(sema: usize, owner: &AtomicU64) {
    owner_shard(sema)
        .lock()
        .push((sema, owner as *const AtomicU64 as usize));
}

/// The last waiter was popped from semaphore `sema` (before it is woken). Caller: under the
/// semaphore's queue lock.
pub(crate) fn lock_unwaited(sema: usize) {
    let mut v = owner_shard(sema).lock();
    if let Some(i) = v.iter().position(|e| e.0 == sema) {
        v.swap_remove(i);
    }
}

/// The owner of the contended lock whose semaphore is `sema` (0: a plain thread, or between
/// an acquire and its owner store), if Gs still wait on it.
fn lock_owner(sema: usize) -> Option<u64> {
    let v = owner_shard(sema).lock();
    let &(_, cell) = v.iter().find(|e| e.0 == sema)?;
    // SAFETY: the entry exists, so a waiter is parked inside the lock's `lock(&self)` (module
    // docs): the lock and its owner cell are alive while we hold the table's lock, which the
    // entry's removal takes before that waiter can be woken.
    Some(unsafe { &*(cell as *const AtomicU64) }.load(Ordering::Relaxed))
}

// ---- the snapshot ----------------------------------------------------------------------------

/// What the dump keeps of one G (copied under the registry's shard lock).
struct Entry {
    id: u64,
    name: Option<Arc<str>>,
    status: GStatus,
    reason: WaitReason,
    since_ms: u32,
    site: Option<Site>,
    obj: WaitObj,
    spawn_site: Option<Site>,
    parent: u64,
    m: Option<usize>,
    locked: bool,
    /// Filled after the walk: the G this one waits for (a lock's owner, a joined G).
    waits_for: Option<u64>,
    /// In a wait-for cycle.
    cycle: bool,
}

/// Everything the dump prints, gathered without any engine lock held at the end.
struct Snapshot {
    gs: Vec<Entry>,
    cycles: Vec<Vec<u64>>,
    now_ms: u32,
}

fn take_snapshot() -> Snapshot {
    let s = crate::sched();
    let mut gs = Vec::with_capacity(s.ngoroutine.load(Ordering::Relaxed) + 16);
    crate::g::for_each_g(|g| {
        let status = g.status();
        if matches!(status, GStatus::Dead | GStatus::Idle) {
            return; // cached records, or one being set up
        }
        let sp = g.spawn_info();
        gs.push(Entry {
            id: g.id(),
            name: g.name().cloned(),
            status,
            reason: g.wait_reason(),
            since_ms: g.wait_since_ms(),
            site: g.wait_site(),
            obj: g.wait_obj(),
            spawn_site: sp.site,
            parent: sp.parent,
            m: g.m_id(),
            locked: g.locked_m.load(Ordering::Relaxed) != 0,
            waits_for: None,
            cycle: false,
        });
    });
    s.for_each_fresh(|id, name, site, parent| {
        gs.push(Entry {
            id,
            name,
            status: GStatus::Runnable,
            reason: WaitReason::None,
            since_ms: 0,
            site: None,
            obj: WaitObj::None,
            spawn_site: site,
            parent,
            m: None,
            locked: false,
            waits_for: None,
            cycle: false,
        })
    });
    gs.sort_unstable_by_key(|e| e.id);
    // Edges of the wait-for graph.
    let mut owners: HashMap<usize, Option<u64>> = HashMap::new();
    for e in gs.iter_mut() {
        if e.status != GStatus::Waiting {
            continue;
        }
        e.waits_for = match e.obj {
            WaitObj::Lock(sema) => *owners
                .entry(sema)
                .or_insert_with(|| lock_owner(sema).filter(|&o| o != 0)),
            WaitObj::Join(target) => Some(target),
            _ => None,
        };
    }
    let cycles = find_cycles(&mut gs);
    Snapshot {
        gs,
        cycles,
        now_ms: crate::sysmon::coarse_ms(),
    }
}

/// Marks the Gs on wait-for cycles and returns each cycle once (from its smallest id).
fn find_cycles(gs: &mut [Entry]) -> Vec<Vec<u64>> {
    let index: HashMap<u64, usize> = gs
        .iter()
        .enumerate()
        .filter(|(_, e)| e.waits_for.is_some())
        .map(|(i, e)| (e.id, i))
        .collect();
    // 0: unvisited, 1: on the current path, 2: done.
    let mut color: HashMap<u64, u8> = HashMap::new();
    let mut cycles = Vec::new();
    let starts: Vec<u64> = index.keys().copied().collect();
    for start in starts {
        if color.get(&start).copied().unwrap_or(0) != 0 {
            continue;
        }
        let mut path = Vec::new();
        let mut cur = Some(start);
        while let Some(id) = cur {
            match color.get(&id).copied().unwrap_or(0) {
                0 => {
                    color.insert(id, 1);
                    path.push(id);
                    cur = index.get(&id).and_then(|&i| gs[i].waits_for);
                }
                1 => {
                    // A cycle: the path from `id` on.
                    let at = path.iter().position(|&x| x == id).unwrap_or(0);
                    let mut cyc: Vec<u64> = path[at..].to_vec();
                    let min = cyc
                        .iter()
                        .enumerate()
                        .min_by_key(|(_, &x)| x)
                        .map(|(i, _)| i);
                    cyc.rotate_left(min.unwrap_or(0));
                    for &m in &cyc {
                        if let Some(&i) = index.get(&m) {
                            gs[i].cycle = true;
                        }
                    }
                    cycles.push(cyc);
                    break;
                }
                _ => break,
            }
        }
        for id in path {
            color.insert(id, 2);
        }
    }
    cycles.sort();
    cycles
}

// ---- formatting --------------------------------------------------------------------------------

/// The API a G waiting for `r` is blocked in (the dump's frame line).
fn api(r: WaitReason) -> &'static str {
    match r {
        WaitReason::Join => "gort::JoinHandle::join",
        WaitReason::ChanReceive => "gort::chan::Receiver::recv",
        WaitReason::ChanSend => "gort::chan::Sender::send",
        WaitReason::Select => "gort::select",
        WaitReason::Sleep => "gort::sleep",
        WaitReason::IoWait => "gort::net (IO wait)",
        WaitReason::MutexLock => "gort::sync::Mutex::lock",
        WaitReason::RwLockRead => "gort::sync::RwLock::read",
        WaitReason::RwLockWrite => "gort::sync::RwLock::write",
        WaitReason::CondWait => "gort::sync::Condvar::wait",
        WaitReason::WaitGroupWait => "gort::sync::WaitGroup::wait",
        WaitReason::Semacquire => "gort::sync::Semaphore::acquire",
        WaitReason::BarrierWait => "gort::sync::Barrier::wait",
        WaitReason::OnceWait => "gort::sync::Once::call_once",
        WaitReason::LockedThread => "gort::lock_os_thread (waiting for its thread)",
        WaitReason::SyscallExit => "gort::blocking (waiting for a P)",
        WaitReason::BlockingPool => "gort::blocking (waiting for the pool)",
        WaitReason::WaitGroupWaitDurable => "gort::sync::WaitGroup::wait",
        WaitReason::JoinDurable => "gort::JoinHandle::join",
        WaitReason::SynctestWait => "gort::synctest::wait",
        WaitReason::None => "gort::park",
    }
}

fn human(ms: u32) -> String {
    let d = std::time::Duration::from_millis(ms as u64);
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms < 60_000 {
        format!("{:.1}s", d.as_secs_f64())
    } else {
        let s = d.as_secs();
        format!("{}m{}s", s / 60, s % 60)
    }
}

fn write_entry(out: &mut String, e: &Entry, now_ms: u32) {
    let name = e
        .name
        .as_ref()
        .map(|n| format!(" '{n}'"))
        .unwrap_or_default();
    let waited = now_ms.wrapping_sub(e.since_ms);
    let state = match e.status {
        GStatus::Waiting => {
            let mut st = e.reason.as_str().to_string();
            // Go's rule: the wait's length only from a minute on.
            if waited >= 60_000 {
                let _ = write!(st, ", {} minutes", waited / 60_000);
            }
            st
        }
        GStatus::Runnable | GStatus::Idle => "runnable".into(),
        GStatus::Running => "running".into(),
        GStatus::Syscall => "syscall".into(),
        GStatus::Dead => "dead".into(),
    };
    let locked = if e.locked { ", locked to thread" } else { "" };
    let _ = writeln!(out, "goroutine {}{name} [{state}{locked}]:", e.id);
    match e.status {
        GStatus::Waiting => {
            let mut args = Vec::new();
            match e.obj {
                WaitObj::Chan { id, cap } => {
                    args.push(format!("chan {id:#x}"));
                    let len = match (e.reason, cap) {
                        (WaitReason::ChanSend, Some(c)) => c,
                        _ => 0,
                    };
                    match cap {
                        Some(c) => args.push(format!("len {len}, cap {c}")),
                        None => args.push(format!("len {len}, unbounded")),
                    }
                }
                WaitObj::Lock(a) => {
                    args.push(format!("lock {a:#x}"));
                    args.push(match e.waits_for {
                        Some(o) => format!("held by goroutine {o}"),
                        None => "held by a plain thread or readers".into(),
                    });
                }
                WaitObj::Join(g) => args.push(format!("goroutine {g}")),
                WaitObj::Select(n) => args.push(format!("{n} cases")),
                WaitObj::None => {}
            }
            args.push(format!("waiting {}", human(waited)));
            let _ = writeln!(out, "{}({})", api(e.reason), args.join(", "));
            match e.site {
                Some(l) => {
                    let _ = writeln!(out, "\t{}:{}:{}", l.file(), l.line(), l.column());
                }
                None => out.push_str("\t?\n"),
            }
        }
        GStatus::Running => {
            let m =
                e.m.map(|m| format!("M{m}"))
                    .unwrap_or_else(|| "an M".into());
            let _ = writeln!(out, "gort (running on {m})");
        }
        GStatus::Syscall => {
            let m =
                e.m.map(|m| format!("M{m}"))
                    .unwrap_or_else(|| "an M".into());
            let _ = writeln!(out, "gort::blocking (in a blocking call on {m})");
        }
        _ => {}
    }
    if e.cycle {
        let _ = writeln!(
            out,
            "\t(in a wait-for cycle: waits for goroutine {}, which waits on back to it)",
            e.waits_for.unwrap_or(0)
        );
    }
    let by = if e.parent == 0 {
        "a plain thread".to_string()
    } else {
        format!("goroutine {}", e.parent)
    };
    let _ = writeln!(out, "created by gort::spawn in {by}");
    match e.spawn_site {
        Some(l) => {
            let _ = writeln!(out, "\t{}:{}:{}", l.file(), l.line(), l.column());
        }
        None => out.push_str("\t?\n"),
    }
    out.push('\n');
}

fn write_cycles(out: &mut String, cycles: &[Vec<u64>], gs: &[Entry]) {
    for c in cycles {
        let mut line = String::from("wait-for cycle (these goroutines wait for each other):");
        for id in c {
            let what = gs
                .binary_search_by_key(id, |e| e.id)
                .ok()
                .map(|i| match gs[i].obj {
                    WaitObj::Lock(_) => "waits for a lock held by",
                    WaitObj::Join(_) => "joins",
                    _ => "waits for",
                })
                .unwrap_or("waits for");
            let _ = write!(line, " goroutine {id} {what}");
        }
        let _ = writeln!(out, "{line} goroutine {}", c[0]);
    }
    if !cycles.is_empty() {
        out.push('\n');
    }
}

/// Formats `gs` in chunks and hands each chunk to `sink` (no engine lock is held).
fn render(snap: &Snapshot, mut sink: impl FnMut(&str) -> io::Result<()>) -> io::Result<()> {
    let mut out = String::with_capacity(64 * 1024);
    write_cycles(&mut out, &snap.cycles, &snap.gs);
    for e in &snap.gs {
        write_entry(&mut out, e, snap.now_ms);
        if out.len() >= 60 * 1024 {
            sink(&out)?;
            out.clear();
        }
    }
    sink(&out)
}

/// Every G (and every G queued without a record yet) with its state, wait reason and time,
/// where it waits (the source line of the blocking call), what on (a channel with its length
/// and capacity, a lock with its owner, a joined G), and where and by whom it was spawned, in
/// Go's goroutine-dump format; wait-for cycles through locks and joins come first and are
/// marked on their Gs (docs/observability.md has the format). Nothing stops: a snapshot in
/// progress.
///
/// # Examples
///
/// ```
/// let (tx, rx) = gort::chan::bounded::<u8>(0);
/// let h = gort::spawn(move || rx.recv());
/// while !gort::dump().contains("[chan receive]") {
///     gort::sleep(std::time::Duration::from_millis(1));
/// }
/// let d = gort::dump();
/// assert!(d.contains(&format!("goroutine {} [chan receive]:", h.id())));
/// assert!(d.contains("gort::chan::Receiver::recv(chan 0x"));
/// tx.send(1).unwrap();
/// h.join().unwrap().unwrap();
/// ```
pub fn dump() -> String {
    let snap = take_snapshot();
    let mut out = String::new();
    let _ = render(&snap, |s| {
        out.push_str(s);
        Ok(())
    });
    out
}

/// [`dump`], written to `w` in chunks of about 64 KiB (for a million Gs, a 150 MB string need
/// not exist at once). `w` runs with no runtime lock held.
///
/// # Examples
///
/// ```
/// let mut out = Vec::new();
/// gort::dump_to(&mut out).unwrap();
/// let _text = String::from_utf8(out).unwrap();
/// gort::dump_to(std::io::stderr()).unwrap();
/// ```
pub fn dump_to(mut w: impl io::Write) -> io::Result<()> {
    let snap = take_snapshot();
    render(&snap, |s| w.write_all(s.as_bytes()))?;
    w.flush()
}

/// The deadlock report's entries (deadlock.rs): the same format as [`dump`]. (Not a second
/// `take_snapshot` path: the same one.)
pub(crate) fn dump_for_deadlock() -> String {
    dump()
}

/// The SIGQUIT dump: Go's `SIGQUIT: quit` header, then every G, on stderr.
fn quit_dump() {
    use std::io::Write as _;
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "SIGQUIT: quit\n");
    let _ = dump_to(&mut err);
}

// ---- SIGQUIT (`GORT_DEBUG=dumponquit=1`) --------------------------------------------------------
//
// Opt-in (a library must not take a signal unasked). The handler only writes a byte to a
// pipe (async-signal-safe); a thread of its own (`gort-sigquit`, blocked in `read(2)`) prints
// the dump and exits with status 2, as Go does. Not a G and not the signal watcher of
// os_signal.rs: the dump must come out when every P is stuck (the case SIGQUIT is for), and
// the thread counts as a runtime thread for the deadlock detector (`helper_threads`). A
// `gort::signal::notify` for SIGQUIT later chains to this handler (os_signal.rs's rule).

/// The pipe's write end (-1: not installed). Read by the handler.
static QUIT_FD: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(-1);
static QUIT_THREADS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Runtime helper threads of this module (the SIGQUIT thread), for the deadlock detector.
pub(crate) fn helper_threads() -> usize {
    QUIT_THREADS.load(Ordering::SeqCst)
}

#[cfg(unix)]
extern "C" fn on_quit(_sig: libc::c_int) {
    // SAFETY: reading errno of this thread; restored below (handlers must not change it).
    let saved = unsafe { *errno_ptr() };
    let fd = QUIT_FD.load(Ordering::Relaxed);
    if fd >= 0 {
        let b = 1u8;
        // SAFETY: write(2) is async-signal-safe; `b` is a valid one-byte buffer.
        unsafe { libc::write(fd, &b as *const u8 as *const libc::c_void, 1) };
    }
    // SAFETY: as above.
    unsafe { *errno_ptr() = saved };
}

#[cfg(target_os = "linux")]
fn errno_ptr() -> *mut libc::c_int {
    // SAFETY: returns this thread's errno location; no preconditions.
    unsafe { libc::__errno_location() }
}

#[cfg(all(unix, not(target_os = "linux")))]
fn errno_ptr() -> *mut libc::c_int {
    // SAFETY: as above.
    unsafe { libc::__error() }
}

/// Installs the SIGQUIT dump (`GORT_DEBUG=dumponquit=1`; called once at start).
#[cfg(unix)]
pub(crate) fn install_quit_dump() -> io::Result<()> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: `fds` has room for the two descriptors.
    if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    for fd in fds {
        // SAFETY: fcntl on descriptors we own.
        unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    }
    let rfd = fds[0];
    QUIT_FD.store(fds[1], Ordering::SeqCst);
    QUIT_THREADS.fetch_add(1, Ordering::SeqCst);
    let spawned = std::thread::Builder::new()
        .name("gort-sigquit".into())
        .spawn(move || loop {
            let mut b = 0u8;
            // SAFETY: reads one byte into `b` from a descriptor this thread owns.
            let n = unsafe { libc::read(rfd, &mut b as *mut u8 as *mut libc::c_void, 1) };
            if n == 1 {
                quit_dump();
                std::process::exit(2);
            }
            if n < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return;
        });
    if let Err(e) = spawned {
        QUIT_THREADS.fetch_sub(1, Ordering::SeqCst);
        return Err(e);
    }
    // SAFETY: a zeroed sigaction is a valid starting point; we set the handler, an empty mask
    // and the flags, then install it for SIGQUIT (which is not one of the runtime's own).
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_quit as *const () as usize;
        libc::sigemptyset(&mut sa.sa_mask);
        sa.sa_flags = libc::SA_RESTART | libc::SA_ONSTACK;
        if libc::sigaction(libc::SIGQUIT, &sa, std::ptr::null_mut()) != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: u64, obj: WaitObj, waits_for: Option<u64>) -> Entry {
        Entry {
            id,
            name: None,
            status: GStatus::Waiting,
            reason: WaitReason::Join,
            since_ms: 0,
            site: None,
            obj,
            spawn_site: None,
            parent: 0,
            m: None,
            locked: false,
            waits_for,
            cycle: false,
        }
    }

    #[test]
    fn cycles_are_found_once_and_marked() {
        let mut gs = vec![
            entry(1, WaitObj::Join(2), Some(2)),
            entry(2, WaitObj::Lock(0x10), Some(3)),
            entry(3, WaitObj::Join(1), Some(1)),
            entry(4, WaitObj::Join(1), Some(1)), // waits on the cycle, not in it
            entry(5, WaitObj::Join(6), Some(6)),
            entry(6, WaitObj::None, None),
        ];
        let c = find_cycles(&mut gs);
        assert_eq!(c, vec![vec![1, 2, 3]]);
        let marked: Vec<u64> = gs.iter().filter(|e| e.cycle).map(|e| e.id).collect();
        assert_eq!(marked, [1, 2, 3]);
    }

    #[test]
    fn a_self_join_is_a_cycle() {
        let mut gs = vec![entry(9, WaitObj::Join(9), Some(9))];
        assert_eq!(find_cycles(&mut gs), vec![vec![9]]);
    }
}
