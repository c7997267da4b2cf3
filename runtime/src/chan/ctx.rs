//! Channel operations that give up when a [`Context`] ends: `Receiver::recv_ctx` and
//! `Sender::send_ctx`, Go's
//!
//! ```go
//! select {
//! case v := <-ch:
//! case <-ctx.Done():
//!     return ctx.Err()
//! }
//! ```
//!
//! as one call: a two-arm select (the operation and the context's done channel) on the caller's
//! stack, so a cancel wakes the G through the done channel's close, within one scheduling round.
//! A context that has ended already wins over a ready channel (checked before the select); once
//! both are ready while the G waits, either may be chosen, as in Go.

use super::select::{select, Mode};
use super::{Receiver, RecvArm, SendArm, Sender};
use crate::context::{self, Context};
use std::fmt;

/// Why [`Receiver::recv_ctx`] failed.
///
/// # Examples
///
/// ```
/// use gort::chan::RecvCtxError;
/// use gort::context;
/// assert_eq!(
///     RecvCtxError::Context(context::Canceled).to_string(),
///     "context canceled"
/// );
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecvCtxError {
    /// The channel is closed and drained.
    Closed,
    /// The context ended first.
    Context(context::Error),
}

/// Why [`Sender::send_ctx`] failed; holds the value that was not sent.
///
/// # Examples
///
/// ```
/// use gort::chan::SendCtxError;
/// let e = SendCtxError::Context(7, gort::context::DeadlineExceeded);
/// assert_eq!(e.into_inner(), 7);
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum SendCtxError<T> {
    /// The channel is closed.
    Closed(T),
    /// The context ended first.
    Context(T, context::Error),
}

impl<T> SendCtxError<T> {
    /// The value that was not sent.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(gort::chan::SendCtxError::Closed("v").into_inner(), "v");
    /// ```
    pub fn into_inner(self) -> T {
        match self {
            SendCtxError::Closed(v) | SendCtxError::Context(v, _) => v,
        }
    }
}

impl<T> Receiver<T> {
    /// Receives, parking until a value arrives, the channel is closed and drained, or `ctx`
    /// ends (then the context's error).
    ///
    /// # Examples
    ///
    /// ```
    /// use gort::chan::RecvCtxError;
    /// use gort::context;
    /// use std::time::Duration;
    /// let (_tx, rx) = gort::chan::bounded::<u32>(0);
    /// let (ctx, _c) = context::with_timeout(&context::background(), Duration::from_millis(2));
    /// assert_eq!(rx.recv_ctx(&ctx), Err(RecvCtxError::Context(context::DeadlineExceeded)));
    /// ```
    #[track_caller]
    pub fn recv_ctx(&self, ctx: &Context) -> Result<T, RecvCtxError> {
        if let Some(e) = ctx.err() {
            return Err(RecvCtxError::Context(e));
        }
        let done = ctx.done();
        let (op, cancel) = (RecvArm::new(self), RecvArm::new(done));
        select(&[&op, &cancel], Mode::Block);
        match op.into_result() {
            Some(Ok(v)) => Ok(v),
            Some(Err(_)) => Err(RecvCtxError::Closed),
            None => Err(RecvCtxError::Context(
                ctx.err().expect("done channel ready but context not ended"),
            )),
        }
    }
}

impl<T> Sender<T> {
    /// Sends `v`, parking until there is room (for `bounded(0)`, a receiver takes it), the
    /// channel is closed, or `ctx` ends; on failure the value comes back in the error.
    ///
    /// # Examples
    ///
    /// ```
    /// use gort::context;
    /// let (tx, _rx) = gort::chan::bounded::<u32>(0);
    /// let (ctx, cancel) = context::with_cancel(&context::background());
    /// cancel.cancel();
    /// let e = tx.send_ctx(&ctx, 9).unwrap_err();
    /// assert_eq!(e.into_inner(), 9);
    /// ```
    #[track_caller]
    pub fn send_ctx(&self, ctx: &Context, v: T) -> Result<(), SendCtxError<T>> {
        if let Some(e) = ctx.err() {
            return Err(SendCtxError::Context(v, e));
        }
        let done = ctx.done();
        let (op, cancel) = (SendArm::new(self, v), RecvArm::new(done));
        select(&[&op, &cancel], Mode::Block);
        let chosen = op.chosen.get();
        match (chosen, op.slot.into_inner()) {
            (true, None) => Ok(()),
            (true, Some(v)) => Err(SendCtxError::Closed(v)),
            (false, Some(v)) => Err(SendCtxError::Context(
                v,
                ctx.err().expect("done channel ready but context not ended"),
            )),
            (false, None) => unreachable!("a send arm that was not chosen lost its value"),
        }
    }
}

impl fmt::Display for RecvCtxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecvCtxError::Closed => f.pad(super::CLOSED_RECV),
            RecvCtxError::Context(e) => fmt::Display::fmt(e, f),
        }
    }
}
impl std::error::Error for RecvCtxError {}

impl<T> fmt::Debug for SendCtxError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendCtxError::Closed(_) => f.pad("Closed(..)"),
            SendCtxError::Context(_, e) => write!(f, "Context(.., {e:?})"),
        }
    }
}
impl<T> fmt::Display for SendCtxError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendCtxError::Closed(_) => f.pad(super::CLOSED_SEND),
            SendCtxError::Context(_, e) => fmt::Display::fmt(e, f),
        }
    }
}
impl<T> std::error::Error for SendCtxError<T> {}
