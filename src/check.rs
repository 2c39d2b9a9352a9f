//! `rnds-drop check`: one input file → `<stem>.bundles.ndjson`,
//! `<stem>.erros.csv` (plus `.erros.xlsx`, the one staff fix) and
//! `<stem>.resumo.json` in an output folder. Offline: no network, no ledger.
//!
//! Invariant: glue only. The core decides what is valid; `report` decides
//! how files look.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::model::{Field, RowIssue};
use crate::pipeline::{self, FileHeader, FileJob, PipelineError, RowOutcome};
use crate::report::{AtomicFile, ErrorsCsv, ErrorsXlsx, IssueLog, ReportPaths, Summary};

/// How a file came out, in the order of exit-code severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verdict {
    /// Every row is valid (exit code 0).
    AllValid,
    /// Some rows are invalid and listed in the reports.
    SomeInvalid,
    /// The file could not be read or holds no row that can be judged.
    Unreadable,
}

#[derive(Debug)]
/// What `check` made of one input file.
pub struct CheckedFile {
    /// The counts and findings also written to `resumo.json`.
    pub summary: Summary,
    /// Why no row of the file can be sent (a missing column, not a results
    /// file), one pt-BR sentence each; empty when rows were judged one by one.
    pub file_issues: Vec<RowIssue>,
    /// How the file came out; decides the exit code.
    pub verdict: Verdict,
    /// Where the reports went (a name in use, e.g. open in Excel, is
    /// replaced by a free numbered one: see `moved`).
    pub paths: ReportPaths,
    /// The NDJSON file with one bundle per valid row.
    pub bundles: PathBuf,
    /// `(wanted, written)` for each output written under another name
    /// because the wanted one could not be replaced.
    pub moved: Vec<(PathBuf, PathBuf)>,
}

/// The outputs could not be written (the input is never the cause).
#[derive(Debug, thiserror::Error)]
#[error("não foi possível gravar {path}: {}", crate::io_text::reason(source))]
pub struct OutputError {
    /// The output file that could not be written.
    pub path: PathBuf,
    #[source]
    /// The operating system's reason.
    pub source: std::io::Error,
}

/// Which row issues a file's reports list. When the whole file fails, its
/// sentences open the reports: a row line repeating "the file lacks this
/// column" would only bury them, and rows of a file that holds no results
/// at all (a mapping table, a plate export) are not listed.
#[derive(Debug, Clone, Default)]
pub(crate) struct RowLines {
    file_issues: Vec<RowIssue>,
    no_results: bool,
}

impl RowLines {
    pub(crate) fn for_file(file_issues: &[RowIssue]) -> RowLines {
        RowLines {
            file_issues: file_issues.to_vec(),
            no_results: file_issues
                .iter()
                .any(|i| crate::validate::file_kind::is_not_results(&i.code)),
        }
    }

    /// The issues of a row worth a line in the reports (possibly none).
    pub(crate) fn keep(&self, issues: Vec<RowIssue>) -> Vec<RowIssue> {
        if self.no_results {
            return Vec::new();
        }
        if self.file_issues.is_empty() {
            return issues;
        }
        // A row issue of the same kind as a file issue, or about a required
        // field that has no column, only repeats what the file's sentence
        // says.
        let repeats_the_file = |i: &RowIssue| {
            i.code == crate::validate::COLUMN_MISSING
                || (i.code == "campo_obrigatorio" && i.column.is_empty())
                || self.file_issues.iter().any(|f| f.code == i.code)
        };
        issues
            .into_iter()
            .filter(|i| !repeats_the_file(i))
            .collect()
    }
}

impl OutputError {
    /// The output folder is a file or may not be written: the `--out` the
    /// person gave, not a defect.
    pub fn is_wrong_folder(&self) -> bool {
        use std::io::ErrorKind as K;
        matches!(
            self.source.kind(),
            K::AlreadyExists | K::NotADirectory | K::PermissionDenied | K::ReadOnlyFilesystem
        )
    }
}

