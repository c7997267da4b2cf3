//! Thin libc wrappers for the stack allocator and the overflow handler.
//!
//! Every system call of [`crate::stack`] and [`crate::signal`] goes through
//! this file, and every fallible one goes through [`cvt`], the single
//! `errno -> io::Error` conversion (mio's `syscall!` habit). The wrappers are
//! `unsafe fn` exactly when the kernel call can invalidate memory that Rust
//! code may still reference (`munmap`, `mprotect`, `madvise` with a
//! destructive advice); each one states its contract in `# Safety`.
//!
//! Functions marked *async-signal-safe* use nothing but raw system calls and
//! may be called from the SIGSEGV handler.
//!
//! Design notes live in `docs/stacks.md`.

use std::io;
use std::ptr;
use std::sync::atomic::{AtomicUsize, Ordering};

/// `madvise` advice that installs guard regions in the page tables
/// (Linux 6.13+). Faults like `PROT_NONE` but does not split the VMA, and
/// survives `MADV_DONTNEED`. Value from `include/uapi/asm-generic/mman-common.h`;
/// defined here because the `libc` crate may not have it yet.
pub(crate) const MADV_GUARD_INSTALL: libc::c_int = 102;

/// Turns a libc return value into an `io::Result`: `-1` becomes the current
/// `errno` as an `io::Error`, anything else is passed through.
pub(crate) fn cvt(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// Whether [`trim_heap`] can return free heap memory to the OS (glibc's `malloc_trim`).
pub(crate) fn can_trim_heap() -> bool {
    cfg!(all(target_os = "linux", target_env = "gnu"))
}

/// Returns the free memory of every malloc arena to the OS (glibc's `malloc_trim(0)`); nothing
/// elsewhere.
pub(crate) fn trim_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free heap memory back to the kernel; it touches no
    // memory a caller may hold (allocated chunks are left alone) and is thread-safe (it takes
    // each arena's lock).
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Sets glibc's `M_TRIM_THRESHOLD` to its default (128 KiB) explicitly, which also turns off
/// glibc's dynamic adjustment of it (runtime/src/scavenge.rs, step 2); nothing elsewhere.
pub(crate) fn freeze_heap_trim_threshold() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt changes a malloc tunable under the main arena's lock; it touches no
    // memory of ours. A return of 0 (refused) only means glibc keeps adjusting it.
    unsafe {
        libc::mallopt(libc::M_TRIM_THRESHOLD, 128 * 1024);
    }
}

/// Registers `child` to run in the child process after every `fork()` (`pthread_atfork`).
/// `child` runs in the child's only thread right after the fork, so it must be
/// async-signal-safe (a store to an atomic is).
pub(crate) fn on_fork_child(child: unsafe extern "C" fn()) -> io::Result<()> {
    // SAFETY: registers a handler; `child` is a valid function for the process's life (a fn
    // item), and the other two handlers are absent.
    let r = unsafe { libc::pthread_atfork(None, None, Some(child)) };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::from_raw_os_error(r))
    }
}

/// Registers `f` to run when the process exits normally (`atexit`: a return from `main` or
/// `std::process::exit`), on the exiting thread, while the other threads still run.
pub(crate) fn at_exit(f: extern "C" fn()) {
    // SAFETY: registers a handler; `f` is a fn item, valid for the process's life.
    if unsafe { libc::atexit(f) } != 0 {
        eprintln!("gort: atexit failed: the trace will not be finished at exit");
    }
}

/// The system page size, read once. Async-signal-safe after the first call
/// (the signal handler never makes the first call: `stack` and `signal` call
/// it before any stack exists).
pub(crate) fn page_size() -> usize {
    // Relaxed: the value is the same whichever thread computes it; a race
    // only means `sysconf` runs twice.
    static PAGE: AtomicUsize = AtomicUsize::new(0);
    let p = PAGE.load(Ordering::Relaxed);
    if p != 0 {
        return p;
    }
    // SAFETY: `sysconf` has no memory-safety preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    let p = if p > 0 { p as usize } else { 4096 };
    assert!(p.is_power_of_two(), "page size {p} is not a power of two");
    PAGE.store(p, Ordering::Relaxed);
    p
}

/// Maps `len` bytes of fresh anonymous, private, read-write memory that is
/// not charged against swap/commit (`MAP_NORESERVE`). Returns its address.
///
/// Safe: a new mapping cannot alias anything Rust references.
pub(crate) fn mmap_anon(len: usize) -> io::Result<usize> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE;
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    let flags = libc::MAP_PRIVATE | libc::MAP_ANON;
    // SAFETY: a null hint and `fd = -1` ask the kernel for a new anonymous
    // mapping at an address of its choosing; no existing memory is touched.
    let p = unsafe {
        libc::mmap(
            ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            flags,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        Err(io::Error::last_os_error())
    } else {
        Ok(p as usize)
    }
}

