//! The report files of one pass over a file, written as the rows come and
//! committed (atomically, summary last) only when the caller decides the
//! report is due; dropped uncommitted, nothing appears in the outbox.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::input::Format;
use crate::model::RowIssue;
use crate::pipeline::FileHeader;
use crate::report::{
    AtomicFile, ErrorsCsv, ErrorsXlsx, IssueLog, ReportPaths, SentCsv, SentStatus, Summary,
};

use super::ServiceError;

/// Where reports named `<name>.<kind>` go: `name` is the file's stem, plus
/// a `.<AAAAMMDDTHHMMSS>` instant for the service.
#[derive(Debug, Clone)]
pub struct OutputPaths {
    pub reports: ReportPaths,
    /// `<name>.bundles.ndjson` (only `send` writes it, like `check`).
    pub bundles: Option<PathBuf>,
}

impl OutputPaths {
    /// The service's names: `<stem>.<AAAAMMDDTHHMMSS>.*`, with `_2`, `_3`…
    /// after the instant when a report of that second already exists (the
    /// same file dropped twice within a second must not overwrite).
    pub fn timestamped(outbox: &Path, stem: &str, instant: &str) -> OutputPaths {
        let mut n = 1u32;
        loop {
            let name = if n == 1 {
                format!("{stem}.{instant}")
            } else {
                format!("{stem}.{instant}_{n}")
            };
            let reports = ReportPaths::new(outbox, &name);
            if !reports.summary.exists() && !reports.sent_csv.exists() {
                return OutputPaths {
                    reports,
                    bundles: None,
                };
            }
            n += 1;
        }
    }

    /// `send`'s names: `<stem>.*` like `check`, plus the bundles file.
    pub fn plain(out_dir: &Path, stem: &str) -> OutputPaths {
        OutputPaths {
            reports: ReportPaths::new(out_dir, stem),
            bundles: Some(out_dir.join(format!("{stem}.bundles.ndjson"))),
        }
    }
}

fn output_error(path: &Path) -> impl FnOnce(std::io::Error) -> ServiceError {
    let path = path.to_path_buf();
    move |source| ServiceError::Output { path, source }
}

/// The streaming writers of one pass.
pub struct Outputs {
    paths: OutputPaths,
    errors: ErrorsCsv,
    xlsx: Option<ErrorsXlsx>,
    sent: SentCsv,
    bundles: Option<AtomicFile>,
    issues: IssueLog,
}

impl Outputs {
    pub fn create(paths: &OutputPaths, header: &FileHeader) -> Result<Outputs, ServiceError> {
        let r = &paths.reports;
        let headers = &header.info.headers;
        let xlsx = if header.info.format == Format::Xlsx {
            Some(
                ErrorsXlsx::new(headers, header.info.sheet.as_deref())
                    .map_err(output_error(&r.errors_xlsx))?,
            )
        } else {
            None
        };
        let bundles = match &paths.bundles {
            Some(p) => Some(AtomicFile::create(p).map_err(output_error(p))?),
            None => None,
        };
        Ok(Outputs {
            errors: ErrorsCsv::create(&r.errors_csv, headers)
                .map_err(output_error(&r.errors_csv))?,
            sent: SentCsv::create(&r.sent_csv).map_err(output_error(&r.sent_csv))?,
            issues: IssueLog::create(&r.summary).map_err(output_error(&r.summary))?,
            xlsx,
            bundles,
            paths: paths.clone(),
        })
    }

    /// A row that failed (invalid, or refused by RNDS): original cells first.
    pub fn failed(&mut self, cells: &[String], issues: &[RowIssue]) -> Result<(), ServiceError> {
        let r = &self.paths.reports;
        self.errors
            .write_row(cells, issues)
            .map_err(output_error(&r.errors_csv))?;
        if let Some(x) = self.xlsx.as_mut() {
            x.write_row(cells, issues)
                .map_err(output_error(&r.errors_xlsx))?;
        }
        Ok(())
    }

    /// One issue for `resumo.json` (spooled; `summary` keeps the first ones).
    pub fn issue(&mut self, issue: RowIssue, summary: &mut Summary) -> Result<(), ServiceError> {
        self.issues
            .push(issue, summary)
            .map_err(output_error(&self.paths.reports.summary))
    }

    /// A valid row's line in `enviados.csv`.
    pub fn sent(
        &mut self,
        line: u64,
        lab_id: &str,
        rnds_id: Option<&str>,
        status: &SentStatus,
    ) -> Result<(), ServiceError> {
        self.sent
            .write_row(line, lab_id, rnds_id, status)
            .map_err(output_error(&self.paths.reports.sent_csv))
    }

    pub fn bundle(&mut self, json: &[u8]) -> Result<(), ServiceError> {
        if let (Some(file), Some(path)) = (self.bundles.as_mut(), self.paths.bundles.as_ref()) {
            file.write_all(json)
                .and_then(|_| file.write_all(b"\n"))
                .map_err(output_error(path))?;
        }
        Ok(())
    }

    /// Moves every file into place, the summary last (a reader polling for
    /// `resumo.json` then finds the others complete).
    pub fn commit(self, summary: &Summary) -> Result<ReportPaths, ServiceError> {
        let Outputs {
            paths,
            errors,
            xlsx,
            sent,
            bundles,
            issues,
        } = self;
        let r = &paths.reports;
        if let (Some(file), Some(path)) = (bundles, paths.bundles.as_ref()) {
            warn_if_moved(path, file.commit().map_err(output_error(path))?);
        }
        let mut written = r.clone();
        written.errors_csv = errors.commit().map_err(output_error(&r.errors_csv))?;
        if let Some(x) = xlsx {
            written.errors_xlsx = x
                .save(&r.errors_xlsx)
                .map_err(output_error(&r.errors_xlsx))?;
        }
        written.sent_csv = sent.commit().map_err(output_error(&r.sent_csv))?;
        written.summary = issues
            .write_summary(summary, &r.summary)
            .map_err(output_error(&r.summary))?;
        for (wanted, got) in [
            (&r.errors_csv, &written.errors_csv),
            (&r.errors_xlsx, &written.errors_xlsx),
            (&r.sent_csv, &written.sent_csv),
            (&r.summary, &written.summary),
        ] {
            warn_if_moved(wanted, got.clone());
        }
        Ok(written)
    }
}

/// A report name in use (open in Excel on Windows) is never a failure: the
/// report went to a free numbered name, and the log says which.
fn warn_if_moved(wanted: &Path, written: PathBuf) {
    if wanted != written {
        tracing::warn!(
            "{} está aberto em outro programa (Excel?) e não pôde ser substituído: relatório gravado como {}",
            wanted.display(),
            written.display()
        );
    }
}
