//! The example app on warp (in progress).

fn main() {}
