//! Behaviour of the stack pool: the mprotect budget, warm LIFO reuse,
//! trimming of deep stacks, and coroutines on GStacks moving threads.

use std::sync::atomic::Ordering;

use corosensei::stack::Stack;
use corosensei::{Coroutine, CoroutineResult};
use gort_runtime::stack::{self, testing, GStack, GuardChoice, GuardMode, Pool, PoolConfig};

fn mprotect_pool(budget: usize) -> &'static Pool {
    Pool::with_config(PoolConfig {
        guard: GuardChoice::Mprotect,
        mprotect_budget: Some(budget),
    })
}

#[test]
fn mprotect_budget_fails_clearly_and_recovers() {
    let pool = mprotect_pool(8);
    assert_eq!(pool.guard_mode(), GuardMode::Mprotect);
    let mut stacks: Vec<GStack> = (0..8).map(|_| pool.alloc(64 * 1024).unwrap()).collect();
    let err = pool.alloc(64 * 1024).unwrap_err();
    let msg = err.to_string();
    assert_eq!(err.kind(), std::io::ErrorKind::OutOfMemory);
    assert!(msg.contains("vm.max_map_count"), "{msg}");
    assert!(msg.contains("8 stacks are live"), "{msg}");
    assert!(
        msg.contains("reduce the number of live green threads"),
        "{msg}"
    );
    // Stacks already handed out still work.
    for s in &stacks {
        let (lo, hi) = s.stack_range();
        // SAFETY: the stack's usable range is ours, mapped read-write.
        unsafe {
            std::ptr::write_bytes((hi - 4096) as *mut u8, 0xAB, 4096);
            std::ptr::write_bytes(lo as *mut u8, 0xCD, 64);
        }
    }
    let mut co = Coroutine::with_stack(stacks.pop().unwrap(), |y, ()| {
        y.suspend(1u32);
        2u32
    });
    assert!(matches!(co.resume(()), CoroutineResult::Yield(1)));
    assert!(matches!(co.resume(()), CoroutineResult::Return(2)));
    // Freeing one lets allocation succeed again (it is reused).
    pool.free(co.into_stack());
    let again = pool.alloc(64 * 1024).expect("a freed stack is reusable");
    assert!(pool.alloc(64 * 1024).is_err());
    pool.free(again);
    for s in stacks {
        pool.free(s);
    }
    assert_eq!(pool.live(), 0);
}

#[test]
fn computed_budget_is_reasonable() {
    let pool = Pool::with_config(PoolConfig {
        guard: GuardChoice::Mprotect,
        mprotect_budget: None,
    });
    if testing::map_count().is_some() {
        // max_map_count 65530 here: about 15,000 stacks.
        assert!(
            pool.budget() > 1000 && pool.budget() < 1 << 30,
            "{}",
            pool.budget()
        );
    }
}

#[test]
fn reuse_is_warm_lifo() {
    let pool = Pool::with_config(PoolConfig::default());
    let a = pool.alloc(100_000).unwrap();
    let b = pool.alloc(100_000).unwrap();
    let (a_lo, b_lo) = (a.limit().get(), b.limit().get());
    pool.free(a);
    pool.free(b);
    assert_eq!(pool.alloc(100_000).unwrap().limit().get(), b_lo); // dropped: freed
    let x = pool.alloc(100_000).unwrap();
    assert_eq!(x.limit().get(), b_lo);
    let y = pool.alloc(100_000).unwrap();
    assert_eq!(y.limit().get(), a_lo);
    // Another class does not take these.
    let z = pool.alloc(200_000).unwrap();
    assert_ne!(z.limit().get(), a_lo);
    drop((x, y, z));
    assert_eq!(pool.live(), 0);
}

