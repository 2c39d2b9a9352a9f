//! `LabResult` → RNDS REL bundle (serde types), for profile set 2.0 or 1.x.
//!
//! Invariant: pure. Knows no file, no ledger, no transport.
