//! The issues of `resumo.json`: every problem counted by its code, the
//! first [`EXAMPLES_PER_CODE`] of each code kept as examples. A file whose
//! million rows are all wrong gets a summary of a few hundred kilobytes,
//! not a gigabyte (the rows themselves are in `erros.csv`, up to its cap).

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use super::summary::Summary;
use crate::model::RowIssue;

/// Problems of one code listed in `resumo.json`; the rest are counted.
pub(crate) const EXAMPLES_PER_CODE: u64 = 50;

/// Distinct codes counted one by one; more (codes are a short fixed list,
/// so this is a guard, not a limit anyone meets) count under `outros`.
const MAX_CODES: usize = 200;

/// Every issue of one file, counted by code, the first of each kept in
/// `summary.issues` in file order.
#[derive(Debug, Default)]
pub(crate) struct IssueLog {
    counts: BTreeMap<String, u64>,
    left_out: u64,
}

impl IssueLog {
    /// An empty log.
    pub(crate) fn new() -> IssueLog {
        IssueLog::default()
    }

    /// Counts `issue`; keeps it in `summary.issues` while its code has
    /// fewer than [`EXAMPLES_PER_CODE`] there.
    pub(crate) fn push(&mut self, issue: RowIssue, summary: &mut Summary) -> io::Result<()> {
        let code = if self.counts.len() < MAX_CODES || self.counts.contains_key(&issue.code) {
            issue.code.clone()
        } else {
            "outros".to_owned()
        };
        let count = self.counts.entry(code).or_insert(0);
        *count += 1;
        if *count <= EXAMPLES_PER_CODE {
            summary.issues.push(issue);
        } else {
            self.left_out += 1;
        }
        Ok(())
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> u64 {
        self.counts.values().sum()
    }

    /// Writes `summary` atomically to `path`; when examples were left out,
    /// with how many and the count of every code. Returns where it went
    /// (see [`super::AtomicFile::commit`]).
    pub(crate) fn write_summary(self, summary: &Summary, path: &Path) -> io::Result<PathBuf> {
        if self.left_out == 0 {
            return summary.write(path);
        }
        let mut whole = summary.clone();
        whole.issues_left_out = self.left_out;
        whole.issue_counts = self.counts;
        whole.write(path)
    }
}
