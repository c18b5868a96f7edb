//! A worker process for the crash test. Not meant for users.
fn main() {}
