//! How a lab's program writes an export into the inbox: at once, under a
//! temporary name then renamed, in pieces with pauses (mid-row, inside a
//! quoted cell), appending through its open handle, truncating and
//! writing other rows, or closing and reopening by name. Pauses stay
//! below 10 × `settle_ms`, the documented limit for a writer that pauses.

use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::Path;
use std::thread::sleep;
use std::time::Duration;

use crate::faults::Plan;
use crate::rng::Rng;
use crate::scenario::{self, InputFile, Kind, Row};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Behaviour {
    /// One write, then closed.
    Direct,
    /// Written as hidden `.<name>.tmp`, then renamed to its name.
    Rename,
    /// Pieces cut at random bytes (often mid-row), with pauses.
    Pauses,
    /// A pause right after the line break inside a quoted cell.
    Quotes,
    /// Some rows, a pause with the handle open, then the rest appended.
    Append,
    /// The first part, closed; reopened by name to append the rest after
    /// `pause × settle_ms / 4` (short: before the service claims it).
    TwoHalves { long: bool },
    /// Other rows first; truncated through the open handle and rewritten.
    Truncate,
}

impl Behaviour {
    pub(crate) fn draw_whole(rng: &mut Rng) -> Behaviour {
        if rng.chance(0.5) {
            Behaviour::Direct
        } else {
            Behaviour::Rename
        }
    }

    pub(crate) fn draw(rng: &mut Rng, plan: &Plan, rows: &[Row]) -> Behaviour {
        let mut options = vec![Behaviour::Direct, Behaviour::Rename];
        if plan.has("pause") {
            options.extend([
                Behaviour::Pauses,
                Behaviour::Pauses,
                Behaviour::Append,
                Behaviour::TwoHalves { long: false },
            ]);
        }
        if plan.has("quotes") && rows.iter().any(|r| r.note.contains('\n')) {
            options.extend([Behaviour::Quotes, Behaviour::Quotes]);
        }
        if plan.has("truncate") {
            options.push(Behaviour::Truncate);
        }
        if plan.has("reopen") {
            options.push(Behaviour::TwoHalves { long: true });
        }
        *rng.pick(&options)
    }

    /// Whether the writer may still change the file after the service
    /// could have finished an earlier version (more than one report set).
    pub(crate) fn writes_late(self) -> bool {
        matches!(self, Behaviour::TwoHalves { long: true })
    }
}

/// The bytes the file holds at the end.
pub(crate) fn final_bytes(file: &InputFile, rng: &mut Rng) -> Vec<u8> {
    match file.kind {
        Kind::Csv => scenario::csv_text(&file.rows).into_bytes(),
        Kind::Xlsx => scenario::xlsx_bytes(&file.rows),
        Kind::CorruptXlsx => {
            let mut bytes = scenario::xlsx_bytes(&file.rows);
            let name = b"xl/worksheets/sheet1.xml";
            let at = bytes
                .windows(name.len())
                .position(|w| w == name)
                .map_or(bytes.len() / 2, |p| p + name.len() + 40);
            for b in bytes.iter_mut().skip(at).take(24) {
                *b = rng.range(0, 255) as u8;
            }
            bytes
        }
        Kind::Garbage => (0..rng.range(200, 4_000))
            .map(|_| rng.range(0, 255) as u8)
            .collect(),
    }
}

/// Writes `file` into `inbox` as its behaviour says (blocking; run it on
/// its own thread). Errors are the writer's: a real program would fail
/// the same way, so they are returned for the log, not hidden.
pub(crate) fn write(
    file: &InputFile,
    bytes: &[u8],
    inbox: &Path,
    settle_ms: u64,
    rng: &mut Rng,
) -> std::io::Result<()> {
    let path = inbox.join(&file.name);
    let pause = |rng: &mut Rng, low: u64, high: u64| {
        sleep(Duration::from_millis(rng.range(low, high) * settle_ms / 4));
    };
    match file.behaviour {
        Behaviour::Direct => std::fs::write(&path, bytes),
        Behaviour::Rename => {
            let temp = inbox.join(format!(".{}.tmp", file.name));
            std::fs::write(&temp, bytes)?;
            pause(rng, 0, 4);
            std::fs::rename(&temp, &path)
        }
        Behaviour::Pauses => {
            let mut out = File::create(&path)?;
            let mut at = 0;
            while at < bytes.len() {
                let end = (at + rng.range(1, 400) as usize).min(bytes.len());
                out.write_all(&bytes[at..end])?;
                out.flush()?;
                at = end;
                pause(rng, 1, 16);
            }
            Ok(())
        }
        Behaviour::Quotes => {
            // The first quoted cell's line break: the pause falls inside it.
            let text = std::str::from_utf8(bytes).unwrap_or("");
            let cut = text
                .find("\"coleta repetida\n")
                .map_or(bytes.len() / 2, |p| p + "\"coleta repetida\n".len());
            let mut out = File::create(&path)?;
            out.write_all(&bytes[..cut])?;
            out.flush()?;
            pause(rng, 8, 20);
            out.write_all(&bytes[cut..])
        }
        Behaviour::Append => {
            let text = std::str::from_utf8(bytes).unwrap_or("");
            let lines: Vec<usize> = text.match_indices('\n').map(|(i, _)| i + 1).collect();
            let cut = lines[rng.range(0, lines.len() as u64 - 1) as usize];
            let mut out = File::create(&path)?;
            out.write_all(&bytes[..cut])?;
            out.flush()?;
            pause(rng, 8, 20);
            out.write_all(&bytes[cut..])
        }
        Behaviour::TwoHalves { long } => {
            let cut = rng.range(1, bytes.len() as u64 - 1) as usize;
            std::fs::write(&path, &bytes[..cut])?;
            if long {
                pause(rng, 8, 20);
            } else {
                pause(rng, 0, 2);
            }
            let mut out = OpenOptions::new().append(true).create(true).open(&path)?;
            out.write_all(&bytes[cut..])
        }
        Behaviour::Truncate => {
            let first = scenario::csv_text(&file.replaced_rows);
            let mut out = File::create(&path)?;
            out.write_all(first.as_bytes())?;
            out.flush()?;
            pause(rng, 8, 20);
            out.set_len(0)?;
            out.seek(SeekFrom::Start(0))?;
            out.write_all(bytes)
        }
    }
}
