//! The service's logs as a person reads them: timestamps in the lab's zone
//! with its offset, CNS/CPF masked in every line (console and file), and an
//! optional rotating log file beside stderr.

use std::fmt;
use std::path::PathBuf;

use chrono::Utc;
use tracing::Subscriber;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::FormatTime;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::{EnvFilter, Layer, Registry};

use super::logfile::RotatingFile;
use super::mask::Masking;

/// How to log.
#[derive(Debug, Clone)]
pub struct LogSettings {
    /// One JSON object per line instead of text.
    pub json: bool,
    /// Default level (`RUST_LOG` overrides it).
    pub level: String,
    /// The lab's zone; UTC when no configuration was loaded.
    pub timezone: chrono_tz::Tz,
    /// Colours on the console (only when it is a terminal).
    pub ansi: bool,
    /// `[service] log_file` and its rotation.
    pub file: Option<LogFile>,
}

#[derive(Debug, Clone)]
/// `[service] log_file`: a log file rotated by size.
pub struct LogFile {
    /// The current log file.
    pub path: PathBuf,
    /// Size at which the file is rotated.
    pub max_bytes: u64,
    /// Rotated files kept besides the current one.
    pub keep: u32,
}

/// `2026-12-01T07:25:12.345-03:00` in the lab's zone.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LabTime(pub chrono_tz::Tz);

impl FormatTime for LabTime {
    fn format_time(&self, w: &mut Writer<'_>) -> fmt::Result {
        write!(
            w,
            "{}",
            Utc::now()
                .with_timezone(&self.0)
                .format("%Y-%m-%dT%H:%M:%S%.3f%:z")
        )
    }
}

type Boxed = Box<dyn Layer<Registry> + Send + Sync>;

fn layer<W>(json: bool, ansi: bool, tz: chrono_tz::Tz, writer: W) -> Boxed
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let base = tracing_subscriber::fmt::layer()
        .with_timer(LabTime(tz))
        .with_writer(Masking {
            inner: writer,
            ansi: ansi && !json,
        });
    if json {
        base.json().boxed()
    } else {
        base.with_ansi(ansi).boxed()
    }
}

/// The subscriber for `settings`, writing to `console` (stderr in the
/// binary) and to the log file when configured.
pub fn subscriber<W>(
    settings: &LogSettings,
    console: W,
) -> std::io::Result<impl Subscriber + Send + Sync>
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(settings.level.as_str()));
    let mut layers: Vec<Boxed> = vec![layer(
        settings.json,
        settings.ansi,
        settings.timezone,
        console,
    )];
    if let Some(file) = &settings.file {
        let rotating = RotatingFile::open(&file.path, file.max_bytes, file.keep)?;
        layers.push(layer(settings.json, false, settings.timezone, rotating));
    }
    Ok(Registry::default().with(layers).with(filter))
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use super::*;

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);
    impl Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    impl<'a> MakeWriter<'a> for Buffer {
        type Writer = Buffer;
        fn make_writer(&'a self) -> Buffer {
            self.clone()
        }
    }

    fn emit(settings: &LogSettings, console: Buffer) {
        let subscriber = subscriber(settings, console).unwrap();
        tracing::subscriber::with_default(subscriber, || {
            let cns = "759010928159013";
            tracing::warn!(
                paciente = cns,
                cpf = "123.456.789-09",
                "exame do CNS {cns} recusado"
            );
            tracing::info!(
                arquivo = "lote.csv",
                linhas = 200_000u64,
                "arquivo recebido"
            );
        });
    }

    #[test]
    fn every_line_in_console_and_file_has_lab_time_and_no_cns_or_cpf() {
        let dir = tempfile::tempdir().unwrap();
        for json in [false, true] {
            let path = dir.path().join(format!("log-{json}.txt"));
            let settings = LogSettings {
                json,
                level: "info".into(),
                timezone: chrono_tz::America::Manaus,
                ansi: false,
                file: Some(LogFile {
                    path: path.clone(),
                    max_bytes: 1 << 20,
                    keep: 2,
                }),
            };
            let console = Buffer::default();
            emit(&settings, console.clone());
            let console = String::from_utf8(console.0.lock().unwrap().clone()).unwrap();
            let file = std::fs::read_to_string(&path).unwrap();
            for text in [&console, &file] {
                assert_eq!(text.lines().count(), 2, "{text}");
                assert!(!text.contains("759010928159013"), "{text}");
                assert!(!text.contains("456.789"), "{text}");
                assert!(text.contains("759**********13"), "{text}");
                assert!(text.contains("-04:00"), "Manaus offset in {text}");
                assert!(text.contains("200000"), "counts are not masked: {text}");
            }
        }
    }
}
