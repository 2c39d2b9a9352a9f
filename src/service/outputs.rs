//! The report files of one pass over a file, written as the rows come into
//! a hidden staging folder of the outbox and published (see `publish`)
//! only when the caller decides the report is due; dropped unpublished,
//! nothing appears in the outbox.

use std::io::Write;

use crate::check::RowLines;
use crate::ledger::{FileId, Ledger};
use crate::model::RowIssue;
use crate::pipeline::FileHeader;
use crate::report::{
    AtomicFile, ErrorsCsv, ErrorsXlsx, IssueLog, ReportPaths, SentCsv, SentLookup, SentStatus,
    Summary,
};

use super::paths::{output_error, OutputPaths};
use super::publish::{failpoint, publish_staged, stage_for, StagingDir};
use super::ServiceError;

/// The streaming writers of one pass, writing into its staging folder.
pub(super) struct Outputs {
    /// Final paths in the outbox.
    paths: OutputPaths,
    /// The same names in the staging folder, where the writers write.
    staged: OutputPaths,
    errors: ErrorsCsv,
    xlsx: Option<ErrorsXlsx>,
    sent: SentCsv,
    bundles: Option<AtomicFile>,
    issues: IssueLog,
    lines: RowLines,
    /// Last: removed after the writers above dropped their temporary files.
    staging: StagingDir,
}

impl Outputs {
    pub(super) fn create(
        paths: &OutputPaths,
        header: &FileHeader,
    ) -> Result<Outputs, ServiceError> {
        let (staging, staged) = stage_for(paths)?;
        let staging = StagingDir::new(staging);
        let r = &staged.reports;
        let headers = &header.info.headers;
        let xlsx = Some(
            ErrorsXlsx::new(
                headers,
                header.info.sheet.as_deref(),
                &crate::check::date_columns(header),
            )
            .map_err(output_error(&r.errors_xlsx))?,
        );
        let bundles = match &staged.bundles {
            Some(p) => Some(AtomicFile::create(p).map_err(output_error(p))?),
            None => None,
        };
        let (errors_csv, errors_xlsx) = (r.errors_csv.clone(), r.errors_xlsx.clone());
        let mut outputs = Outputs {
            errors: ErrorsCsv::create(&r.errors_csv, headers)
                .map_err(output_error(&r.errors_csv))?,
            sent: SentCsv::create(&r.sent_csv).map_err(output_error(&r.sent_csv))?,
            issues: IssueLog::new(),
            xlsx,
            bundles,
            paths: paths.clone(),
            lines: RowLines::for_file(&header.file_issues),
            staged,
            staging,
        };
        // Why the whole file fails opens the errors files (see `RowLines`).
        for issue in &header.file_issues {
            outputs
                .errors
                .write_file_note(issue)
                .map_err(output_error(&errors_csv))?;
            if let Some(x) = outputs.xlsx.as_mut() {
                x.write_file_note(issue)
                    .map_err(output_error(&errors_xlsx))?;
            }
        }
        Ok(outputs)
    }

    /// A row that failed (invalid, or refused by RNDS): original cells first.
    /// Issues that only repeat the file's own (see `RowLines`) are left out,
    /// and a row left with none gets no line.
    pub(super) fn failed(
        &mut self,
        cells: &[String],
        issues: &[RowIssue],
    ) -> Result<(), ServiceError> {
        let issues = self.lines.keep(issues.to_vec());
        if issues.is_empty() {
            return Ok(());
        }
        let issues = issues.as_slice();
        let r = &self.staged.reports;
        self.errors
            .write_row(cells, issues)
            .map_err(output_error(&r.errors_csv))?;
        if let Some(x) = self.xlsx.as_mut() {
            x.write_row(cells, issues)
                .map_err(output_error(&r.errors_xlsx))?;
        }
        Ok(())
    }

    /// One row issue for `resumo.json` (spooled; `summary` keeps the first
    /// ones), unless it only repeats the file's own.
    pub(super) fn issue(
        &mut self,
        issue: RowIssue,
        summary: &mut Summary,
    ) -> Result<(), ServiceError> {
        match self.lines.keep(vec![issue]).pop() {
            Some(issue) => self.file_issue(issue, summary),
            None => Ok(()),
        }
    }

    /// One issue of the file as a whole for `resumo.json`.
    pub(super) fn file_issue(
        &mut self,
        issue: RowIssue,
        summary: &mut Summary,
    ) -> Result<(), ServiceError> {
        self.issues
            .push(issue, summary)
            .map_err(output_error(&self.staged.reports.summary))
    }

    /// A valid row's line in `enviados.csv`.
    pub(super) fn sent(
        &mut self,
        line: u64,
        lab_id: &str,
        rnds_id: Option<&str>,
        status: &SentStatus,
        lookup: &SentLookup,
    ) -> Result<(), ServiceError> {
        self.sent
            .write_row(line, lab_id, rnds_id, status, lookup)
            .map_err(output_error(&self.staged.reports.sent_csv))?;
        if self.sent.rows() == 1 {
            failpoint("relatorio-parcial");
        }
        Ok(())
    }

    pub(super) fn bundle(&mut self, json: &[u8]) -> Result<(), ServiceError> {
        if let (Some(file), Some(path)) = (self.bundles.as_mut(), self.staged.bundles.as_ref()) {
            file.write_all(json)
                .and_then(|()| file.write_all(b"\n"))
                .map_err(output_error(path))?;
        }
        Ok(())
    }

    /// Publishes the set: completes every file in the staging folder,
    /// records it in the ledger as report `kind` of `file_id`, moves the
    /// files into the outbox (the summary last: a reader polling for
    /// `resumo.json` then finds the others complete), then marks it done.
    pub(super) fn publish(
        self,
        summary: &Summary,
        ledger: &mut Ledger,
        file_id: FileId,
        kind: &str,
    ) -> Result<ReportPaths, ServiceError> {
        let Outputs {
            paths,
            staged,
            mut staging,
            errors,
            xlsx,
            sent,
            bundles,
            issues,
            ..
        } = self;
        let r = &staged.reports;
        if let (Some(file), Some(path)) = (bundles, staged.bundles.as_ref()) {
            file.commit().map_err(output_error(path))?;
        }
        errors.commit().map_err(output_error(&r.errors_csv))?;
        if let Some(x) = xlsx {
            x.save(&r.errors_xlsx)
                .map_err(output_error(&r.errors_xlsx))?;
        }
        sent.commit().map_err(output_error(&r.sent_csv))?;
        issues
            .write_summary(&paths.summary_of(summary), &r.summary)
            .map_err(output_error(&r.summary))?;
        publish_staged(&mut staging, &paths.reports.summary, ledger, file_id, kind)?;
        Ok(paths.reports)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_whose_set_is_still_staged_is_taken() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(
            dir.path()
                .join(super::super::paths::STAGING_DIR)
                .join("lote.20261103T164000"),
        )
        .unwrap();
        let paths = OutputPaths::timestamped(
            dir.path(),
            "lote",
            "lote",
            &super::super::paths::Received::example("2026-11-03T16:40:00-03:00"),
        );
        assert!(paths
            .reports
            .summary
            .ends_with("lote.20261103T164000_2.resumo.json"));
    }
}
