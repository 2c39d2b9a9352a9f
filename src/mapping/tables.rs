//! The embedded tables of `schemas/` (header synonyms, value vocabularies),
//! parsed once into maps keyed by normalized text.
//!
//! Invariant: loads only the files embedded at build time; knows no row.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::OnceLock;

use serde::Deserialize;

use super::normalize::{header_key, value_key};
use crate::model::{ExamCode, ExamSystem, Field, Qualitative, SpecimenCode, SpecimenSystem};
use crate::schemas::{self, code_systems};

const SYNONYMS: &str = include_str!("../../schemas/synonyms.toml");
const VOCABULARY: &str = include_str!("../../schemas/vocabulary.toml");

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SynonymEntry {
    #[serde(default)]
    headers: Vec<String>,
    #[serde(default)]
    prefixes: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct VocabularyFile {
    #[serde(default)]
    null_tokens: Vec<String>,
    #[serde(default)]
    results: ResultWordings,
    #[serde(default)]
    specimens: BTreeMap<String, String>,
    #[serde(default)]
    exams: BTreeMap<String, String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ResultWordings {
    #[serde(default)]
    detectable: Vec<String>,
    #[serde(default)]
    not_detectable: Vec<String>,
    #[serde(default)]
    inconclusive: Vec<String>,
}

/// Header wordings of one field, as written in the file and as keys.
#[derive(Debug, Default)]
pub(super) struct FieldSynonyms {
    pub wordings: Vec<String>,
    pub exact_keys: Vec<String>,
    pub prefix_keys: Vec<String>,
}

/// The hash of the vocabulary tables, looked up several times a row.
/// Their keys are our own embedded wordings, so no file can choose keys
/// that collide (SipHash's reason to exist); FNV-1a costs a third of
/// SipHash's instructions on keys of a few bytes.
pub(super) type KeyHash = std::hash::BuildHasherDefault<Fnv1a>;

/// 64-bit FNV-1a.
#[derive(Debug)]
pub(super) struct Fnv1a(u64);

impl Default for Fnv1a {
    fn default() -> Fnv1a {
        Fnv1a(0xcbf2_9ce4_8422_2325)
    }
}

impl std::hash::Hasher for Fnv1a {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

#[derive(Debug, Default)]
pub(super) struct Tables {
    pub synonyms: HashMap<Field, FieldSynonyms>,
    pub null_keys: HashSet<String, KeyHash>,
    pub results: HashMap<String, Qualitative, KeyHash>,
    /// (key, wording as written) of every result wording, for suggestions.
    pub result_wordings: Vec<(String, String)>,
    pub specimens: HashMap<String, SpecimenCode, KeyHash>,
    pub exams: HashMap<String, ExamCode, KeyHash>,
    /// Problems found while loading (a defect of the embedded data; the
    /// tests assert this is empty).
    pub defects: Vec<String>,
}

pub(super) fn tables() -> &'static Tables {
    static CELL: OnceLock<Tables> = OnceLock::new();
    CELL.get_or_init(load)
}

fn load() -> Tables {
    let mut t = Tables::default();
    match toml::from_str::<BTreeMap<Field, SynonymEntry>>(SYNONYMS) {
        Ok(entries) => {
            for (field, entry) in entries {
                t.synonyms.insert(
                    field,
                    FieldSynonyms {
                        exact_keys: entry.headers.iter().map(|h| header_key(h)).collect(),
                        prefix_keys: entry.prefixes.iter().map(|h| header_key(h)).collect(),
                        wordings: entry.headers,
                    },
                );
            }
        }
        Err(e) => t.defects.push(format!("synonyms.toml: {e}")),
    }
    let vocabulary = match toml::from_str::<VocabularyFile>(VOCABULARY) {
        Ok(v) => v,
        Err(e) => {
            t.defects.push(format!("vocabulary.toml: {e}"));
            VocabularyFile::default()
        }
    };
    t.null_keys = vocabulary
        .null_tokens
        .iter()
        .map(|v| value_key(v))
        .collect();
    for (wordings, meaning) in [
        (&vocabulary.results.detectable, Qualitative::Detectable),
        (
            &vocabulary.results.not_detectable,
            Qualitative::NotDetectable,
        ),
        (&vocabulary.results.inconclusive, Qualitative::Inconclusive),
    ] {
        for wording in wordings {
            let key = value_key(wording);
            if t.results
                .insert(key.clone(), meaning)
                .is_some_and(|m| m != meaning)
            {
                t.defects
                    .push(format!("result wording {wording:?} has two meanings"));
            }
            t.result_wordings.push((key, wording.clone()));
        }
    }
    load_specimens(&mut t, &vocabulary.specimens);
    load_exams(&mut t, &vocabulary.exams);
    t
}

fn specimen_code(code: &str) -> Option<SpecimenCode> {
    let cs = code_systems();
    let system = if cs.contains(schemas::SPECIMEN_GAL, code) {
        SpecimenSystem::Gal
    } else if cs.contains(schemas::SPECIMEN_HL7, code) {
        SpecimenSystem::Hl7V2_0487
    } else {
        return None;
    };
    Some(SpecimenCode {
        system,
        code: code.to_string(),
    })
}

/// The exam code's system when it is in BRNomeExameLOINC or BRNomeExameGAL.
pub(super) fn exam_code(code: &str) -> Option<ExamCode> {
    let cs = code_systems();
    let system = if cs.contains(schemas::LOINC, code) {
        ExamSystem::Loinc
    } else if cs.contains(schemas::GAL_EXAM, code) {
        ExamSystem::Gal
    } else {
        return None;
    };
    Some(ExamCode {
        system,
        code: code.to_string(),
    })
}

fn load_specimens(t: &mut Tables, wordings: &BTreeMap<String, String>) {
    // The code systems' own codes and displays first; the curated wordings
    // win where they overlap.
    for url in [schemas::SPECIMEN_HL7, schemas::SPECIMEN_GAL] {
        let Some(cs) = code_systems().get(url) else {
            t.defects.push(format!("code system {url} missing"));
            continue;
        };
        for concept in &cs.concepts {
            if let Some(code) = specimen_code(&concept.code) {
                t.specimens.insert(value_key(&concept.code), code.clone());
                if let Some(display) = &concept.display {
                    t.specimens.insert(value_key(display), code);
                }
            }
        }
    }
    for (wording, code) in wordings {
        match specimen_code(code) {
            Some(c) => {
                t.specimens.insert(value_key(wording), c);
            }
            None => t
                .defects
                .push(format!("specimen {wording:?}: unknown code {code}")),
        }
    }
}

fn load_exams(t: &mut Tables, wordings: &BTreeMap<String, String>) {
    for url in [schemas::LOINC, schemas::GAL_EXAM] {
        let Some(cs) = code_systems().get(url) else {
            t.defects.push(format!("code system {url} missing"));
            continue;
        };
        for concept in &cs.concepts {
            if let (Some(display), Some(code)) = (&concept.display, exam_code(&concept.code)) {
                t.exams.entry(value_key(display)).or_insert(code);
            }
        }
    }
    for (wording, code) in wordings {
        match exam_code(code) {
            Some(c) => {
                t.exams.insert(value_key(wording), c);
            }
            None => t
                .defects
                .push(format!("exam {wording:?}: unknown code {code}")),
        }
    }
}
