//! `LabResult` → one RNDS REL document bundle (Composition, Observation,
//! Specimen) for profile set 2.0 or 1.x, as borrowing serde types that
//! serialize to compact JSON, plus the content hash the ledger compares to
//! tell "already sent" from "changed, send a replacement".
//!
//! Invariant: pure. Knows no file, no ledger, no transport and no clock
//! (the build instant comes in as text).

mod hash;
mod json;
pub(crate) mod profiles;
pub(crate) mod types;

#[cfg(test)]
mod tests;

use serde_json::value::RawValue;
use uuid::Uuid;

use crate::config::ProfileSet;
use crate::model::{ExamSystem, LabResult, Party, ResultValue, SpecimenSystem};
use crate::schemas;

pub(crate) use hash::content_hash;
pub(crate) use types::Bundle;
use types::{
    BundleIdentifier, BundleMeta, CodeableConcept, Composition, Decimal, Entry, FhirInstant,
    FhirWhen, Identifier, IdentifierReference, Joined, Meta, Notes, Observation, Quantity,
    Reference, RelatesTo, Section, Specimen, Text, UrnUuid,
};

/// What a bundle needs besides the result itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleSettings {
    /// DATASUS requester identifier (`BRRNDS-<requester_id>`), not the CNES.
    pub requester_id: String,
    /// Which RNDS profile versions the bundle claims.
    pub profile: ProfileSet,
}

/// A result that cannot become a valid bundle. Validation should have
/// caught it; this is the last line of defence, never a panic.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FhirError {
    #[error(
        "o valor numérico \"{0}\" não é um decimal válido (use ponto como separador, ex.: 1.25)"
    )]
    /// A numeric result that is not a decimal FHIR accepts.
    InvalidDecimal(String),
    #[error("falha ao gerar o JSON do bundle: {0}")]
    /// The bundle could not be serialised.
    Json(String),
}

/// Namespace of the entries' UUIDv5 (random, fixed for ever: changing it
/// changes every bundle's `fullUrl`s).
const ENTRY_NAMESPACE: Uuid = Uuid::from_u128(0x6b2f_0d7e_4c1a_4f3e_9a57_3e1c_58d2_a0b4);

/// Deterministic `fullUrl`s: the same lab id always yields the same three.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct EntryIds {
    pub composition: Uuid,
    pub observation: Uuid,
    pub specimen: Uuid,
}

impl EntryIds {
    pub(crate) fn for_lab_id(lab_id: &str) -> EntryIds {
        // One SHA-1 per bundle instead of four (it showed in profiles of
        // million-row files): the three ids differ only in their last byte,
        // which keeps the v5 version and variant bits intact.
        let base = Uuid::new_v5(&ENTRY_NAMESPACE, lab_id.as_bytes()).into_bytes();
        let with_role = |role: u8| {
            let mut bytes = base;
            bytes[15] ^= role;
            Uuid::from_bytes(bytes)
        };
        EntryIds {
            composition: with_role(1),
            observation: with_role(2),
            specimen: with_role(3),
        }
    }
}

/// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`: the FHIR decimal
/// grammar, which is also a valid JSON number.
fn is_fhir_decimal(text: &str) -> bool {
    fn digits(b: &[u8]) -> usize {
        b.iter().take_while(|c| c.is_ascii_digit()).count()
    }
    let b = text.as_bytes();
    let mut i = usize::from(b.first() == Some(&b'-'));
    let int = digits(&b[i..]);
    if int == 0 || (int > 1 && b[i] == b'0') {
        return false;
    }
    i += int;
    if b.get(i) == Some(&b'.') {
        let frac = digits(&b[i + 1..]);
        if frac == 0 {
            return false;
        }
        i += 1 + frac;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let exp = digits(&b[i..]);
        if exp == 0 {
            return false;
        }
        i += exp;
    }
    i == b.len()
}

fn decimal(text: &str) -> Result<Decimal<'_>, FhirError> {
    if !is_fhir_decimal(text) {
        return Err(FhirError::InvalidDecimal(text.to_owned()));
    }
    serde_json::from_str::<&RawValue>(text)
        .map(Decimal)
        .map_err(|_| FhirError::InvalidDecimal(text.to_owned()))
}

fn party(p: &Party) -> IdentifierReference<'_> {
    let (system, value) = match p {
        Party::Cnes(v) => (profiles::ESTABLISHMENT, v.as_str()),
        Party::CnpjOrCpf(v) => (profiles::LEGAL_PERSON, v.as_str()),
    };
    IdentifierReference {
        identifier: Identifier { system, value },
    }
}

fn patient(cns: &str) -> IdentifierReference<'_> {
    IdentifierReference {
        identifier: Identifier {
            system: profiles::INDIVIDUAL,
            value: cns,
        },
    }
}

