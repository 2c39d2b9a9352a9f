//! The SHA-256 of a source file: the identity the ledger keys a file on
//! (a file dropped again with the same bytes is the same file).

use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};

/// Hex SHA-256 of a file, streamed.
pub(crate) fn sha256_file(path: &Path) -> std::io::Result<String> {
    sha256_prefix(path, None)
}

/// Hex SHA-256 of a file's first `limit` bytes (all of it for `None`):
/// the bytes a pass with that `byte_limit` read.
pub(crate) fn sha256_prefix(path: &Path, limit: Option<u64>) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?.take(limit.unwrap_or(u64::MAX));
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex(&hasher.finalize()))
}

/// Lower-case hex of bytes.
fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}
