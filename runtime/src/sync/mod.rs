//! Blocking synchronisation for green threads (and plain threads): placeholder.
