//! rnds-drop: lab exports dropped in a folder → RNDS lab-result bundles,
//! each sent exactly once. See ARCHITECTURE.md for the map.

pub mod check;
pub mod config;
pub mod conformance;
pub mod demo;
pub mod fhir;
pub mod homologation;
pub mod input;
pub mod inspect;
mod io_text;
mod layout;
mod ledger;
pub mod mapping;
mod model;
pub mod ops;
pub mod pipeline;
mod platform;
mod private_fs;
pub mod report;
pub mod rnds;
pub mod rnds_errors;
pub mod schemas;
pub mod service;
pub mod simulator;
pub mod template;
pub mod validate;
pub mod watch;
pub mod winservice;

#[cfg(test)]
mod test_skip;
// The throwaway PostgreSQL cluster, shared with the integration tests.
#[cfg(test)]
#[path = "../tests/it/pg_cluster.rs"]
mod test_pg;