/// Unmaps `[addr, addr+len)`.
///
/// # Safety
/// The range must be a mapping (or part of one) that this crate created,
/// and nothing may reference memory inside it afterwards.
// SAFETY: callers uphold the `# Safety` contract in this function's docs.
pub(crate) unsafe fn munmap(addr: usize, len: usize) -> io::Result<()> {
    // SAFETY: the caller guarantees nothing references the range.
    cvt(unsafe { libc::munmap(addr as *mut libc::c_void, len) }).map(drop)
}

/// Makes `[addr, addr+len)` inaccessible (`PROT_NONE`): a classic guard page.
/// Splits the VMA (costs up to two entries against `vm.max_map_count`).
///
/// # Safety
/// The range must be page-aligned memory owned by the caller that no live
/// Rust reference or running code uses.
// SAFETY: callers uphold the `# Safety` contract in this function's docs.
pub(crate) unsafe fn mprotect_none(addr: usize, len: usize) -> io::Result<()> {
    // SAFETY: the caller owns the range and nothing uses it.
    cvt(unsafe { libc::mprotect(addr as *mut libc::c_void, len, libc::PROT_NONE) }).map(drop)
}

/// `madvise(addr, len, advice)`.
///
/// # Safety
/// The range must be page-aligned memory owned by the caller. Destructive
/// advice (`MADV_DONTNEED`, `MADV_GUARD_INSTALL`) discards the contents, so
/// no live value may be stored in the range.
// SAFETY: callers uphold the `# Safety` contract in this function's docs.
pub(crate) unsafe fn madvise(addr: usize, len: usize, advice: libc::c_int) -> io::Result<()> {
    // SAFETY: the caller owns the range and holds no live value in it.
    cvt(unsafe { libc::madvise(addr as *mut libc::c_void, len, advice) }).map(drop)
}

/// `pidfd` meaning "the calling thread" to `process_madvise` (`PIDFD_SELF_THREAD`, Linux 6.14+,
/// `include/uapi/linux/pidfd.h`; the same value before and after the constants moved, unlike
/// `PIDFD_SELF_THREAD_GROUP`, which was -20000 at first and is -10001 now). The thread's mm is
/// the process's, so this is the same target: and no file descriptor to open, keep, or lose to a
/// daemon's close-all-fds loop.
#[cfg(any(target_os = "linux", target_os = "android"))]
const PIDFD_SELF_THREAD: libc::c_int = -10000;

/// Ranges per `process_madvise` call (the kernel takes up to `UIO_MAXIOV`, 1,024); 64 keeps
/// the iovec array on the stack (1 KiB).
#[cfg(any(target_os = "linux", target_os = "android"))]
const MAX_IOV: usize = 64;

