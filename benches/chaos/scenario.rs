//! The lab's side of a seed: patients, result rows, the export files that
//! carry them (CSV, XLSX, corrupt ones) and, with `reuse`, a later file
//! that corrects some results and reuses other lab ids for other patients.
//! Every value is written here from the contract's vocabulary, not taken
//! from the code under test.

use crate::faults::Plan;
use crate::rng::Rng;
use crate::writers::Behaviour;

pub(crate) const HEADER: &str =
    "Nº Pedido;Paciente;Cartão SUS;Data da Coleta;Dt. Liberação;Resultado;Observação;Cód. Exame";

/// The two exams a scenario uses; each has its own method in the config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exam {
    RtPcr,
    Antigen,
}

impl Exam {
    pub(crate) fn loinc(self) -> &'static str {
        match self {
            Exam::RtPcr => "94309-2",
            Exam::Antigen => "94558-4",
        }
    }

    /// `Observation.method.text` the config gives this exam.
    pub(crate) fn method(self) -> &'static str {
        match self {
            Exam::RtPcr => "RT-PCR em tempo real",
            Exam::Antigen => "Imunocromatografia (teste rápido de antígeno)",
        }
    }

    fn result_text(self, positive: bool) -> &'static str {
        match (self, positive) {
            (Exam::RtPcr, true) => "Detectável",
            (Exam::RtPcr, false) => "Não detectável",
            (Exam::Antigen, true) => "Reagente",
            (Exam::Antigen, false) => "Não reagente",
        }
    }
}

/// One result row as the lab wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Row {
    pub(crate) lab_id: String,
    pub(crate) name: String,
    pub(crate) cns: String,
    /// `(day of November 2026, hour, minute)` of collection; issued 6 h later.
    pub(crate) collected: (u32, u32, u32),
    pub(crate) exam: Exam,
    pub(crate) positive: bool,
    /// Free text; with `quotes`, a quoted cell spanning two lines.
    pub(crate) note: String,
    /// False for a row written with a wrong CNS: it must never reach RNDS.
    pub(crate) valid: bool,
}

impl Row {
    /// BRResultadoQualitativoExame: 1 detectável/reagente, 2 não.
    pub(crate) fn result_code(&self) -> &'static str {
        if self.positive {
            "1"
        } else {
            "2"
        }
    }

    /// `Observation.effectiveDateTime` (São Paulo, UTC-3 in November 2026).
    pub(crate) fn effective(&self) -> String {
        let (d, h, m) = self.collected;
        format!("2026-11-{d:02}T{h:02}:{m:02}:00-03:00")
    }

    pub(crate) fn csv_line(&self) -> String {
        let (d, h, m) = self.collected;
        let note = if self.note.contains('\n') {
            format!("\"{}\"", self.note)
        } else {
            self.note.clone()
        };
        format!(
            "{};{};{};{d:02}/11/2026 {h:02}:{m:02};{d:02}/11/2026 {:02}:{m:02};{};{note};{}\n",
            self.lab_id,
            self.name,
            self.cns,
            h + 6,
            self.exam.result_text(self.positive),
            self.exam.loinc()
        )
    }

    fn cells(&self) -> [String; 8] {
        let (d, h, m) = self.collected;
        [
            self.lab_id.clone(),
            self.name.clone(),
            self.cns.clone(),
            format!("{d:02}/11/2026 {h:02}:{m:02}"),
            format!("{d:02}/11/2026 {:02}:{m:02}", h + 6),
            self.exam.result_text(self.positive).to_string(),
            self.note.clone(),
            self.exam.loinc().to_string(),
        ]
    }
}

/// What the file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Csv,
    Xlsx,
    /// A workbook whose compressed sheet is damaged in the middle.
    CorruptXlsx,
    /// Bytes that are no export at all.
    Garbage,
}

/// One input file: its rows, the bytes finally written, how the writer
/// writes them, and when (`phase` 1 files start after every phase 0 file
/// has a report).
#[derive(Debug, Clone)]
pub(crate) struct InputFile {
    pub(crate) name: String,
    pub(crate) kind: Kind,
    /// Rows of the final content.
    pub(crate) rows: Vec<Row>,
    /// Rows written and later truncated away (`truncate`): they may reach
    /// RNDS, and then a report must say so.
    pub(crate) replaced_rows: Vec<Row>,
    pub(crate) behaviour: Behaviour,
    pub(crate) start_ms: u64,
    pub(crate) phase: u8,
}

impl InputFile {
    /// Whether the file can be read: its valid rows must reach RNDS.
    pub(crate) fn readable(&self) -> bool {
        matches!(self.kind, Kind::Csv | Kind::Xlsx)
    }

    pub(crate) fn stem(&self) -> &str {
        self.name.rsplit_once('.').map_or(&self.name, |(s, _)| s)
    }
}

pub(crate) fn csv_text(rows: &[Row]) -> String {
    let mut out = String::from(HEADER);
    out.push('\n');
    for row in rows {
        out.push_str(&row.csv_line());
    }
    out
}

pub(crate) fn xlsx_bytes(rows: &[Row]) -> Vec<u8> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    for (c, title) in HEADER.split(';').enumerate() {
        sheet.write_string(0, c as u16, title).expect("header cell");
    }
    for (r, row) in rows.iter().enumerate() {
        for (c, cell) in row.cells().iter().enumerate() {
            sheet
                .write_string(r as u32 + 1, c as u16, cell)
                .expect("cell");
        }
    }
    book.save_to_buffer().expect("workbook")
}