/// A file's summary as far as its header tells: what was detected and which
/// header maps to which field. Issues go through an [`IssueLog`] (the
/// file-level ones first), counts come at the end.
pub(crate) fn summary_of(header: &FileHeader) -> Summary {
    let mut s = Summary::for_source(&header.info, String::new());
    for (field, &index) in &header.columns.by_field {
        if let Some(h) = header.columns.headers.get(index) {
            s.columns.insert(*field, h.clone());
        }
    }
    s
}

/// The name outputs are derived from: the file name without its extension.
pub fn stem(path: &Path) -> String {
    path.file_stem()
        .map_or_else(|| "arquivo".into(), |s| s.to_string_lossy().into_owned())
}

/// The names the outputs of `files` (checked together into one folder)
/// are derived from: the stem, or the whole file name when another file
/// has the same stem (`inj.csv` and `inj.xlsx` → `inj.csv`, `inj.xlsx`),
/// plus `_2`, `_3`… if even that repeats. Compared without case, as
/// Windows folders do, so no file's reports overwrite another's.
pub fn report_names(files: &[PathBuf]) -> Vec<String> {
    let key = |name: &str| name.to_lowercase();
    let stems: Vec<String> = files.iter().map(|f| stem(f)).collect();
    let mut taken = std::collections::HashSet::new();
    let mut names = Vec::with_capacity(files.len());
    for (file, own_stem) in files.iter().zip(&stems) {
        let shared = stems.iter().filter(|s| key(s) == key(own_stem)).count() > 1;
        let base = if shared {
            file_name(file)
        } else {
            own_stem.clone()
        };
        let mut name = base.clone();
        let mut n = 1;
        while !taken.insert(key(&name)) {
            n += 1;
            name = format!("{base}_{n}");
        }
        names.push(name);
    }
    names
}

/// Checks one file and writes its outputs into `out_dir` (created if
/// missing), named after its stem. `progress` is called after each chunk
/// with the rows so far.
pub fn check_file(
    path: &Path,
    job: &FileJob,
    out_dir: &Path,
    progress: &mut dyn FnMut(u64),
) -> Result<CheckedFile, OutputError> {
    check_file_as(path, &stem(path), job, out_dir, progress)
}

/// [`check_file`] with outputs named `<name>.*` (see [`report_names`]).
pub fn check_file_as(
    path: &Path,
    name: &str,
    job: &FileJob,
    out_dir: &Path,
    progress: &mut dyn FnMut(u64),
) -> Result<CheckedFile, OutputError> {
    let out_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| OutputError { path, source }
    };
    crate::private_fs::create_private_dir_all(out_dir).map_err(out_err(out_dir))?;
    let stem = name;
    let mut paths = ReportPaths::new(out_dir, stem);
    let mut bundles_path = out_dir.join(format!("{stem}.bundles.ndjson"));
    let mut moved = Vec::new();

    let mut sink = CheckSink {
        paths: &paths,
        bundles_path: &bundles_path,
        outputs: None,
        summary: None,
        issues: None,
        lines: RowLines::default(),
        file_issues: Vec::new(),
        rows_seen: 0,
        progress,
    };
    let result = pipeline::process_file(path, job, &mut sink);
    let CheckSink {
        outputs,
        summary,
        issues,
        file_issues,
        ..
    } = sink;

    match result {
        Ok(totals) => {
            let mut summary = summary.unwrap_or_else(|| {
                Summary::unreadable(file_name(path), String::new(), None, String::new())
            });
            record_totals(&mut summary, totals);
            if let Some(out) = outputs {
                let written = out.commit()?;
                note_written(&mut bundles_path, written.bundles, &mut moved);
                note_written(&mut paths.errors_csv, written.errors_csv, &mut moved);
                if let Some(xlsx) = written.errors_xlsx {
                    note_written(&mut paths.errors_xlsx, xlsx, &mut moved);
                }
            }
            let written = match issues {
                Some(log) => log.write_summary(&summary, &paths.summary),
                None => summary.write(&paths.summary),
            }
            .map_err(out_err(&paths.summary))?;
            note_written(&mut paths.summary, written, &mut moved);
            // A file-level issue (a missing column) fails the file even
            // when it has no data rows to blame.
            let verdict = if summary.rows_invalid == 0 && summary.issues.is_empty() {
                Verdict::AllValid
            } else {
                Verdict::SomeInvalid
            };
            Ok(CheckedFile {
                summary,
                file_issues,
                verdict,
                paths,
                bundles: bundles_path,
                moved,
            })
        }
        Err(PipelineError::Sink(e)) => Err(e),
        Err(PipelineError::Input(e)) => {
            // Half-written outputs are dropped (their temp files vanish);
            // stale outputs of an earlier run must not look current.
            drop(outputs);
            for stale in [&bundles_path, &paths.errors_csv, &paths.errors_xlsx] {
                let _ = std::fs::remove_file(stale);
            }
            let sha = crate::input::sha256_file(path).unwrap_or_default();
            let format = summary.as_ref().and_then(|s| s.format);
            let summary = Summary::unreadable(file_name(path), sha, format, e.to_string());
            let written = summary
                .write(&paths.summary)
                .map_err(out_err(&paths.summary))?;
            note_written(&mut paths.summary, written, &mut moved);
            Ok(CheckedFile {
                summary,
                file_issues: Vec::new(),
                verdict: Verdict::Unreadable,
                paths,
                bundles: bundles_path,
                moved,
            })
        }
    }
}

