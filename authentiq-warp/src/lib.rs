//! The warp adapter (in progress).
