//! `LazyLock<T, F>`: std's `LazyLock` on gort's [`OnceLock`]: the first access runs the
//! initialiser; Gs that access it meanwhile park (std's blocks their M).
//!
//! Who touches what: `init` is taken once, inside `OnceLock::get_or_init`'s initialiser, which
//! runs under the cell's mutex with the cell empty: exclusive. A panicking initialiser leaves
//! the cell empty and `init` gone, so later accesses panic (std's "poisoned").

use super::once::OnceLock;
use std::cell::UnsafeCell;
use std::fmt;
use std::ops::Deref;

/// A value initialised on first access (std's `LazyLock`, parking the G while another
/// initialises it). Usable in a `static`.
///
/// # Examples
///
/// ```
/// use gort::sync::LazyLock;
/// use std::collections::HashMap;
/// static TABLE: LazyLock<HashMap<&str, u32>> =
///     LazyLock::new(|| HashMap::from([("go", 2009), ("rust", 2015)]));
/// let hs: Vec<_> = (0..4).map(|_| gort::spawn(|| TABLE["rust"])).collect();
/// for h in hs {
///     assert_eq!(h.join().unwrap(), 2015);
/// }
/// ```
pub struct LazyLock<T, F = fn() -> T> {
    cell: OnceLock<T>,
    init: UnsafeCell<Option<F>>,
}

// SAFETY: `init` is only touched by the one initialiser (module docs), which may run on any
// thread (F: Send); the value is shared as `&T` and may have been made on another thread
// (T: Send + Sync). std's bounds.
unsafe impl<T: Send + Sync, F: Send> Sync for LazyLock<T, F> {}

impl<T, F: FnOnce() -> T> LazyLock<T, F> {
    super::cfn! {
        /// A lazy value that `f` makes on first access (`const`).
        ///
        /// # Examples
        ///
        /// ```
        /// let l = gort::sync::LazyLock::new(|| 6 * 7);
        /// assert_eq!(*l, 42);
        /// ```
        pub fn new(f: F) -> LazyLock<T, F> {
            LazyLock {
                cell: OnceLock::new(),
                init: UnsafeCell::new(Some(f)),
            }
        }
    }

    /// Initialises if needed and returns the value (what `Deref` does).
    ///
    /// # Panics
    ///
    /// If the initialiser panicked, on this access or an earlier one.
    ///
    /// # Examples
    ///
    /// ```
    /// use gort::sync::LazyLock;
    /// let l = LazyLock::new(|| String::from("made once"));
    /// assert_eq!(LazyLock::force(&l), "made once");
    /// ```
    pub fn force(this: &LazyLock<T, F>) -> &T {
        this.cell.get_or_init(|| {
            // SAFETY: we are the one initialiser (module docs): nobody else touches `init`.
            let f = unsafe { (*this.init.get()).take() };
            match f {
                Some(f) => f(),
                None => panic!("LazyLock instance has previously been poisoned"),
            }
        })
    }
}

impl<T, F: FnOnce() -> T> Deref for LazyLock<T, F> {
    type Target = T;
    fn deref(&self) -> &T {
        LazyLock::force(self)
    }
}

impl<T: Default> Default for LazyLock<T> {
    /// A lazy `T::default()`.
    fn default() -> LazyLock<T> {
        LazyLock::new(T::default)
    }
}

impl<T: fmt::Debug, F> fmt::Debug for LazyLock<T, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.cell.get() {
            Some(v) => f.debug_tuple("LazyLock").field(v).finish(),
            None => f.write_str("LazyLock(<uninit>)"),
        }
    }
}
