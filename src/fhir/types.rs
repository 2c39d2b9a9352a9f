//! Borrowing serde shapes of the three REL resources. Every field a profile
//! forbids (`max = 0`) simply has no Rust field here, so it cannot be sent.
//! Computed texts (URLs with a suffix, UUIDs, date-times) are small `Copy`
//! values rendered straight into the output, so building a bundle allocates
//! nothing but the bundle itself.

use std::fmt;

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, Timelike};
use serde::ser::{SerializeSeq, Serializer};
use serde::Serialize;
use serde_json::value::RawValue;
use uuid::Uuid;

use crate::model::When;

/// `prefix` immediately followed by `suffix`, e.g. `BRRNDS-` + requester id.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Joined<'a>(pub &'static str, pub &'a str);

impl fmt::Display for Joined<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)?;
        f.write_str(self.1)
    }
}

impl Serialize for Joined<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// `urn:uuid:<uuid>` (an entry's `fullUrl` and the references to it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct UrnUuid(pub Uuid);

impl Serialize for UrnUuid {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0.urn())
    }
}

/// FHIR `instant`/`dateTime` text of an offset date-time, identical to
/// [`When::to_fhir`] but written without chrono's format-string parser.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FhirInstant(pub DateTime<FixedOffset>);

impl FhirInstant {
    /// The text as fixed-width ASCII (`2021-06-08T14:00:00-03:00`), or
    /// `None` for a year FHIR cannot write in four digits.
    pub(crate) fn ascii(&self) -> Option<[u8; 25]> {
        let t = self.0;
        if !(0..=9999).contains(&t.year()) {
            return None;
        }
        // Hand-rolled digits: `write!` with padding cost ~5 % of a
        // million-row `check`, three instants per bundle.
        let offset = t.offset().local_minus_utc();
        let sign = if offset < 0 { b'-' } else { b'+' };
        let offset = offset.unsigned_abs();
        let mut out = *b"0000-00-00T00:00:00+00:00";
        put_digits(&mut out, 0, 4, t.year().unsigned_abs());
        put_digits(&mut out, 5, 2, t.month());
        put_digits(&mut out, 8, 2, t.day());
        put_digits(&mut out, 11, 2, t.hour());
        put_digits(&mut out, 14, 2, t.minute());
        put_digits(&mut out, 17, 2, t.second());
        out[19] = sign;
        put_digits(&mut out, 20, 2, offset / 3600);
        put_digits(&mut out, 23, 2, offset % 3600 / 60);
        Some(out)
    }
}

/// Writes `n` as `width` decimal digits (zero-padded) at `at`.
fn put_digits(out: &mut [u8], at: usize, width: usize, mut n: u32) {
    for i in (at..at + width).rev() {
        out[i] = b'0' + (n % 10) as u8;
        n /= 10;
    }
}

/// A date as fixed-width ASCII (`2021-06-08`), or `None` for a year FHIR
/// cannot write in four digits.
pub(crate) fn date_ascii(d: NaiveDate) -> Option<[u8; 10]> {
    if !(0..=9999).contains(&d.year()) {
        return None;
    }
    let mut out = *b"0000-00-00";
    put_digits(&mut out, 0, 4, d.year().unsigned_abs());
    put_digits(&mut out, 5, 2, d.month());
    put_digits(&mut out, 8, 2, d.day());
    Some(out)
}

impl fmt::Display for FhirInstant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.ascii() {
            // Only ASCII digits and separators were written.
            Some(text) => f.write_str(std::str::from_utf8(&text).map_err(|_| fmt::Error)?),
            // Years FHIR cannot express: keep the reference rendering.
            None => f.write_str(&When::Instant(self.0).to_fhir()),
        }
    }
}

impl Serialize for FhirInstant {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// FHIR `dateTime` text of a [`When`] (date alone or full instant).
#[derive(Debug, Clone, Copy)]
pub(crate) struct FhirWhen(pub When);

fn write_date(f: &mut fmt::Formatter<'_>, d: NaiveDate) -> fmt::Result {
    match date_ascii(d) {
        Some(text) => f.write_str(std::str::from_utf8(&text).map_err(|_| fmt::Error)?),
        None => f.write_str(&When::Date(d).to_fhir()),
    }
}

impl fmt::Display for FhirWhen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            When::Instant(t) => FhirInstant(t).fmt(f),
            When::Date(d) => write_date(f, d),
        }
    }
}

impl Serialize for FhirWhen {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[derive(Debug, Serialize)]
pub(crate) struct Coding<'a> {
    pub system: &'static str,
    pub code: &'a str,
}