/// Builds the bundle for `result`. `timestamp` (FHIR instant text) is the
/// build instant: `Bundle.timestamp` and `meta.lastUpdated`. With
/// `replaces = Some(rnds_id)` the Composition declares it replaces
/// `Composition/<rnds_id>` (same `identifier.value` as the original).
pub(crate) fn build<'a>(
    result: &'a LabResult,
    settings: &'a BundleSettings,
    timestamp: &'a str,
    replaces: Option<&'a str>,
) -> Result<Bundle<'a>, FhirError> {
    let ids = EntryIds::for_lab_id(&result.lab_id);
    let composition = composition(result, settings, ids, replaces);
    let observation = observation(result, settings, ids)?;
    let specimen = specimen(result);

    Ok(Bundle {
        resource_type: "Bundle",
        meta: BundleMeta {
            last_updated: timestamp,
        },
        identifier: BundleIdentifier {
            system: Joined(profiles::BUNDLE_IDENTIFIER_PREFIX, &settings.requester_id),
            value: &result.lab_id,
        },
        kind: "document",
        timestamp,
        entry: (
            Entry {
                full_url: UrnUuid(ids.composition),
                resource: composition,
            },
            Entry {
                full_url: UrnUuid(ids.observation),
                resource: observation,
            },
            Entry {
                full_url: UrnUuid(ids.specimen),
                resource: specimen,
            },
        ),
    })
}

/// The Composition: the document that lists the Observation, and which
/// earlier one it replaces.
fn composition<'a>(
    result: &'a LabResult,
    settings: &'a BundleSettings,
    ids: EntryIds,
    replaces: Option<&'a str>,
) -> Composition<'a> {
    Composition {
        resource_type: "Composition",
        meta: Meta {
            profile: [profiles::composition(settings.profile)],
        },
        status: "final",
        kind: CodeableConcept::one(schemas::DOCUMENT_TYPE, "REL"),
        subject: patient(&result.patient_cns),
        date: FhirInstant(result.issued),
        author: [party(&result.author)],
        title: profiles::TITLE,
        relates_to: replaces.map(|rnds_id| {
            [RelatesTo {
                code: "replaces",
                target_reference: Reference {
                    reference: Joined("Composition/", rnds_id),
                },
            }]
        }),
        section: [Section {
            entry: [Reference {
                reference: UrnUuid(ids.observation),
            }],
        }],
    }
}

/// The Observation: the exam, its result and how it was obtained.
fn observation<'a>(
    result: &'a LabResult,
    settings: &'a BundleSettings,
    ids: EntryIds,
) -> Result<Observation<'a>, FhirError> {
    let (value_quantity, value_codeable_concept, interpretation) = match &result.value {
        ResultValue::Qualitative(q) => (
            None,
            Some(CodeableConcept::one(schemas::QUALITATIVE, q.code())),
            None,
        ),
        ResultValue::Quantity {
            value,
            unit,
            interpretation,
        } => (
            Some(Quantity {
                value: decimal(value)?,
                unit: unit.trim(),
            }),
            None,
            Some([CodeableConcept::one(
                schemas::QUALITATIVE,
                interpretation.code(),
            )]),
        ),
    };

    Ok(Observation {
        resource_type: "Observation",
        meta: Meta {
            profile: [profiles::observation(settings.profile)],
        },
        status: "final",
        category: [CodeableConcept::one(
            schemas::SUBGROUP_SUS,
            &result.category,
        )],
        code: CodeableConcept::one(
            match result.exam.system {
                ExamSystem::Loinc => schemas::LOINC,
                ExamSystem::Gal => schemas::GAL_EXAM,
            },
            &result.exam.code,
        ),
        subject: patient(&result.patient_cns),
        effective_date_time: match settings.profile {
            ProfileSet::V2 => Some(FhirWhen(result.collected)),
            ProfileSet::V1 => None,
        },
        issued: FhirInstant(result.issued),
        performer: [party(&result.performer)],
        value_quantity,
        value_codeable_concept,
        interpretation,
        note: Notes(&result.notes),
        method: Text {
            text: &result.method,
        },
        specimen: Reference {
            reference: UrnUuid(ids.specimen),
        },
        reference_range: [Text {
            text: &result.reference_range,
        }],
    })
}

/// The Specimen: the kind of sample.
fn specimen(result: &LabResult) -> Specimen<'_> {
    Specimen {
        resource_type: "Specimen",
        meta: Meta {
            profile: [profiles::SPECIMEN],
        },
        kind: CodeableConcept::one(
            match result.specimen.system {
                SpecimenSystem::Gal => schemas::SPECIMEN_GAL,
                SpecimenSystem::Hl7V2_0487 => schemas::SPECIMEN_HL7,
            },
            &result.specimen.code,
        ),
    }
}

/// FHIR `instant` text (`2021-06-08T14:00:00-03:00`) for the `timestamp`
/// argument of [`build`], e.g. from `Utc::now()` in the lab's offset.
pub(crate) fn instant_text(t: chrono::DateTime<chrono::FixedOffset>) -> String {
    FhirInstant(t).to_string()
}

/// Appends the bundle as compact one-line JSON to `out`: the bytes
/// `serde_json::to_writer` writes, written straight from the fields
/// (see `json.rs`).
pub(crate) fn write_json(bundle: &Bundle<'_>, out: &mut Vec<u8>) -> Result<(), FhirError> {
    json::write_bundle(bundle, out);
    Ok(())
}

/// [`build`] then [`write_json`] into a fresh buffer.
pub fn to_json_bytes(
    result: &LabResult,
    settings: &BundleSettings,
    timestamp: &str,
    replaces: Option<&str>,
) -> Result<Vec<u8>, FhirError> {
    let bundle = build(result, settings, timestamp, replaces)?;
    // A 2.0 bundle is about 2.4 KB: one allocation, no regrowth.
    let mut out = Vec::with_capacity(3072);
    write_json(&bundle, &mut out)?;
    Ok(out)
}
