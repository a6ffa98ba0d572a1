//! The rocket adapter (in progress).
