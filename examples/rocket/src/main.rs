//! The example app on rocket (in progress).

fn main() {}
