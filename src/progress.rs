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
        let target = enabled().then(|| ProgressDrawTarget::stderr_with_hz(4));
        FileBar::drawn_on(file, name, target)
    }

    /// The bar drawn on `target` (`None`: hidden).
    fn drawn_on(file: &Path, name: &str, target: Option<ProgressDrawTarget>) -> FileBar {
        // Hidden until styled: a bar drawn on creation showed its first
        // frame twice (default style, then ours).
        let hidden = ProgressDrawTarget::hidden();
        let bar = if let Some(total) = estimated_rows(file) {
            let bar = ProgressBar::with_draw_target(Some(total), hidden);
            bar.set_style(style(
                "{prefix} [{wide_bar}] {pos_pt}/~{len_pt} linhas · {rate_pt} · faltam ~{eta}",
            ));
            bar
        } else {
            let bar = ProgressBar::with_draw_target(None, hidden);
            bar.set_style(style(
                "{prefix} {spinner} {pos_pt} linhas · {rate_pt} · {elapsed}",
            ));
            bar
        };
        bar.set_prefix(short_name(name));
        if let Some(target) = target {
            bar.set_draw_target(target);
            bar.enable_steady_tick(Duration::from_millis(250));
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

/// Longest file name shown in the bar, in characters: with the counts the
/// frame fits an 80-column terminal (the bar takes what is left). A wider
/// frame wraps, and each redraw left its first line behind.
const MAX_NAME_CHARS: usize = 24;

/// `name`, cut to [`MAX_NAME_CHARS`] with `…` (the result line names the
/// file in full).
fn short_name(name: &str) -> String {
    if name.chars().count() <= MAX_NAME_CHARS {
        return name.to_owned();
    }
    let kept: String = name.chars().take(MAX_NAME_CHARS - 1).collect();
    format!("{kept}…")
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

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use indicatif::TermLike;

    use super::*;

    /// A terminal that records what is drawn: every line written, and
    /// `<clear>` where a line is wiped.
    #[derive(Debug, Clone, Default)]
    struct Recorder(Arc<Mutex<Vec<String>>>);

    impl Recorder {
        fn push(&self, what: String) {
            if let Ok(mut log) = self.0.lock() {
                log.push(what);
            }
        }
        fn log(&self) -> Vec<String> {
            self.0.lock().map(|l| l.clone()).unwrap_or_default()
        }
    }

    impl TermLike for Recorder {
        fn width(&self) -> u16 {
            80
        }
        fn move_cursor_up(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_down(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_right(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_left(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn write_line(&self, s: &str) -> std::io::Result<()> {
            self.push(s.to_owned());
            Ok(())
        }
        fn write_str(&self, s: &str) -> std::io::Result<()> {
            if !s.is_empty() {
                self.push(s.to_owned());
            }
            Ok(())
        }
        fn clear_line(&self) -> std::io::Result<()> {
            self.push("<clear>".to_owned());
            Ok(())
        }
        fn flush(&self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// The frames drawn: the text between wipes.
    fn frames(log: &[String]) -> Vec<String> {
        log.split(|l| l == "<clear>")
            .map(<[String]>::concat)
            .filter(|frame| !frame.trim().is_empty())
            .collect()
    }

    /// On an 80-column terminal every frame fits one line: a wider one
    /// wraps, and each redraw left its first line behind, so the bar showed
    /// twice. The first frame is drawn once.
    #[test]
    fn every_frame_fits_one_line_and_the_first_is_drawn_once() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("exames_fevereiro_unidade_centro.csv");
        std::fs::write(&file, "cabeçalho\n".repeat(1001)).unwrap();
        let terminal = Recorder::default();
        let bar = FileBar::drawn_on(
            &file,
            "exames_fevereiro_unidade_centro.csv",
            Some(ProgressDrawTarget::term_like(Box::new(terminal.clone()))),
        );
        // The steady tick draws the first frame; then the reader's first
        // report comes (0 rows), then rows.
        for _ in 0..200 {
            if !terminal.log().is_empty() {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        bar.update(0);
        bar.update(500);
        bar.update(999_000);
        bar.finish();
        let frames = frames(&terminal.log());
        for frame in &frames {
            let shown = frame.trim_end().chars().count();
            assert!(shown <= 80, "{shown} columns: {frame:?}");
        }
        let first: Vec<&String> = frames
            .iter()
            .filter(|f| f.contains(" 0/~1.000 linhas"))
            .collect();
        assert_eq!(first.len(), 1, "{frames:#?}");
        assert!(
            frames[0].starts_with("exames_fevereiro_unidad… ["),
            "{frames:#?}"
        );
    }
}
