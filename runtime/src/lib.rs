//! engine
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

#[allow(unsafe_code)]
pub mod signal;
#[allow(unsafe_code)]
pub mod stack;
#[allow(unsafe_code)]
pub(crate) mod sys;