/// A `CodeableConcept` with exactly one coding and no text (the profiles
/// fix `coding` to 1..1 and forbid `text` and `display`).
#[derive(Debug, Serialize)]
pub(crate) struct CodeableConcept<'a> {
    pub coding: [Coding<'a>; 1],
}

impl<'a> CodeableConcept<'a> {
    pub(crate) fn one(system: &'static str, code: &'a str) -> Self {
        CodeableConcept {
            coding: [Coding { system, code }],
        }
    }
}

#[derive(Debug, Serialize)]
pub(crate) struct Identifier<'a> {
    pub system: &'static str,
    pub value: &'a str,
}

/// A reference by identifier only (the profiles forbid `reference`,
/// `type` and `display` on subject, author and performer).
#[derive(Debug, Serialize)]
pub(crate) struct IdentifierReference<'a> {
    pub identifier: Identifier<'a>,
}

#[derive(Debug, Serialize)]
pub(crate) struct Reference<R: Serialize> {
    pub reference: R,
}

#[derive(Debug, Serialize)]
pub(crate) struct Text<'a> {
    pub text: &'a str,
}

#[derive(Debug, Serialize)]
pub(crate) struct Meta {
    pub profile: [&'static str; 1],
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct BundleMeta<'a> {
    pub last_updated: &'a str,
}

#[derive(Debug, Serialize)]
pub(crate) struct BundleIdentifier<'a> {
    pub system: Joined<'a>,
    pub value: &'a str,
}

/// The whole document: Composition, Observation and Specimen, in that order
/// (a document bundle starts with its Composition).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Bundle<'a> {
    pub resource_type: &'static str,
    pub meta: BundleMeta<'a>,
    pub identifier: BundleIdentifier<'a>,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub timestamp: &'a str,
    pub entry: (
        Entry<Composition<'a>>,
        Entry<Observation<'a>>,
        Entry<Specimen<'a>>,
    ),
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Entry<R: Serialize> {
    pub full_url: UrnUuid,
    pub resource: R,
}

#[derive(Debug, Serialize)]
pub(crate) struct RelatesTo<'a> {
    pub code: &'static str,
    #[serde(rename = "targetReference")]
    pub target_reference: Reference<Joined<'a>>,
}

#[derive(Debug, Serialize)]
pub(crate) struct Section {
    pub entry: [Reference<UrnUuid>; 1],
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Composition<'a> {
    pub resource_type: &'static str,
    pub meta: Meta,
    pub status: &'static str,
    #[serde(rename = "type")]
    pub kind: CodeableConcept<'a>,
    pub subject: IdentifierReference<'a>,
    pub date: FhirInstant,
    pub author: [IdentifierReference<'a>; 1],
    pub title: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relates_to: Option<[RelatesTo<'a>; 1]>,
    pub section: [Section; 1],
}

/// A FHIR `decimal` kept exactly as the lab wrote it (`1.50` stays `1.50`),
/// emitted as a JSON number.
#[derive(Debug, Serialize)]
#[serde(transparent)]
pub(crate) struct Decimal<'a>(pub &'a RawValue);

#[derive(Debug, Serialize)]
pub(crate) struct Quantity<'a> {
    pub value: Decimal<'a>,
    #[serde(skip_serializing_if = "str::is_empty")]
    pub unit: &'a str,
}

/// `note[]` straight from the result's notes, blank ones left out (FHIR
/// forbids empty strings).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Notes<'a>(pub &'a [String]);

impl Notes<'_> {
    pub(crate) fn texts(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|n| n.trim()).filter(|n| !n.is_empty())
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.texts().next().is_none()
    }
}

impl Serialize for Notes<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(None)?;
        for text in self.texts() {
            seq.serialize_element(&Text { text })?;
        }
        seq.end()
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Observation<'a> {
    pub resource_type: &'static str,
    pub meta: Meta,
    pub status: &'static str,
    pub category: [CodeableConcept<'a>; 1],
    pub code: CodeableConcept<'a>,
    pub subject: IdentifierReference<'a>,
    /// Only in profile set 2.0; `-1.0` forbids `effective[x]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub effective_date_time: Option<FhirWhen>,
    pub issued: FhirInstant,
    pub performer: [IdentifierReference<'a>; 1],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_quantity: Option<Quantity<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_codeable_concept: Option<CodeableConcept<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interpretation: Option<[CodeableConcept<'a>; 1]>,
    #[serde(skip_serializing_if = "Notes::is_empty")]
    pub note: Notes<'a>,
    pub method: Text<'a>,
    pub specimen: Reference<UrnUuid>,
    pub reference_range: [Text<'a>; 1],
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Specimen<'a> {
    pub resource_type: &'static str,
    pub meta: Meta,
    #[serde(rename = "type")]
    pub kind: CodeableConcept<'a>,
}
