//! The RNDS client: loads the lab's ICP-Brasil identity, keeps the access
//! token fresh, posts one bundle per request and classifies every answer in
//! one place (`outcome`), retrying transient failures with bounded, jittered
//! back-off. `doctor` is the pre-flight check built on the same client.
//!
//! Invariant: this module knows nothing of rows, CSV, FHIR content or SQL; a
//! bundle is opaque bytes and exactly-once is the caller's job (with the
//! ledger), helped by [`Client::resolve_unknown`].

mod client;
mod concurrency;
pub(crate) mod doctor;
mod endpoints;
mod error;
mod gate;
mod handshake;
mod outcome;
mod request;
mod retry;
pub(crate) mod tls;
mod token;

#[cfg(test)]
pub(crate) use token::Clock;

#[cfg(test)]
// Test-only mock RNDS: its handler reads as one route table (issue 24).
#[allow(clippy::too_many_lines)]
mod mock;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod testutil;

pub use client::{Client, ExchangeObserver, Recorded, Resolution};
pub use doctor::{run_doctor, DoctorReport};
pub(crate) use endpoints::Endpoints;
pub(crate) use error::ClientError;
pub use outcome::Outcome;
pub(crate) use tls::{read_certificate_info, CertificateInfo};
