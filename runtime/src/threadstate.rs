//! What an M's thread is doing, read from `/proc/self/task/TID/` (Linux): sysmon's eyes for
//! blocking calls made without `gort::blocking` (sysmon.rs, docs/blocking.md).
//!
//! Two files, each kept open and read with `pread` at offset 0 (a fresh value every read):
//!
//! * `syscall`: `running` while the thread is on a CPU or runnable (state `TASK_RUNNING`),
//!   `NR a1 .. a6 sp pc` while it sleeps inside system call `NR`, `-1 sp pc` while it sleeps
//!   elsewhere in the kernel (a page fault on a file mapping). Our own threads always pass its
//!   ptrace check (`kernel/ptrace.c: __ptrace_may_access`).
//! * `schedstat`: nanoseconds on a CPU, nanoseconds waiting for one, and timeslices run
//!   (`Documentation/scheduler/sched-stats.rst`). Unchanged between two reads ⇒ the thread did
//!   not run in between: one sleep spans the interval.
//!
//! Measured on this machine (2 vCPUs, Linux 6.18; 20,000 preads each, ns per read, target
//! thread sleeping / spinning): `schedstat` 907 / 896, `syscall` 1,707 / 690, `stat` 2,593 /
//! 2,510, `wchan` 3,017 / 1,068. So sysmon reads `syscall` first (the cheapest answer for a
//! thread that is computing, the case with nothing to do) and `schedstat` only for a thread
//! that sleeps; `stat`'s state letter would cost more and says less (no syscall number).
//!
//! Who touches what: a [`Probe`] belongs to sysmon alone (no sharing, no locks). The files pin
//! the thread's identity: if the thread exits, reads fail (`ESRCH`) instead of reading another
//! thread that reuses its id.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

/// Where a sleeping thread is, from its `syscall` file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Sleeping {
    /// The system call number (`libc::SYS_*`), or -1 when it sleeps outside a system call.
    pub(crate) nr: i64,
    /// The user-space program counter of the call (to find the caller with `addr2line`).
    pub(crate) pc: u64,
}

/// A thread's CPU accounting from `schedstat`: on-CPU ns and timeslices run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Ran {
    pub(crate) oncpu_ns: u64,
    pub(crate) slices: u64,
}

/// Open `/proc` files of one thread.
pub(crate) struct Probe {
    pub(crate) tid: i32,
    syscall: File,
    schedstat: File,
}

impl Probe {
    /// Opens the files of thread `tid` of this process.
    pub(crate) fn open(tid: i32) -> io::Result<Probe> {
        let dir = format!("/proc/self/task/{tid}");
        Ok(Probe {
            tid,
            syscall: File::open(format!("{dir}/syscall"))?,
            schedstat: File::open(format!("{dir}/schedstat"))?,
        })
    }

    /// `None` while the thread runs (or may run: runnable); else where it sleeps.
    pub(crate) fn sleeping(&self) -> io::Result<Option<Sleeping>> {
        let mut buf = [0u8; 192];
        let n = self.syscall.read_at(&mut buf, 0)?;
        Ok(parse_syscall(&buf[..n]))
    }

    /// The thread's CPU accounting now.
    pub(crate) fn ran(&self) -> io::Result<Ran> {
        let mut buf = [0u8; 96];
        let n = self.schedstat.read_at(&mut buf, 0)?;
        parse_schedstat(&buf[..n])
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "unexpected schedstat"))
    }
}

fn parse_syscall(b: &[u8]) -> Option<Sleeping> {
    let s = std::str::from_utf8(b).ok()?.trim();
    if s.starts_with("running") || s.is_empty() {
        return None;
    }
    let mut it = s.split_ascii_whitespace();
    let nr: i64 = it.next()?.parse().ok()?;
    let pc = it
        .next_back()
        .and_then(|p| u64::from_str_radix(p.trim_start_matches("0x"), 16).ok());
    Some(Sleeping {
        nr,
        pc: pc.unwrap_or(0),
    })
}

fn parse_schedstat(b: &[u8]) -> Option<Ran> {
    let s = std::str::from_utf8(b).ok()?;
    let mut it = s.split_ascii_whitespace().map(|v| v.parse::<u64>().ok());
    let oncpu_ns = it.next()??;
    let _wait = it.next()??;
    let slices = it.next()??;
    Some(Ran { oncpu_ns, slices })
}

