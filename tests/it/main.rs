//! The one integration-test binary: every test drives rnds-drop through a
//! public entry point (library function or the real binary) with real files.

// Test code: a failed setup step (temp dir, fixture write) should fail the test
// loudly. clippy.toml's allow-*-in-tests covers #[test] fns but not the
// harness helpers they call, hence the crate-wide allow here.
#![allow(clippy::unwrap_used, clippy::expect_used)]
// A test scenario reads best as one story top to bottom: not split (issue 24).
#![allow(clippy::too_many_lines)]

mod alerts;
mod certificates;
mod check;
mod cli;
mod config_mistakes;
mod conformance;
// Stops the service binary with SIGTERM (see service_kill).
#[cfg(unix)]
mod correction_order;
mod daemon;
mod edges;
mod excel_time;
mod first_month;
// Stops the service binary with SIGTERM (see service_kill).
#[cfg(unix)]
mod growing_files;
mod harness;
mod homologation;
mod hostile;
mod hostile_rnds;
mod id_reuse;
mod inspect;
mod layouts;
// Shell `ulimit`, `sh -c` alert commands and unix modes.
#[cfg(unix)]
mod leaks;
mod ledger_reset;
// Kills the service binary with SIGKILL (see service_kill).
#[cfg(unix)]
mod never_lose;
mod operations;
mod packaging;
// The throwaway PostgreSQL cluster (also included by src/lib.rs).
mod pg_cluster;
// Kills instances of the service binary with SIGKILL.
#[cfg(unix)]
mod pg_instances;
mod pkcs11;
mod postgres_ledger;
mod renewal;
mod report_kills;
mod report_names;
mod rnds_errors;
mod safety;
mod tidy;
mod uncorrected;
// Kills the service binary with SIGKILL/SIGTERM; Windows stops it through
// the same shutdown future by Ctrl+C or the service manager (src/winservice).
#[cfg(unix)]
mod service_kill;
