//! The content hash of a result: SHA-256 over a canonical, length-prefixed
//! encoding of every value the bundle carries (not the row's line, not the
//! build instant, not the replacement target). The encoding is written here
//! by hand so it never drifts with serde or platform details.
//!
//! Changing anything below changes every stored hash, which would make the
//! ledger resend every result as a replacement: bump `VERSION` only with a
//! ledger migration.

use sha2::{Digest, Sha256};

use crate::model::{ExamSystem, LabResult, Party, ResultValue, SpecimenSystem, When};

use super::types::{FhirInstant, FhirWhen};

const VERSION: &str = "rnds-drop/lab-result/v1";

struct Canonical(Sha256);

impl Canonical {
    /// Length (u64, little endian) then bytes: no two field sequences collide.
    fn text(&mut self, s: &str) -> &mut Self {
        self.0.update((s.len() as u64).to_le_bytes());
        self.0.update(s.as_bytes());
        self
    }
}

/// Hex SHA-256 of everything [`super::build`] sends for `result`.
pub(crate) fn content_hash(result: &LabResult) -> String {
    let mut h = Canonical(Sha256::new());
    h.text(VERSION)
        .text(&result.lab_id)
        .text(&result.patient_cns)
        .text(match result.exam.system {
            ExamSystem::Loinc => "exam:loinc",
            ExamSystem::Gal => "exam:gal",
        })
        .text(&result.exam.code)
        .text(&result.category)
        .text(match result.collected {
            When::Instant(_) => "collected:instant",
            When::Date(_) => "collected:date",
        })
        .text(&FhirWhen(result.collected).to_string())
        .text(&FhirInstant(result.issued).to_string());
    match &result.value {
        ResultValue::Qualitative(q) => {
            h.text("value:qualitative").text(q.code());
        }
        ResultValue::Quantity {
            value,
            unit,
            interpretation,
        } => {
            h.text("value:quantity")
                .text(value)
                .text(unit.trim())
                .text(interpretation.code());
        }
    }
    h.text(match result.specimen.system {
        SpecimenSystem::Gal => "specimen:gal",
        SpecimenSystem::Hl7V2_0487 => "specimen:hl7-v2-0487",
    })
    .text(&result.specimen.code)
    .text(&result.method)
    .text(&result.reference_range);
    // Same notes the bundle sends: trimmed, blank ones dropped.
    let notes: Vec<&str> = result
        .notes
        .iter()
        .map(|n| n.trim())
        .filter(|n| !n.is_empty())
        .collect();
    h.text(&notes.len().to_string());
    for note in notes {
        h.text(note);
    }
    for p in [&result.author, &result.performer] {
        match p {
            Party::Cnes(v) => h.text("party:cnes").text(v),
            Party::CnpjOrCpf(v) => h.text("party:cnpj-cpf").text(v),
        };
    }
    hex(&h.0.finalize())
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    s
}