/// Records where an output went when that is not where it was wanted.
fn note_written(wanted: &mut PathBuf, written: PathBuf, moved: &mut Vec<(PathBuf, PathBuf)>) {
    if *wanted != written {
        moved.push((wanted.clone(), written.clone()));
        *wanted = written;
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Receives the core's output and streams it into the files.
struct CheckSink<'a> {
    paths: &'a ReportPaths,
    bundles_path: &'a Path,
    outputs: Option<Outputs>,
    summary: Option<Summary>,
    issues: Option<IssueLog>,
    lines: RowLines,
    file_issues: Vec<RowIssue>,
    rows_seen: u64,
    progress: &'a mut dyn FnMut(u64),
}

impl pipeline::Sink for CheckSink<'_> {
    type Error = OutputError;

    fn header(&mut self, header: &FileHeader) -> Result<(), OutputError> {
        let mut summary = summary_of(header);
        let mut log = IssueLog::new();
        for issue in &header.file_issues {
            log.push(issue.clone(), &mut summary)
                .map_err(|source| OutputError {
                    path: self.paths.summary.clone(),
                    source,
                })?;
        }
        self.summary = Some(summary);
        self.issues = Some(log);
        self.outputs = Some(Outputs::create(self.paths, self.bundles_path, header)?);
        self.lines = RowLines::for_file(&header.file_issues);
        self.file_issues = header.file_issues.clone();
        Ok(())
    }

    fn chunk(&mut self, outcomes: Vec<RowOutcome>) -> Result<(), OutputError> {
        let (Some(out), Some(summary), Some(log)) = (
            self.outputs.as_mut(),
            self.summary.as_mut(),
            self.issues.as_mut(),
        ) else {
            return Ok(());
        };
        for outcome in outcomes {
            self.rows_seen += 1;
            match outcome {
                RowOutcome::Valid { bundle, .. } => out.bundle(&bundle)?,
                RowOutcome::Invalid { row, issues } => {
                    let issues = self.lines.keep(issues);
                    if issues.is_empty() {
                        continue;
                    }
                    out.invalid(&row.cells, &issues)?;
                    for issue in issues {
                        log.push(issue, summary).map_err(|source| OutputError {
                            path: self.paths.summary.clone(),
                            source,
                        })?;
                    }
                }
            }
        }
        (self.progress)(self.rows_seen);
        Ok(())
    }
}

/// The streaming writers of one file's outputs.
struct Outputs {
    bundles: AtomicFile,
    bundles_path: PathBuf,
    errors: ErrorsCsv,
    errors_path: PathBuf,
    xlsx: Option<(ErrorsXlsx, PathBuf)>,
}

