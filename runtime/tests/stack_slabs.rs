//! Slab carving keeps the VMA count flat: 200,000 guarded stacks add only a
//! handful of lines to `/proc/self/maps`. Alone in its file (its own test
//! binary) so no other test's mappings disturb the count.

use gort_runtime::stack::{self, testing, GuardMode, Pool, PoolConfig};

#[test]
fn carve_200k_guarded_stacks_from_few_mappings() {
    let Some(before) = testing::map_count() else {
        return; // no /proc: not Linux
    };
    let pool = Pool::with_config(PoolConfig::default());
    let stacks: Vec<_> = (0..200_000)
        .map(|i| {
            pool.alloc(stack::MIN_STACK_SIZE)
                .unwrap_or_else(|e| panic!("stack {i}: {e}"))
        })
        .collect();
    let after = testing::map_count().unwrap();
    let stats = pool.stats();
    eprintln!(
        "maps {before} -> {after}; {stats} mapped={}",
        stats.mapped_bytes
    );
    assert_eq!(pool.live(), 200_000);
    assert_eq!(stats.carved, 200_000);
    if pool.guard_mode() == GuardMode::Madvise {
        // Slabs (7 for this size) plus slack for the test harness.
        assert!(after <= before + 16, "maps grew from {before} to {after}");
    }
    for s in stacks {
        pool.free(s);
    }
    assert_eq!(pool.live(), 0);
    assert_eq!(pool.stats().cached_global, 200_000);
    assert!(testing::map_count().unwrap() <= before + 16);
}