/// `madvise(r.0, r.1, advice)` for every range `r`, in as few system calls as the kernel allows:
/// one `process_madvise` on this process per 64 ranges (which takes the mm lock once per call,
/// and since Linux 6.16 batches the TLB flush of `MADV_DONTNEED` across the ranges). Where that
/// call fails, the ranges not yet advised go through [`madvise`] one by one, each tried even if
/// an earlier one failed; the first error is returned with its own `errno`. If the very first
/// call says `process_madvise` is not available for this advice at all (older kernels, seccomp,
/// non-Linux), it is never tried again.
///
/// `advice` must be safe to apply twice to a range: after a short count the range the kernel
/// stopped in is advised again whole.
///
/// Measured on this machine (100,000 guards 260 KiB apart, a C program in the same shape): 1,066
/// ns per guard with one `madvise` each, 495 ns in calls of 64 ranges; most of what remains is
/// the page-table page each 2 MiB of stacks needs.
///
/// # Safety
/// As for [`madvise`], for every range.
// SAFETY: callers uphold the `# Safety` contract in this function's docs.
pub(crate) unsafe fn madvise_many(
    ranges: &[(usize, usize)],
    advice: libc::c_int,
) -> io::Result<()> {
    let mut first_err: Option<io::Error> = None;
    #[cfg(any(target_os = "linux", target_os = "android"))]
    let ranges = {
        // 0 = untried, 1 = unavailable, 2 = works. Relaxed: a hint; a race only means one more
        // try of a call that fails harmlessly.
        static STATE: AtomicUsize = AtomicUsize::new(0);
        let mut rest = ranges;
        while !rest.is_empty() && STATE.load(Ordering::Relaxed) != 1 {
            let n = rest.len().min(MAX_IOV);
            let mut iov = [libc::iovec {
                iov_base: ptr::null_mut(),
                iov_len: 0,
            }; MAX_IOV];
            for (v, &(addr, len)) in iov.iter_mut().zip(&rest[..n]) {
                *v = libc::iovec {
                    iov_base: addr as *mut libc::c_void,
                    iov_len: len,
                };
            }
            let want: usize = rest[..n].iter().map(|r| r.1).sum();
            // SAFETY: `iov` holds `n` valid iovecs for the duration of the call; the ranges
            // are the caller's under this function's contract (the kernel applies `advice` to
            // each exactly as `madvise` would).
            let r = unsafe {
                libc::syscall(
                    libc::SYS_process_madvise,
                    PIDFD_SELF_THREAD,
                    iov.as_ptr(),
                    n,
                    advice,
                    0,
                )
            };
            if r < 0 {
                // Before the first success, "not here" errors switch batching off for good: no
                // syscall (ENOSYS), no PIDFD_SELF (EBADF), advice not allowed (EINVAL), refused
                // by policy (EPERM). After a success the same errno is about a range (EINVAL
                // for a bad one, say), which the loop below meets again and reports.
                let errno = io::Error::last_os_error().raw_os_error();
                if matches!(
                    errno,
                    Some(libc::ENOSYS | libc::EBADF | libc::EINVAL | libc::EPERM)
                ) {
                    let _ = STATE.compare_exchange(0, 1, Ordering::Relaxed, Ordering::Relaxed);
                }
                break;
            }
            if STATE.load(Ordering::Relaxed) != 2 {
                STATE.store(2, Ordering::Relaxed);
            }
            let mut done = r as usize;
            if done >= want {
                rest = &rest[n..];
                continue;
            }
            // A short count: the kernel stopped inside the batch (it reports what it did
            // rather than an error). Skip the ranges it finished, advise the one it stopped in
            // alone (keeping its error), and go on batching after it.
            let mut skip = 0;
            while skip < n && done >= rest[skip].1 {
                done -= rest[skip].1;
                skip += 1;
            }
            if skip < rest.len() {
                let (addr, len) = rest[skip];
                // SAFETY: forwarded contract.
                if let Err(e) = unsafe { madvise(addr, len, advice) } {
                    first_err.get_or_insert(e);
                }
                skip += 1;
            }
            rest = &rest[skip..];
        }
        rest
    };
    for &(addr, len) in ranges {
        // SAFETY: forwarded contract.
        if let Err(e) = unsafe { madvise(addr, len, advice) } {
            first_err.get_or_insert(e);
        }
    }
    first_err.map_or(Ok(()), Err)
}

/// Frees the physical pages behind `[addr, addr+len)`; the next touch sees
/// zeros. Guard regions installed with `MADV_GUARD_INSTALL` stay.
///
/// # Safety
/// As for [`madvise`]: no live value may be stored in the range.
// SAFETY: callers uphold the `# Safety` contract in this function's docs.
pub(crate) unsafe fn discard(addr: usize, len: usize) -> io::Result<()> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    let advice = libc::MADV_DONTNEED;
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    let advice = libc::MADV_FREE;
    // SAFETY: forwarded contract.
    unsafe { madvise(addr, len, advice) }
}

/// [`discard`] for every range, in as few system calls as [`madvise_many`]
/// manages.
///
/// # Safety
/// As for [`discard`], for every range.
// SAFETY: callers uphold the `# Safety` contract in this function's docs.
pub(crate) unsafe fn discard_many(ranges: &[(usize, usize)]) -> io::Result<()> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    let advice = libc::MADV_DONTNEED;
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    let advice = libc::MADV_FREE;
    // SAFETY: forwarded contract.
    unsafe { madvise_many(ranges, advice) }
}

/// Asks the kernel not to back the range with transparent huge pages. A
/// 2 MiB huge page under a slab of 256 KiB stacks would make one stack's
/// first touch resident for eight. Best effort: errors are ignored.
pub(crate) fn no_huge_pages(addr: usize, len: usize) {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        // SAFETY: MADV_NOHUGEPAGE only changes a VMA flag; contents are kept.
        let _ = unsafe { madvise(addr, len, libc::MADV_NOHUGEPAGE) };
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    let _ = (addr, len);
}