impl Outputs {
    fn create(
        paths: &ReportPaths,
        bundles_path: &Path,
        header: &FileHeader,
    ) -> Result<Outputs, OutputError> {
        let err = |p: &Path| {
            let path = p.to_path_buf();
            move |source| OutputError { path, source }
        };
        let headers = &header.info.headers;
        let x = ErrorsXlsx::new(headers, header.info.sheet.as_deref(), &date_columns(header))
            .map_err(err(&paths.errors_xlsx))?;
        let xlsx = Some((x, paths.errors_xlsx.clone()));
        let mut outputs = Outputs {
            bundles: AtomicFile::create(bundles_path).map_err(err(bundles_path))?,
            bundles_path: bundles_path.to_path_buf(),
            errors: ErrorsCsv::create(&paths.errors_csv, headers)
                .map_err(err(&paths.errors_csv))?,
            errors_path: paths.errors_csv.clone(),
            xlsx,
        };
        for issue in &header.file_issues {
            outputs
                .errors
                .write_file_note(issue)
                .map_err(err(&paths.errors_csv))?;
            if let Some((x, p)) = outputs.xlsx.as_mut() {
                x.write_file_note(issue).map_err(err(p))?;
            }
        }
        Ok(outputs)
    }

    fn bundle(&mut self, json: &[u8]) -> Result<(), OutputError> {
        self.bundles
            .write_all(json)
            .and_then(|()| self.bundles.write_all(b"\n"))
            .map_err(|source| OutputError {
                path: self.bundles_path.clone(),
                source,
            })
    }

    fn invalid(
        &mut self,
        cells: &[String],
        issues: &[crate::model::RowIssue],
    ) -> Result<(), OutputError> {
        self.errors
            .write_row(cells, issues)
            .map_err(|source| OutputError {
                path: self.errors_path.clone(),
                source,
            })?;
        if let Some((x, p)) = self.xlsx.as_mut() {
            x.write_row(cells, issues).map_err(|source| OutputError {
                path: p.clone(),
                source,
            })?;
        }
        Ok(())
    }

    /// Moves the outputs into place; returns where they went.
    fn commit(self) -> Result<Written, OutputError> {
        let Outputs {
            bundles,
            bundles_path,
            errors,
            errors_path,
            xlsx,
        } = self;
        let bundles = bundles.commit().map_err(|source| OutputError {
            path: bundles_path,
            source,
        })?;
        let errors_csv = errors.commit().map_err(|source| OutputError {
            path: errors_path,
            source,
        })?;
        let errors_xlsx = match xlsx {
            Some((x, p)) => Some(
                x.save(&p)
                    .map_err(|source| OutputError { path: p, source })?,
            ),
            None => None,
        };
        Ok(Written {
            bundles,
            errors_csv,
            errors_xlsx,
        })
    }
}

/// The file's own columns that hold a date or date-time: `erros.xlsx`
/// writes them as Excel dates (every input gets one, so staff fix rows in
/// Excel without it turning a CNS into `8,52984E+14`).
pub(crate) fn date_columns(header: &FileHeader) -> Vec<usize> {
    [Field::CollectionDate, Field::IssuedDate]
        .iter()
        .filter_map(|field| header.columns.by_field.get(field).copied())
        .filter(|&at| at < header.info.headers.len())
        .collect()
}

/// Where [`Outputs::commit`] put each file.
struct Written {
    bundles: PathBuf,
    errors_csv: PathBuf,
    errors_xlsx: Option<PathBuf>,
}

