//! The issues of `resumo.json`, spooled to a temporary file beside it: a
//! file whose million rows are all wrong costs disk, not a gigabyte of
//! memory. The summary is then written around the spool.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use super::atomic::{create_temp_beside, AtomicFile};
use super::summary::Summary;
use crate::model::RowIssue;

/// How many issues a [`Summary`] keeps in memory for callers that inspect
/// it; the written `resumo.json` always lists every issue.
pub(crate) const ISSUES_KEPT_IN_MEMORY: usize = 1000;

/// Every issue of one file, in order, already laid out as the `issues`
/// array of `resumo.json`. Dropped, it removes its temporary file.
#[derive(Debug)]
pub(crate) struct IssueLog {
    spool: PathBuf,
    writer: BufWriter<File>,
    count: u64,
}

impl IssueLog {
    /// A new log whose spool sits beside `summary_path`.
    pub(crate) fn create(summary_path: &Path) -> io::Result<IssueLog> {
        let (spool, file) = create_temp_beside(summary_path)?;
        Ok(IssueLog {
            spool,
            writer: BufWriter::with_capacity(64 * 1024, file),
            count: 0,
        })
    }

    /// Appends `issue`; also keeps it in `summary.issues` while that holds
    /// fewer than [`ISSUES_KEPT_IN_MEMORY`].
    pub(crate) fn push(&mut self, issue: RowIssue, summary: &mut Summary) -> io::Result<()> {
        let pretty = serde_json::to_string_pretty(&issue)?;
        if self.count > 0 {
            self.writer.write_all(b",")?;
        }
        for line in pretty.lines() {
            self.writer.write_all(b"\n    ")?;
            self.writer.write_all(line.as_bytes())?;
        }
        self.count += 1;
        if summary.issues.len() < ISSUES_KEPT_IN_MEMORY {
            summary.issues.push(issue);
        }
        Ok(())
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> u64 {
        self.count
    }

    /// Writes `summary` atomically to `path`, its `issues` taken from the
    /// log (all of them) instead of from memory. Returns where it went (see
    /// [`AtomicFile::commit`]).
    pub(crate) fn write_summary(mut self, summary: &Summary, path: &Path) -> io::Result<PathBuf> {
        self.writer.flush()?;
        let mut head = summary.clone();
        head.issues = Vec::new();
        let text = serde_json::to_string_pretty(&head)?;
        // Field names are unique and string values are escaped, so this
        // exact text can only be the (empty) issues field itself.
        const EMPTY: &str = "\n  \"issues\": []";
        let at = text
            .find(EMPTY)
            .ok_or_else(|| io::Error::other("resumo sem o campo issues"))?;
        let mut out = AtomicFile::create(path)?;
        out.write_all(&text.as_bytes()[..at])?;
        out.write_all(b"\n  \"issues\": [")?;
        if self.count > 0 {
            let mut spool = BufReader::new(File::open(&self.spool)?);
            io::copy(&mut spool, &mut out)?;
            out.write_all(b"\n  ]")?;
        } else {
            out.write_all(b"]")?;
        }
        out.write_all(&text.as_bytes()[at + EMPTY.len()..])?;
        out.write_all(b"\n")?;
        out.commit()
    }
}

impl Drop for IssueLog {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.spool);
    }
}