/// A system call's name for the `blocktrace` line (the common blocking ones; others print as
/// their number).
pub(crate) fn syscall_name(nr: i64) -> &'static str {
    #[allow(unreachable_patterns)]
    match nr {
        -1 => "none (page fault or other kernel wait)",
        libc::SYS_read => "read",
        libc::SYS_write => "write",
        libc::SYS_pread64 => "pread64",
        libc::SYS_pwrite64 => "pwrite64",
        libc::SYS_readv => "readv",
        libc::SYS_writev => "writev",
        libc::SYS_openat => "openat",
        libc::SYS_close => "close",
        libc::SYS_fsync => "fsync",
        libc::SYS_fdatasync => "fdatasync",
        libc::SYS_nanosleep => "nanosleep",
        libc::SYS_clock_nanosleep => "clock_nanosleep",
        libc::SYS_futex => "futex",
        libc::SYS_ppoll => "ppoll",
        libc::SYS_pselect6 => "pselect6",
        libc::SYS_epoll_pwait => "epoll_pwait",
        libc::SYS_connect => "connect",
        libc::SYS_accept4 => "accept4",
        libc::SYS_recvfrom => "recvfrom",
        libc::SYS_sendto => "sendto",
        libc::SYS_recvmsg => "recvmsg",
        libc::SYS_sendmsg => "sendmsg",
        libc::SYS_wait4 => "wait4",
        libc::SYS_waitid => "waitid",
        libc::SYS_flock => "flock",
        libc::SYS_fcntl => "fcntl",
        libc::SYS_ioctl => "ioctl",
        #[cfg(target_arch = "x86_64")]
        libc::SYS_poll => "poll",
        #[cfg(target_arch = "x86_64")]
        libc::SYS_select => "select",
        #[cfg(target_arch = "x86_64")]
        libc::SYS_epoll_wait => "epoll_wait",
        #[cfg(target_arch = "x86_64")]
        libc::SYS_accept => "accept",
        #[cfg(target_arch = "x86_64")]
        libc::SYS_open => "open",
        _ => "?",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_lines() {
        assert_eq!(parse_syscall(b"running\n"), None);
        assert_eq!(
            parse_syscall(b"230 0x1 0x0 0x7fee5f918cd8 0x7fee5f918cd8 0x0 0x562e53fcee88\n"),
            Some(Sleeping {
                nr: 230,
                pc: 0x562e53fcee88
            })
        );
        assert_eq!(
            parse_syscall(b"-1 0x7ffd 0x4005d6\n"),
            Some(Sleeping {
                nr: -1,
                pc: 0x4005d6
            })
        );
        assert_eq!(
            parse_schedstat(b"31723064 61323936 14\n"),
            Some(Ran {
                oncpu_ns: 31723064,
                slices: 14
            })
        );
        assert_eq!(parse_schedstat(b"garbage"), None);
    }

    /// A thread asleep in `nanosleep` reads as sleeping, with an unchanged schedstat between
    /// two reads; a spinning thread reads as running.
    /// The calling thread's id, from `/proc/thread-self` (`PID/task/TID`).
    fn my_tid() -> i32 {
        let l = std::fs::read_link("/proc/thread-self").unwrap();
        l.file_name().unwrap().to_str().unwrap().parse().unwrap()
    }

    #[test]
    fn sees_a_sleeping_thread() {
        let (tx, rx) = std::sync::mpsc::channel();
        let t = std::thread::spawn(move || {
            tx.send(my_tid()).unwrap();
            std::thread::sleep(std::time::Duration::from_millis(300));
        });
        let tid = rx.recv().unwrap();
        let p = Probe::open(tid).unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_millis(250);
        let mut seen = None;
        while seen.is_none() && std::time::Instant::now() < deadline {
            seen = p.sleeping().unwrap();
        }
        let s = seen.expect("the sleeping thread never read as sleeping");
        assert!(
            s.nr == libc::SYS_clock_nanosleep || s.nr == libc::SYS_nanosleep,
            "{s:?}"
        );
        let a = p.ran().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(5));
        assert_eq!(p.ran().unwrap(), a, "a sleeping thread's schedstat moved");
        // A thread computing reads as running. (Not this one: a thread reading its own file
        // sees the pread it is making.)
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (tx, rx) = std::sync::mpsc::channel();
        let st = stop.clone();
        let spinner = std::thread::spawn(move || {
            tx.send(my_tid()).unwrap();
            while !st.load(std::sync::atomic::Ordering::Relaxed) {
                std::hint::spin_loop();
            }
        });
        let sp = Probe::open(rx.recv().unwrap()).unwrap();
        let running = (0..1000)
            .filter(|_| sp.sleeping().unwrap().is_none())
            .count();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        spinner.join().unwrap();
        assert!(running > 0, "a spinning thread never read as running");
        t.join().unwrap();
    }
}