/// Whether this kernel has `MADV_GUARD_INSTALL`. Probes once by installing a
/// guard in a scratch two-page mapping: success means yes; any error
/// (`EINVAL` on kernels before 6.13) means no. The guard must also work: the
/// kernel must refuse to read the guarded page (`write(2)` of it to a pipe fails
/// with `EFAULT`). qemu-user, for one, answers unknown `madvise` advice with
/// success and does nothing, which would leave every stack unguarded.
pub(crate) fn guard_install_supported() -> bool {
    // 0 = unknown, 1 = no, 2 = yes. Relaxed: the probe is idempotent.
    static STATE: AtomicUsize = AtomicUsize::new(0);
    match STATE.load(Ordering::Relaxed) {
        1 => return false,
        2 => return true,
        _ => {}
    }
    let ok = probe_guard_install();
    STATE.store(if ok { 2 } else { 1 }, Ordering::Relaxed);
    ok
}

fn probe_guard_install() -> bool {
    if !cfg!(any(target_os = "linux", target_os = "android")) {
        return false;
    }
    let page = page_size();
    let Ok(addr) = mmap_anon(2 * page) else {
        return false;
    };
    // SAFETY: the scratch mapping was just created and holds nothing.
    let ok = unsafe { madvise(addr, page, MADV_GUARD_INSTALL) }.is_ok() && guard_faults(addr);
    // SAFETY: the scratch mapping is ours and unreferenced.
    let _ = unsafe { munmap(addr, 2 * page) };
    ok
}

/// True if the kernel cannot read the byte at `addr`: a `write(2)` of it to a pipe fails with
/// `EFAULT` (the kernel's copy from user memory meets the guard and fails the call; no signal).
fn guard_faults(addr: usize) -> bool {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: pipe writes two descriptors into the array we pass.
    if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
        return false;
    }
    // SAFETY: write only reads from `addr`; a guarded page makes it fail with EFAULT instead of
    // faulting, and an unguarded one of our scratch mapping is readable zeros.
    let r = unsafe { libc::write(fds[1], addr as *const libc::c_void, 1) };
    let err = io::Error::last_os_error().raw_os_error();
    // SAFETY: both descriptors were just created by pipe and are ours.
    unsafe {
        libc::close(fds[0]);
        libc::close(fds[1]);
    }
    r == -1 && err == Some(libc::EFAULT)
}

/// `vm.max_map_count`, or `None` where `/proc` does not have it (non-Linux).
pub(crate) fn max_map_count() -> Option<usize> {
    std::fs::read_to_string("/proc/sys/vm/max_map_count")
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// The number of mappings (VMAs) of this process: the line count of
/// `/proc/self/maps`, or `None` where that file does not exist.
pub fn map_count() -> Option<usize> {
    let s = std::fs::read("/proc/self/maps").ok()?;
    Some(s.iter().filter(|&&b| b == b'\n').count())
}

/// How many pages of `[addr, addr+len)` are resident (`mincore`), for tests
/// and diagnostics. `addr` must be page-aligned.
pub fn resident_pages(addr: usize, len: usize) -> io::Result<usize> {
    let page = page_size();
    let n = len.div_ceil(page);
    let mut vec = vec![0u8; n];
    // SAFETY: `mincore` only reads page-table state for the range and writes
    // `n` bytes into `vec`, which has exactly `n` bytes.
    cvt(unsafe { libc::mincore(addr as *mut libc::c_void, len, vec.as_mut_ptr().cast()) })?;
    Ok(vec.iter().filter(|&&b| b & 1 != 0).count())
}

/// Residency of each page of `[addr, addr + len)` (`mincore`; `addr` page-aligned, the range
/// mapped): bit 0 of `out[i]` for page `i`. Unlike reading the pages, this maps nothing: a
/// never-touched page stays unmapped (a read would map the kernel's zero page with a minor
/// fault and a page-table entry).
pub(crate) fn residency(addr: usize, len: usize, out: &mut Vec<u8>) -> io::Result<()> {
    out.clear();
    out.resize(len.div_ceil(page_size()), 0);
    // SAFETY: `mincore` only reads page-table state for the range and writes one byte per page
    // into `out`, which has exactly that many.
    cvt(unsafe { libc::mincore(addr as *mut libc::c_void, len, out.as_mut_ptr().cast()) })?;
    Ok(())
}

/// CPU time the calling thread has used (user and system; `CLOCK_THREAD_CPUTIME_ID`), zero if
/// the clock cannot be read. For pacing background work by what it costs, not by wall time,
/// which on a loaded machine includes the time the thread waited for a core.
pub(crate) fn thread_cpu_time() -> std::time::Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the clock id is a constant the C library
    // knows (an unknown one fails with EINVAL, leaving `ts` zero).
    if unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) } != 0 {
        return std::time::Duration::ZERO;
    }
    std::time::Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// The heavy side of an asymmetric memory barrier (Linux `membarrier(2)`,
