//! gort