/// A provisional CNS (starts with 7, 8 or 9): the weighted sum of its 15
/// digits (weights 15..1) is a multiple of 11.
fn cns(rng: &mut Rng) -> String {
    loop {
        let mut digits: Vec<u64> = vec![rng.range(7, 9)];
        digits.extend((0..13).map(|_| rng.range(0, 9)));
        let sum: u64 = digits.iter().zip((2..=15).rev()).map(|(d, w)| d * w).sum();
        let last = (11 - sum % 11) % 11;
        if last < 10 {
            digits.push(last);
            return digits.iter().map(|d| char::from(b'0' + *d as u8)).collect();
        }
    }
}

const NAMES: &[&str] = &[
    "ANA SOUZA",
    "BRUNO LIMA",
    "CÉLIA DIAS",
    "DÉBORA REIS",
    "EDUARDO ALVES",
    "FÁBIO COSTA",
    "GISELE ROCHA",
    "HÉLIO MOURA",
    "ÍRIS NUNES",
    "JOÃO PAIXÃO",
];

struct Patient {
    name: String,
    cns: String,
}

fn row(rng: &mut Rng, lab_id: String, patients: &[Patient], plan: &Plan) -> Row {
    let patient = rng.pick(patients);
    let mut row = Row {
        lab_id,
        name: patient.name.clone(),
        cns: patient.cns.clone(),
        collected: (
            rng.range(1, 28) as u32,
            rng.range(6, 16) as u32,
            rng.range(0, 59) as u32,
        ),
        exam: if rng.chance(0.5) {
            Exam::RtPcr
        } else {
            Exam::Antigen
        },
        positive: rng.chance(0.3),
        note: String::new(),
        valid: true,
    };
    if rng.chance(0.08) {
        // One digit off: the check digit no longer holds.
        let mut digits: Vec<u8> = row.cns.bytes().collect();
        digits[14] = if digits[14] == b'9' {
            b'0'
        } else {
            digits[14] + 1
        };
        row.cns = String::from_utf8(digits).unwrap_or_default();
        row.valid = false;
    }
    if plan.has("quotes") && rng.chance(0.2) {
        row.note = "coleta repetida\nsegunda amostra".into();
    }
    row
}

/// The files of one seed.
pub(crate) fn draw(rng: &mut Rng, seed: u64, plan: &Plan) -> Vec<InputFile> {
    let patients: Vec<Patient> = (0..8)
        .map(|_| Patient {
            name: rng.pick(NAMES).to_string(),
            cns: cns(rng),
        })
        .collect();
    let mut files = Vec::new();
    let mut next_id = 0u32;
    let mut ids = |n: u64| -> Vec<String> {
        (0..n)
            .map(|_| {
                next_id += 1;
                format!("S{seed}-{next_id:04}")
            })
            .collect()
    };
    for f in 0..rng.range(2, 4) {
        let xlsx = rng.chance(0.25);
        let rows: Vec<Row> = ids(rng.range(5, 40))
            .into_iter()
            .map(|id| row(rng, id, &patients, plan))
            .collect();
        let behaviour = if xlsx {
            Behaviour::draw_whole(rng)
        } else {
            Behaviour::draw(rng, plan, &rows)
        };
        let replaced_rows = if behaviour == Behaviour::Truncate {
            ids(rng.range(2, 8))
                .into_iter()
                .map(|id| row(rng, id, &patients, plan))
                .collect()
        } else {
            Vec::new()
        };
        files.push(InputFile {
            name: format!("lote{f}.{}", if xlsx { "xlsx" } else { "csv" }),
            kind: if xlsx { Kind::Xlsx } else { Kind::Csv },
            rows,
            replaced_rows,
            behaviour,
            start_ms: rng.range(0, 2_000),
            phase: 0,
        });
    }
    if plan.has("corrupt") {
        let rows: Vec<Row> = ids(rng.range(20, 60))
            .into_iter()
            .map(|id| row(rng, id, &patients, plan))
            .collect();
        let garbage = rng.chance(0.4);
        files.push(InputFile {
            name: if garbage {
                "danificado.csv".into()
            } else {
                "danificado.xlsx".into()
            },
            kind: if garbage {
                Kind::Garbage
            } else {
                Kind::CorruptXlsx
            },
            rows,
            replaced_rows: Vec::new(),
            behaviour: Behaviour::Direct,
            start_ms: rng.range(0, 2_000),
            phase: 0,
        });
    }
    if plan.has("reuse") {
        files.push(reuse_file(rng, &files, &patients));
    }
    files
}

/// A next-day file: some earlier rows corrected (same patient and exam,
/// the other result: a replacement), some lab ids reused for another
/// patient and exam (never to be sent), and a few new rows.
fn reuse_file(rng: &mut Rng, earlier: &[InputFile], patients: &[Patient]) -> InputFile {
    let sent: Vec<&Row> = earlier
        .iter()
        .filter(|f| f.readable())
        .flat_map(|f| f.rows.iter())
        .filter(|r| r.valid && !r.note.contains('\n'))
        .collect();
    let mut rows = Vec::new();
    for original in &sent {
        if !rng.chance(0.3) {
            continue;
        }
        let mut again = (*original).clone();
        if rng.chance(0.5) {
            again.positive = !again.positive;
        } else {
            let other = rng.pick(patients);
            again.name = other.name.clone();
            again.cns = other.cns.clone();
            again.exam = if again.exam == Exam::RtPcr {
                Exam::Antigen
            } else {
                Exam::RtPcr
            };
            if again.cns == original.cns {
                again.positive = !again.positive;
            }
        }
        rows.push(again);
    }
    InputFile {
        name: "dia2.csv".into(),
        kind: Kind::Csv,
        rows,
        replaced_rows: Vec::new(),
        behaviour: Behaviour::Direct,
        start_ms: 0,
        phase: 1,
    }
}