/// Copies what the pipeline counted over the whole file into its summary
/// (shared by `check` and the service's pass).
pub(crate) fn record_totals(summary: &mut Summary, totals: pipeline::FileTotals) {
    summary.sha256 = totals.sha256;
    summary.rows_total = totals.rows_total;
    summary.rows_valid = totals.rows_valid;
    summary.rows_invalid = totals.rows_invalid;
    summary.rows_skipped = totals.rows_skipped;
    summary.skipped = totals.skipped;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file of several chunks, some rows invalid, texts that JSON must
    /// escape: `check`'s bundles file and errors file are byte for byte
    /// what validating and building each row alone, in input order, gives,
    /// and the summary lists the same issues at the same lines (the
    /// overlapped, parallel stages may neither reorder, drop nor alter a
    /// bundle or an error line).
    #[test]
    fn outputs_of_a_multi_chunk_run_equal_a_serial_run() {
        use chrono::TimeZone;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("varios_blocos.csv");
        let mut text = String::from(
            "id_exame;cns;data_coleta;data_resultado;codigo_exame;resultado;amostra;metodo\n",
        );
        let results = ["Não detectável", "Detectável", "Inconclusivo"];
        let methods = ["RT-PCR", "RT-PCR \"em tempo real\"", "Método\\barra", ""];
        let rows = 3 * super::pipeline::CHUNK_ROWS + 123;
        for i in 0..rows {
            // One row in 97 has a wrong CNS check digit.
            let cns = if i % 97 == 5 {
                "759010928159014"
            } else {
                "759010928159013"
            };
            let method = methods[i % methods.len()].replace('"', "\"\"");
            text.push_str(&format!(
                "L-{i:06};{cns};{:02}/10/2021 10:{:02};28/10/2021 11:00;94309-2;{};SWNAFA;\"{method}\"\n",
                1 + i % 27,
                i % 60,
                results[i % results.len()],
            ));
        }
        std::fs::write(&path, text).expect("written");
        let config = crate::config::Config::load(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/lab.toml"),
        )
        .expect("lab.toml");
        let now = chrono::Utc
            .with_ymd_and_hms(2026, 11, 20, 15, 0, 0)
            .single()
            .expect("instant");
        let job = FileJob::from_config(&config, None, now);

        let out = tempfile::tempdir().expect("tempdir");
        let checked = check_file(&path, &job, out.path(), &mut |_| {}).expect("written");
        let written = std::fs::read(&checked.bundles).expect("bundles");

        let table = crate::input::open(&path, &job.read).expect("readable");
        let base = crate::mapping::map_columns(
            &table.info.headers,
            &job.layout.columns_for(&table.info.headers),
        );
        let plan = crate::layout::Plan::new(&job.layout, base);
        let serial_dir = tempfile::tempdir().expect("tempdir");
        let serial_errors_path = serial_dir.path().join("erros.csv");
        let mut serial_errors =
            crate::report::ErrorsCsv::create(&serial_errors_path, &table.info.headers)
                .expect("errors file");
        let mut serial = Vec::new();
        let mut serial_issues = Vec::new();
        let mut valid = 0;
        for row in table.rows {
            let row = row.expect("row");
            match crate::validate::validate_row(&row, plan.view(0), &job.validate) {
                Ok(result) => {
                    let bundle =
                        crate::fhir::to_json_bytes(&result, &job.bundle, &job.timestamp, None)
                            .expect("bundle");
                    serial.extend_from_slice(&bundle);
                    serial.push(b'\n');
                    valid += 1;
                }
                Err(issues) => {
                    serial_errors
                        .write_row(&row.cells, &issues)
                        .expect("errors row");
                    serial_issues.extend(issues.into_iter().map(|i| (i.line, i.code, i.value)));
                }
            }
        }
        serial_errors.commit().expect("errors file");
        assert_eq!(checked.summary.rows_valid, valid);
        assert_eq!(checked.summary.rows_invalid, (rows - valid as usize) as u64);
        assert!(written.len() > 1 << 20, "{} bytes", written.len());
        assert!(
            written == serial,
            "bundles.ndjson differs from the serial run"
        );
        let errors = std::fs::read(&checked.paths.errors_csv).expect("erros.csv");
        let serial_errors = std::fs::read(&serial_errors_path).expect("serial erros.csv");
        assert!(serial_issues.len() > 100, "{} issues", serial_issues.len());
        assert!(
            errors == serial_errors,
            "erros.csv differs from the serial run"
        );
        // The summary lists the first issues of each code, in input order.
        let listed: Vec<(u64, String, String)> = checked
            .summary
            .issues
            .iter()
            .map(|i| (i.line, i.code.clone(), i.value.clone()))
            .collect();
        assert!(!listed.is_empty());
        assert_eq!(listed, serial_issues[..listed.len()]);
    }

    #[test]
    fn report_names_differ_only_where_stems_collide() {
        let files: Vec<PathBuf> = ["a/inj.csv", "b/INJ.xlsx", "c/outro.csv", "d/inj.csv"]
            .iter()
            .map(PathBuf::from)
            .collect();
        assert_eq!(
            report_names(&files),
            ["inj.csv", "INJ.xlsx", "outro", "inj.csv_2"]
        );
    }
}
