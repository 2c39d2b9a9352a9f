//! The one integration-test binary: every test drives rnds-drop through a
//! public entry point (library function or the real binary) with real files.

mod alerts;
mod check;
mod cli;
mod conformance;
mod harness;
mod homologation;
mod operations;
mod service_kill;
