//! A3 tokens through SoftHSM2 (filled in below).
