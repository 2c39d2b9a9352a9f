//! The client's error type: what went wrong outside a bundle's own answer.
//!
//! Invariant: messages are pt-BR for lab staff and never carry a password or
//! a token.

/// Errors of building the client or of a lookup. A bundle's own answer is an
/// [`crate::rnds::Outcome`], not an error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    /// Certificate, password, configuration or an RNDS answer that means the
    /// configuration is wrong (EHR-ERR881/884/906, 401/403). Stop sending.
    #[error("{0}")]
    Config(String),
    /// RNDS could not be reached or kept failing (connect errors, 5xx, 429,
    /// time-outs). Try again later.
    #[error("{0}")]
    Unreachable(String),
    /// RNDS refused a bundle sent to settle an unknown outcome (its data).
    #[error("a RNDS recusou: {0}")]
    Refused(String),
    /// RNDS answered a lookup with an error that is neither of the above.
    #[error("RNDS respondeu {status}: {message}")]
    Answer { status: u16, message: String },
}
