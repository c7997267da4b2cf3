//! Temporary stack pool (replaced by the slab allocator on the `stacks` branch): corosensei's
//! DefaultStack behind the interface the engine uses.

use std::io;

/// A guarded stack.
pub struct GStack(corosensei::stack::DefaultStack);

// SAFETY: delegates to DefaultStack, which upholds the Stack contract (guard page, size).
unsafe impl corosensei::stack::Stack for GStack {
    fn base(&self) -> corosensei::stack::StackPointer {
        self.0.base()
    }
    fn limit(&self) -> corosensei::stack::StackPointer {
        self.0.limit()
    }
}

impl GStack {
    /// Usable bytes.
    pub fn usable_size(&self) -> usize {
        use corosensei::stack::Stack;
        self.0.base().get() - self.0.limit().get() - 4096
    }
}

/// Per-P cache of free stacks.
#[derive(Default)]
pub struct StackCache(Vec<GStack>);

impl StackCache {
    /// Cached stacks.
    pub fn len(&self) -> usize {
        self.0.len()
    }
    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// Drops everything.
    pub fn drain_to_global(&mut self) {
        self.0.clear();
    }
}

/// Allocates a stack of at least `size` usable bytes.
pub fn alloc(size: usize, cache: Option<&mut StackCache>) -> io::Result<GStack> {
    if let Some(c) = cache {
        if let Some(i) = c.0.iter().rposition(|s| s.usable_size() >= size) {
            return Ok(c.0.swap_remove(i));
        }
    }
    corosensei::stack::DefaultStack::new(size).map(GStack)
}

/// Returns a stack whose coroutine has finished.
pub fn free(stack: GStack, cache: Option<&mut StackCache>) {
    if let Some(c) = cache {
        if c.0.len() < 64 {
            c.0.push(stack);
        }
    }
}

/// Errors if one more stack of `size` bytes cannot be served (the mapping budget).
pub fn check_capacity(_size: usize) -> io::Result<()> {
    Ok(())
}
