//! A test that cannot run on this machine says so in `cargo test`'s output
//! instead of passing in silence. libtest captures the `print!` family, not
//! writes to the stderr handle, so the line shows with or without
//! `--nocapture`.
//!
//! Invariant: used by tests only.

use std::io::Write;

/// Prints `SKIPPED <test>: <reason>` where `cargo test` shows it; the
/// caller then returns without asserting.
pub(crate) fn skipped(reason: &str) {
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("(test)");
    let _ = writeln!(std::io::stderr().lock(), "SKIPPED {test}: {reason}");
}
