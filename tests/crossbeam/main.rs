//! crossbeam-channel's own tests (select.rs, select_macro.rs, ready.rs, never.rs, after.rs,
//! tick.rs at crossbeam 7de845a), ported to gort where gort's semantics are the same: gort's
//! `chan`, `time` and `select!` stand in for crossbeam-channel's, `std::thread::scope` for
//! crossbeam-utils' (the `scope` below), and crossbeam's `Disconnected` error variants are
//! gort's `Closed`. The tests run on plain threads, as crossbeam's do (gort's blocking APIs
//! block a plain thread the same way they park a G). The ones that differ on purpose are listed,
//! with why, in docs/channels.md ("crossbeam-channel's tests").

/// What the ported upper time bounds allow beyond crossbeam's own (which are 50 ms past the
/// due time): the bounds check that a timeout or timer is not ignored, and a thread on a shared
/// 2-core CI machine can be descheduled for longer than 50 ms (a run at load average 10 missed
/// `after::recv_timeout`'s 450 ms by a little). The lower bounds, which are the semantics, are
/// crossbeam's unchanged.
pub const LATE: std::time::Duration = std::time::Duration::from_millis(250);

mod after;
mod never;
mod ready;
mod select;
mod select_macro;
mod tick;

/// crossbeam-utils' `thread::scope` (its tests' shape: `scope(|s| { s.spawn(|_| ..); }).unwrap()`)
/// over `std::thread::scope`. A panicking thread panics the scope instead of returning `Err`.
#[allow(clippy::result_unit_err)] // crossbeam-utils' signature
pub fn scope<'env, F, R>(f: F) -> Result<R, ()>
where
    F: for<'scope> FnOnce(&Scope<'scope, 'env>) -> R,
{
    Ok(std::thread::scope(|s| f(&Scope { inner: s })))
}

/// The scope handed to [`scope`]'s closure and to each spawned thread.
pub struct Scope<'scope, 'env: 'scope> {
    inner: &'scope std::thread::Scope<'scope, 'env>,
}

impl<'scope, 'env> Scope<'scope, 'env> {
    /// Spawns a scoped thread; its closure gets the scope, as crossbeam's does.
    pub fn spawn<F, T>(&self, f: F) -> std::thread::ScopedJoinHandle<'scope, T>
    where
        F: FnOnce(&Scope<'scope, 'env>) -> T + Send + 'scope,
        T: Send + 'scope,
    {
        let inner = self.inner;
        inner.spawn(move || f(&Scope { inner }))
    }
}
