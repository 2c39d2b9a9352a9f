//! The published RNDS code systems, converted from `shared/rnds/definitions`
//! into `schemas/codesystems/*.json` by `tools/convert_definitions.py` and
//! embedded in the binary, so a deployed connector needs no data files.
//!
//! Invariant: data only. No I/O at run time, no knowledge of rows or bundles.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde::Deserialize;

/// Code system of LOINC exam codes (as RNDS publishes it).
pub const LOINC: &str = "http://www.saude.gov.br/fhir/r4/CodeSystem/BRNomeExameLOINC";
pub(crate) const GAL_EXAM: &str = "http://www.saude.gov.br/fhir/r4/CodeSystem/BRNomeExameGAL";
/// Code system of GAL specimen types.
pub const SPECIMEN_GAL: &str = "http://www.saude.gov.br/fhir/r4/CodeSystem/BRTipoAmostraGAL";
/// HL7 v2 table 0487 of specimen types.
pub const SPECIMEN_HL7: &str = "http://terminology.hl7.org/CodeSystem/v2-0487";
pub(crate) const QUALITATIVE: &str =
    "http://www.saude.gov.br/fhir/r4/CodeSystem/BRResultadoQualitativoExame";
pub(crate) const SUBGROUP_SUS: &str =
    "http://www.saude.gov.br/fhir/r4/CodeSystem/BRSubgrupoTabelaSUS";
pub(crate) const DOCUMENT_TYPE: &str = "http://www.saude.gov.br/fhir/r4/CodeSystem/BRTipoDocumento";

#[derive(Debug, Clone, Deserialize)]
/// One code with its display text.
pub struct Concept {
    /// The code.
    pub code: String,
    /// Portuguese display, when the system gives one.
    pub display: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
struct CodeSystemFile {
    url: String,
    #[serde(default)]
    concepts: Vec<Concept>,
    /// Value sets list their concepts per included system.
    #[serde(default)]
    include: Vec<Include>,
}

#[derive(Debug, Clone, Deserialize)]
struct Include {
    system: String,
    concepts: Vec<Concept>,
}

/// A code system as a set of codes with their Portuguese displays.
#[derive(Debug, Clone, Default)]
pub struct CodeSystem {
    /// Canonical URL of the code system.
    pub url: String,
    /// Its concepts, in published order.
    pub concepts: Vec<Concept>,
    index: HashMap<String, usize>,
}

impl CodeSystem {
    fn new(url: String, concepts: Vec<Concept>) -> CodeSystem {
        let index = concepts
            .iter()
            .enumerate()
            .map(|(i, c)| (c.code.clone(), i))
            .collect();
        CodeSystem {
            url,
            concepts,
            index,
        }
    }

    pub(crate) fn contains(&self, code: &str) -> bool {
        self.index.contains_key(code)
    }

    pub(crate) fn display(&self, code: &str) -> Option<&str> {
        self.index
            .get(code)
            .and_then(|&i| self.concepts[i].display.as_deref())
    }
}

/// Every code system the REL profiles bind, keyed by canonical URL.
#[derive(Debug, Default)]
pub struct CodeSystems {
    by_url: HashMap<String, CodeSystem>,
}

impl CodeSystems {
    /// The code system with canonical `url`, if embedded.
    pub fn get(&self, url: &str) -> Option<&CodeSystem> {
        self.by_url.get(url)
    }

    /// Is `code` a member of the code system at `url`? Unknown systems hold nothing.
    pub(crate) fn contains(&self, url: &str, code: &str) -> bool {
        self.get(url).is_some_and(|cs| cs.contains(code))
    }
}

const FILES: &[&str] = &[
    include_str!("../schemas/codesystems/BRNomeExameGAL.json"),
    include_str!("../schemas/codesystems/BRNomeExameLOINC.json"),
    include_str!("../schemas/codesystems/BRResultadoQualitativoExame.json"),
    include_str!("../schemas/codesystems/BRSubgrupoTabelaSUS.json"),
    include_str!("../schemas/codesystems/BRTipoAmostraGAL.json"),
    include_str!("../schemas/codesystems/BRTipoDocumento.json"),
    include_str!("../schemas/codesystems/ValueSet-BRTipoAmostra-1.0.json"),
];

/// The embedded code systems, parsed once. The files are part of the
/// binary, so a parse failure is a build defect caught by the tests.
pub fn code_systems() -> &'static CodeSystems {
    static CELL: OnceLock<CodeSystems> = OnceLock::new();
    CELL.get_or_init(|| {
        let mut by_url = HashMap::new();
        for text in FILES {
            let Ok(file) = serde_json::from_str::<CodeSystemFile>(text) else {
                continue;
            };
            if !file.concepts.is_empty() {
                by_url.insert(file.url.clone(), CodeSystem::new(file.url, file.concepts));
            }
            // The value set's HL7 v2-0487 subset is the part of that code
            // system RNDS accepts, so it stands for the whole system here.
            for inc in file.include.into_iter().filter(|i| !i.concepts.is_empty()) {
                by_url.insert(
                    inc.system.clone(),
                    CodeSystem::new(inc.system, inc.concepts),
                );
            }
        }
        CodeSystems { by_url }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_code_systems_load_with_their_published_sizes() {
        let cs = code_systems();
        assert_eq!(cs.get(LOINC).map(|c| c.concepts.len()), Some(82));
        assert_eq!(cs.get(SPECIMEN_GAL).map(|c| c.concepts.len()), Some(44));
        assert_eq!(cs.get(SPECIMEN_HL7).map(|c| c.concepts.len()), Some(15));
        assert_eq!(cs.get(GAL_EXAM).map(|c| c.concepts.len()), Some(4));
        assert!(cs.contains(QUALITATIVE, "2"));
        assert!(cs.contains(SUBGROUP_SUS, "0214"));
        assert!(cs.contains(DOCUMENT_TYPE, "REL"));
        assert!(!cs.contains(LOINC, "00000-0"));
    }
}
