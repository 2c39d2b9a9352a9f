//! Which lab ids a file already used, and where: the service reports a
//! lab id's second row instead of sending it. Kept as fixed-size digests
//! (32 bytes a lab id plus the table's slack) rather than the id and
//! content-hash texts (about 200 bytes), so a million-row file costs tens
//! of megabytes here, not hundreds.
//!
//! Invariant: remembers digests; decides nothing about sending.

use std::collections::HashMap;

use sha2::{Digest, Sha256};

/// Lab id digest → (line of its first row, digest of that row's content).
#[derive(Debug, Default)]
pub(crate) struct FirstRows(HashMap<u128, (u64, u64)>);

/// A lab id seen before in this file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Earlier {
    /// Line of the first row with this lab id.
    pub(crate) line: u64,
    /// Whether that row carried the same content.
    pub(crate) same_content: bool,
}

impl FirstRows {
    /// Notes `lab_id` at `line` with `content_hash`; when the file used
    /// the lab id before, says where (the first row stays the one noted).
    ///
    /// A 128-bit digest of the id: two different ids would have to collide
    /// to be taken for one, and even then the row is reported, not sent.
    pub(crate) fn note(&mut self, lab_id: &str, line: u64, content_hash: &str) -> Option<Earlier> {
        let id = digest(lab_id);
        let content = digest(content_hash) as u64;
        if let Some(&(first, first_content)) = self.0.get(&id) {
            return Some(Earlier {
                line: first,
                same_content: first_content == content,
            });
        }
        self.0.insert(id, (line, content));
        None
    }

    /// Whether this file's read so far had a row with `lab_id`.
    pub(crate) fn contains(&self, lab_id: &str) -> bool {
        self.0.contains_key(&digest(lab_id))
    }
}

fn digest(text: &str) -> u128 {
    let full = Sha256::digest(text.as_bytes());
    let mut first = [0; 16];
    first.copy_from_slice(&full[..16]);
    u128::from_le_bytes(first)
}

#[cfg(test)]
mod tests {
    use super::{Earlier, FirstRows};

    #[test]
    fn a_lab_id_used_again_points_at_its_first_row_and_compares_content() {
        let mut rows = FirstRows::default();
        assert_eq!(rows.note("P-1", 2, "aaa"), None);
        assert_eq!(rows.note("P-2", 3, "aaa"), None);
        let same = Earlier {
            line: 2,
            same_content: true,
        };
        assert_eq!(rows.note("P-1", 4, "aaa"), Some(same));
        let other = Earlier {
            line: 2,
            same_content: false,
        };
        assert_eq!(rows.note("P-1", 5, "bbb"), Some(other));
        assert_eq!(std::mem::size_of::<(u128, (u64, u64))>(), 32);
    }
}
