//! G-local storage: `local!` keys whose values are per G, the safe replacement for
//! `thread_local!` in code that blocks (a G may resume on another thread after any park).
//!
//! Each key gets an index from a global counter the first time it is used (`LocalKey::index`:
//! 0 means "not assigned yet"; a CAS assigns it exactly once, Relaxed is enough because the index
//! is only a number). On a G the value lives in the G's table (`with_g_local`), is created on
//! first use and dropped when the G ends. On a plain thread the value lives in a thread-local
//! table instead (may's `coroutine_local!` does the same) and is dropped at thread exit.

// Deliberately std, not the loom shim: `LocalKey::new` must be `const` (keys are `static`s),
// which loom's atomics are not, and the index counter is a plain id allocator outside every
// modelled protocol.
use std::any::Any;
use std::cell::RefCell;
use std::sync::atomic::{AtomicUsize, Ordering};

static NEXT_INDEX: AtomicUsize = AtomicUsize::new(1);

thread_local! {
    /// Plain-thread fallback: one boxed value per key index.
    static THREAD_VALUES: RefCell<Vec<Option<Box<dyn Any>>>> = const { RefCell::new(Vec::new()) };
}

/// A G-local key, declared with [`local!`](crate::local!).
///
/// # Examples
///
/// ```
/// use std::cell::Cell;
/// gort::local! { static N: Cell<u32> = Cell::new(0); }
/// N.with(|n| n.set(n.get() + 1));
/// let in_g = gort::spawn(|| N.with(|n| n.get())).join().unwrap();
/// assert_eq!(in_g, 0); // a new G starts with a fresh value
/// assert_eq!(N.with(|n| n.get()), 1);
/// ```
pub struct LocalKey<T: 'static> {
    index: AtomicUsize,
    init: fn() -> T,
}

impl<T: Send + 'static> LocalKey<T> {
    /// Used by `local!` (hidden).
    #[doc(hidden)]
    pub const fn new(init: fn() -> T) -> Self {
        LocalKey {
            index: AtomicUsize::new(0),
            init,
        }
    }

    fn index(&self) -> usize {
        let i = self.index.load(Ordering::Relaxed);
        if i != 0 {
            return i - 1;
        }
        let fresh = NEXT_INDEX.fetch_add(1, Ordering::Relaxed);
        match self
            .index
            .compare_exchange(0, fresh, Ordering::Relaxed, Ordering::Relaxed)
        {
            Ok(_) => fresh - 1,
            Err(won) => won - 1,
        }
    }

    /// Runs `f` on this G's value (created on first use); on a plain thread, on the thread's.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::cell::RefCell;
    /// gort::local! { static LOG: RefCell<Vec<u32>> = RefCell::new(Vec::new()); }
    /// let n = gort::spawn(|| {
    ///     LOG.with(|l| l.borrow_mut().push(1));
    ///     gort::yield_now(); // may resume on another thread: the value follows the G
    ///     LOG.with(|l| l.borrow().len())
    /// });
    /// assert_eq!(n.join().unwrap(), 1);
    /// ```
    pub fn with<R>(&'static self, f: impl FnOnce(&T) -> R) -> R {
        let idx = self.index();
        let mut f = Some(f);
        let on_g = crate::with_g_local(
            idx,
            || Box::new((self.init)()),
            |v| (f.take().unwrap())(v.downcast_ref::<T>().expect("G-local type")),
        );
        match on_g {
            Some(r) => r,
            None => self.with_thread(idx, f.take().unwrap()),
        }
    }

    fn with_thread<R>(&'static self, idx: usize, f: impl FnOnce(&T) -> R) -> R {
        let existing = THREAD_VALUES.with(|t| {
            let t = t.borrow();
            t.get(idx)
                .and_then(|v| v.as_ref())
                .map(|b| &**b as *const dyn Any)
        });
        let p = match existing {
            Some(p) => p,
            None => {
                // The initialiser may use other keys: run it with no borrow held.
                let v: Box<dyn Any> = Box::new((self.init)());
                THREAD_VALUES.with(|t| {
                    let mut t = t.borrow_mut();
                    if t.len() <= idx {
                        t.resize_with(idx + 1, || None);
                    }
                    let slot = t[idx].get_or_insert(v);
                    &**slot as *const dyn Any
                })
            }
        };
        // SAFETY: the value is boxed (stable address) and is removed only when the thread's
        // table is destroyed at thread exit, never while `f` runs on this thread; no `&mut` to
        // it is ever created.
        let v = unsafe { &*p };
        f(v.downcast_ref::<T>().expect("thread-local fallback type"))
    }
}

impl<T: 'static> std::fmt::Debug for LocalKey<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad("LocalKey { .. }")
    }
}

/// Declares G-local keys: `gort::local! { static NAME: Type = init; }` (each G gets its own
/// value, created lazily and dropped when the G ends; plain threads get a thread-local one).
/// `Type` must be `Send` (the value moves with its G between threads).
///
/// # Examples
///
/// ```
/// use std::cell::RefCell;
/// gort::local! {
///     static COUNTER: RefCell<u32> = RefCell::new(0);
///     pub static NAME: RefCell<String> = RefCell::new(String::new());
/// }
/// let hs: Vec<_> = (0..4)
///     .map(|i| gort::spawn(move || {
///         COUNTER.with(|c| *c.borrow_mut() += i);
///         COUNTER.with(|c| *c.borrow())
///     }))
///     .collect();
/// let got: Vec<u32> = hs.into_iter().map(|h| h.join().unwrap()).collect();
/// assert_eq!(got, [0, 1, 2, 3]);
/// NAME.with(|n| n.borrow_mut().push_str("main"));
/// ```
#[macro_export]
macro_rules! local {
    () => {};
    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty = $init:expr; $($rest:tt)*) => {
        $(#[$attr])* $vis static $name: $crate::local::LocalKey<$t> = {
            fn __init() -> $t { $init }
            $crate::local::LocalKey::new(__init)
        };
        $crate::local!($($rest)*);
    };
    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty = $init:expr) => {
        $crate::local!($(#[$attr])* $vis static $name: $t = $init;);
    };
}