/// `MEMBARRIER_CMD_PRIVATE_EXPEDITED`, Linux 4.14+): when it returns, every
/// other thread of this process that was running has executed a full memory
/// barrier (an IPI to each CPU running one), and a thread that was not
/// running passes one when it is next scheduled. So the light side of a
/// Dekker-style handshake needs only program order (a compiler fence): a
/// store then a load on that side, a store, this call, then a load on this
/// side, and at least one side sees the other's store. Userspace RCU and
/// folly's `asymmetricHeavyBarrier` use it the same way.
///
/// Returns false where it is not available (not Linux, an older kernel, a
/// seccomp filter, qemu-user); callers then must not rely on it. The
/// registration it needs is done on the first call.
pub(crate) fn heavy_barrier() -> bool {
    #[cfg(target_os = "linux")]
    {
        // Values from include/uapi/linux/membarrier.h.
        const QUERY: libc::c_long = 0;
        const PRIVATE_EXPEDITED: libc::c_long = 1 << 3;
        const REGISTER_PRIVATE_EXPEDITED: libc::c_long = 1 << 4;
        static STATE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        let ok = *STATE.get_or_init(|| {
            // SAFETY: membarrier takes two integers and a flag word and touches no memory of
            // ours; an unknown command fails with EINVAL.
            let cmds = unsafe { libc::syscall(libc::SYS_membarrier, QUERY, 0, 0) };
            cmds >= 0
                && cmds & PRIVATE_EXPEDITED != 0
                // SAFETY: as above.
                && unsafe { libc::syscall(libc::SYS_membarrier, REGISTER_PRIVATE_EXPEDITED, 0, 0) }
                    == 0
        });
        // SAFETY: as above; registered, so the command does not fail with EPERM.
        ok && unsafe { libc::syscall(libc::SYS_membarrier, PRIVATE_EXPEDITED, 0, 0) } == 0
    }
    #[cfg(not(target_os = "linux"))]
    {
        false
    }
}

/// Writes all of `buf` to stderr with raw `write(2)`, retrying on `EINTR`
/// and short writes; gives up silently on other errors. Async-signal-safe.
pub(crate) fn write_stderr(mut buf: &[u8]) {
    while !buf.is_empty() {
        // SAFETY: `buf` is a valid readable slice of `buf.len()` bytes.
        let n = unsafe { libc::write(libc::STDERR_FILENO, buf.as_ptr().cast(), buf.len()) };
        if n > 0 {
            buf = &buf[n as usize..];
        } else if n == -1 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
            continue;
        } else {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `discard_many` over more ranges than one `process_madvise` call takes
    /// (64): every touched page is released, the untouched ones between
    /// them are left alone, and the mapping stays usable.
    #[test]
    fn discard_many_releases_every_range() {
        let page = page_size();
        let n = 1500;
        let len = 2 * n * page;
        let lo = mmap_anon(len).unwrap();
        for i in 0..n {
            // SAFETY: inside the fresh mapping, which nothing else uses.
            unsafe { ((lo + 2 * i * page) as *mut u8).write_volatile(1) };
        }
        assert_eq!(resident_pages(lo, len).unwrap(), n);
        let ranges: Vec<_> = (0..n).map(|i| (lo + 2 * i * page, page)).collect();
        // SAFETY: the ranges are ours and hold nothing we read back as live data.
        unsafe { discard_many(&ranges) }.unwrap();
        assert_eq!(resident_pages(lo, len).unwrap(), 0);
        // SAFETY: as above; the page reads as zero after the discard.
        assert_eq!(unsafe { (lo as *const u8).read_volatile() }, 0);
        // SAFETY: unmapping our own, unreferenced mapping.
        unsafe { munmap(lo, len) }.unwrap();
    }

    /// An error in one range is reported, not swallowed by the batching: an
    /// unmapped range gives `ENOMEM` as `madvise` does.
    #[test]
    fn madvise_many_reports_a_bad_range() {
        let page = page_size();
        let lo = mmap_anon(4 * page).unwrap();
        // SAFETY: unmapping the upper half of our own mapping.
        unsafe { munmap(lo + 2 * page, 2 * page) }.unwrap();
        let ranges = [(lo, page), (lo + 2 * page, page)];
        // SAFETY: the first range is ours; the second is unmapped and the call must fail.
        let err = unsafe { discard_many(&ranges) }.unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ENOMEM), "{err}");
        // SAFETY: unmapping what is left of our mapping.
        unsafe { munmap(lo, 2 * page) }.unwrap();
    }
}
