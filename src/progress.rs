//! The progress bar of `check` and `send` (rows, rows/s, ETA) on stderr,
//! only when stderr is a terminal and not in CI: a pipe or a log file gets
//! the final lines only.

use std::io::{IsTerminal, Read};
use std::path::Path;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};
use rnds_drop::report::pt_number;

/// Whether bars are drawn at all.
pub(crate) fn enabled() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("CI").is_none()
}

/// One file's bar (hidden when not [`enabled`]).
pub(crate) struct FileBar {
    bar: ProgressBar,
}

impl FileBar {
    pub(crate) fn new(file: &Path, name: &str) -> FileBar {
        // Hidden until styled: a bar drawn on creation showed its first
        // frame twice (default style, then ours).
        let hidden = ProgressDrawTarget::hidden();
        let bar = if let Some(total) = estimated_rows(file) {
            let bar = ProgressBar::with_draw_target(Some(total), hidden);
            bar.set_style(style(
                "{prefix} [{bar:30}] {pos_pt}/~{len_pt} linhas · {rate_pt} · faltam ~{eta}",
            ));
            bar
        } else {
            let bar = ProgressBar::with_draw_target(None, hidden);
            bar.set_style(style(
                "{prefix} {spinner} {pos_pt} linhas · {rate_pt} · {elapsed}",
            ));
            bar
        };
        bar.set_prefix(name.to_string());
        if enabled() {
            bar.set_draw_target(ProgressDrawTarget::stderr_with_hz(4));
            bar.enable_steady_tick(Duration::from_millis(250));
        } else {
            bar.set_draw_target(ProgressDrawTarget::hidden());
        }
        FileBar { bar }
    }

    /// `rows` read so far.
    pub(crate) fn update(&self, rows: u64) {
        if self.bar.length().is_some_and(|len| rows > len) {
            self.bar.set_length(rows);
        }
        self.bar.set_position(rows);
    }

    /// Removes the bar (the caller prints the file's result line).
    pub(crate) fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// The bar's numbers the Brazilian way: `134.643/~1.000.000 linhas ·
/// 52.310/s` (indicatif's own keys print `134,643` and `52,310.1961/s`).
fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .with_key(
            "pos_pt",
            |s: &ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = write!(w, "{}", pt_number(s.pos()));
            },
        )
        .with_key(
            "len_pt",
            |s: &ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = write!(w, "{}", pt_number(s.len().unwrap_or(0)));
            },
        )
        .with_key(
            "rate_pt",
            |s: &ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = write!(w, "{}/s", pt_number(s.per_sec().round() as u64));
            },
        )
        .progress_chars("=> ")
}

/// Rows of a CSV-like file estimated from its size and the line length of
/// its first 256 KiB; `None` for XLSX (compressed) or an unreadable file.
fn estimated_rows(file: &Path) -> Option<u64> {
    let is_xlsx = file
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("xlsx") || e.eq_ignore_ascii_case("xls"));
    if is_xlsx {
        return None;
    }
    let size = std::fs::metadata(file).ok()?.len();
    let mut sample = Vec::with_capacity(256 * 1024);
    std::fs::File::open(file)
        .ok()?
        .take(256 * 1024)
        .read_to_end(&mut sample)
        .ok()?;
    let lines = sample.iter().filter(|b| **b == b'\n').count() as u64;
    if lines == 0 || sample.is_empty() {
        return None;
    }
    // The header line is not a row.
    Some(
        (size * lines / sample.len() as u64)
            .saturating_sub(1)
            .max(1),
    )
}