#[test]
fn global_alloc_with_per_p_cache() {
    let mut cache = stack::StackCache::default();
    let s = stack::alloc(256 * 1024, Some(&mut cache)).unwrap();
    let lo = s.limit().get();
    assert!(stack::live() >= 1);
    stack::free(s, Some(&mut cache));
    assert_eq!(cache.len(), 1);
    let s = stack::alloc(256 * 1024, Some(&mut cache)).unwrap();
    assert_eq!(s.limit().get(), lo);
    assert_eq!(cache.len(), 0);
    stack::free(s, Some(&mut cache));
    cache.drain_to_global();
    assert_eq!(cache.len(), 0);
    let st = stack::stats();
    assert!(st.to_string().starts_with("stacks: slabs="), "{st}");
}

fn touch(s: &GStack, depth: usize) {
    let (_, hi) = s.stack_range();
    // SAFETY: `[hi - depth, hi)` lies in the stack's usable range, mapped
    // read-write and owned by this test; no coroutine runs on it.
    unsafe { std::ptr::write_bytes((hi - depth) as *mut u8, 0x5A, depth) };
}

#[test]
fn deep_stack_is_trimmed_shallow_is_not() {
    let page = 4096;
    for pool in [Pool::with_config(PoolConfig::default()), mprotect_pool(4)] {
        let s = pool.alloc(2 << 20).unwrap();
        let (lo, hi) = s.stack_range();
        touch(&s, 1 << 20);
        assert!(testing::resident_pages(lo, hi - lo).unwrap() >= (1 << 20) / page);
        pool.free(s);
        assert_eq!(pool.stats().trims, 1);
        let resident = testing::resident_pages(lo, hi - lo).unwrap();
        assert!(
            resident <= stack::HOT_BYTES / page,
            "{resident} pages resident after trim"
        );

        // Shallow: same stack back (LIFO), touch 8 KiB, no trim.
        let s = pool.alloc(2 << 20).unwrap();
        assert_eq!(s.stack_range(), (lo, hi));
        touch(&s, 8 * 1024);
        pool.free(s);
        assert_eq!(pool.stats().trims, 1, "a shallow stack was trimmed");
        // Guard survived the trim: still recognised (guard is below lo).
        let s = pool.alloc(2 << 20).unwrap();
        assert_eq!(s.guard_range().1, lo);
        pool.free(s);
    }
}

/// A coroutine is `!Send`; this test moves one between threads, which is
/// what the engine's single `unsafe impl Send` does.
struct SendCo(Coroutine<u32, u32, u32, GStack>);
// SAFETY: nothing on the coroutine's stack is thread-bound: its closure
// captures nothing and holds only integers across the suspend point.
unsafe impl Send for SendCo {}

#[test]
fn coroutine_on_gstack_migrates_threads() {
    let pool = Pool::with_config(PoolConfig::default());
    let stack = pool.alloc(64 * 1024).unwrap();
    let lo = stack.limit().get();
    let mut co = Coroutine::with_stack(stack, |y, a: u32| {
        let t1 = std::thread::current().id();
        let b = y.suspend(a + 1);
        let t2 = std::thread::current().id();
        assert_ne!(t1, t2);
        a + b
    });
    assert!(matches!(co.resume(10), CoroutineResult::Yield(11)));
    let co = SendCo(co);
    let co = std::thread::spawn(move || {
        let mut co = co;
        assert!(matches!(co.0.resume(5), CoroutineResult::Return(15)));
        co
    })
    .join()
    .unwrap();
    let stack = co.0.into_stack();
    assert_eq!(stack.limit().get(), lo);
    pool.free(stack);
    assert_eq!(pool.live(), 0);
    let _ = Ordering::Relaxed;
}

#[test]
fn bad_sizes_are_errors() {
    let pool = Pool::with_config(PoolConfig::default());
    assert_eq!(
        pool.alloc(usize::MAX).unwrap_err().kind(),
        std::io::ErrorKind::InvalidInput
    );
    let s = pool.alloc(1).unwrap();
    assert_eq!(s.usable_size(), stack::MIN_STACK_SIZE);
}
