//! Shared helpers of the peer programs: the very same file gort's
//! `gort_work` uses, included by path so there is one copy.
#[path = "../../../src/common.rs"]
pub mod common;
