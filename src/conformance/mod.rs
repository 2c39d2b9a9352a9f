//! Checks a bundle (as JSON) against the REL profile rules kept as data in
//! `schemas/profiles/`. Used by the builder's self-check and by the
//! simulator; it never sees the builder's types.
//!
//! Invariant: knows JSON and the rules data only; no `fhir::` types, no I/O.
