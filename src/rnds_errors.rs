//! The RNDS error catalogue (`schemas/rnds_errors.toml`, embedded): every
//! code of RNDS' "Lista de Mensagens e Erros" with its class (what happens
//! to the row) and the pt-BR action lab staff follow. The client's outcome
//! classification, the reports (through the outcome's message) and the
//! simulator all read this one table.
//!
//! Invariant: data only; knows codes, classes and sentences, not HTTP,
//! rows or bundles.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde::Deserialize;

/// What rnds-drop does with a row RNDS answered with a catalogued code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorClass {
    /// The row is refused; the lab corrects it and drops the file again.
    FixRow,
    /// Sending stops until the configuration or the credential's access changes.
    FixConfiguration,
    /// The document is already at RNDS: never resent as new. Only codes
    /// that say "this identifier/document already exists" (EHR-ERR866).
    AlreadyAtRnds,
    /// RNDS is unstable: the row stays pending and is retried (after a
    /// bundle POST answered 4xx other than 408/429, only once the
    /// identifier lookup or the EHR-ERR866 proof says it was not stored).
    RetryLater,
}

impl ErrorClass {
    /// Which class decides when an answer names several codes: the proof
    /// that the document is stored first (resending it would duplicate),
    /// then a configuration stop, then the row's refusal, then a retry.
    pub fn priority(self) -> u8 {
        match self {
            ErrorClass::AlreadyAtRnds => 3,
            ErrorClass::FixConfiguration => 2,
            ErrorClass::FixRow => 1,
            ErrorClass::RetryLater => 0,
        }
    }
}

/// One catalogued code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogueEntry {
    /// As RNDS writes it without the `EHR-` prefix (`ERR866`, `MSG010`).
    pub code: String,
    /// The table's group (`credencial`, `token`, `pesquisa`, …).
    pub group: String,
    /// What happens to the row.
    pub class: ErrorClass,
    /// What lab staff do, in pt-BR.
    pub action: String,
    /// Where the code and its class come from.
    pub source: String,
    /// RNDS' own wording, for the codes the table quotes.
    pub message: Option<String>,
}

/// The whole table, by code.
#[derive(Debug)]
pub struct Catalogue {
    by_code: HashMap<String, CatalogueEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogueFile {
    catalogue: String,
    group: Vec<GroupFile>,
    #[serde(default)]
    messages: HashMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GroupFile {
    name: String,
    class: ErrorClass,
    action: String,
    source: String,
    codes: Vec<String>,
}

const FILE: &str = include_str!("../schemas/rnds_errors.toml");

/// The embedded table, parsed once. The file is part of the binary, so a
/// parse failure is a build defect the tests catch; at run time it leaves
/// the table empty (every code then falls back to its HTTP status).
pub fn catalogue() -> &'static Catalogue {
    static CELL: OnceLock<Catalogue> = OnceLock::new();
    CELL.get_or_init(|| match toml::from_str::<CatalogueFile>(FILE) {
        Ok(file) => Catalogue::from_file(file),
        Err(_) => Catalogue {
            by_code: HashMap::new(),
        },
    })
}

impl Catalogue {
    fn from_file(file: CatalogueFile) -> Catalogue {
        let mut by_code = HashMap::new();
        for group in file.group {
            for code in group.codes {
                let entry = CatalogueEntry {
                    message: file.messages.get(&code).cloned(),
                    code: code.clone(),
                    group: group.name.clone(),
                    class: group.class,
                    action: group.action.clone(),
                    source: format!("{}; {}", group.source, file.catalogue),
                };
                by_code.insert(code, entry);
            }
        }
        Catalogue { by_code }
    }

    /// The entry of `code` (`ERR866` or `EHR-ERR866`).
    pub fn get(&self, code: &str) -> Option<&CatalogueEntry> {
        self.by_code.get(code.strip_prefix("EHR-").unwrap_or(code))
    }

    /// Every entry, sorted by code.
    pub fn entries(&self) -> Vec<&CatalogueEntry> {
        let mut all: Vec<&CatalogueEntry> = self.by_code.values().collect();
        all.sort_by(|a, b| a.code.cmp(&b.code));
        all
    }

    /// The catalogued code `text` names as a word (`(EHR-ERR880) Você não
    /// possui…` names ERR880; `ERR8800` names nothing) whose class weighs
    /// most ([`ErrorClass::priority`]); among equals, the first. Every code
    /// of an answer counts: `(EHR-ERR999) …; (EHR-ERR866) …` is EHR-ERR866.
    pub fn find_in(&self, text: &str) -> Option<&CatalogueEntry> {
        text.split(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
            .map(|word| word.trim_end_matches(['.', '-']))
            .filter_map(|word| self.get(word))
            .fold(None, |best: Option<&CatalogueEntry>, entry| match best {
                Some(b) if b.class.priority() >= entry.class.priority() => Some(b),
                _ => Some(entry),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_table_parses_and_covers_the_catalogue() {
        let file: CatalogueFile = toml::from_str(FILE).unwrap();
        let listed: usize = file.group.iter().map(|g| g.codes.len()).sum();
        // MSG001–017, ERR779–999 without 871/873/874/912/925, ERR1005–1014
        // and the eight named codes of the list.
        assert_eq!(listed, 251);
        assert_eq!(catalogue().entries().len(), listed, "a code listed twice");
        for code in file.messages.keys() {
            assert!(
                catalogue().get(code).is_some(),
                "message for unknown {code}"
            );
        }
    }

    #[test]
    fn codes_are_found_as_words_only() {
        let table = catalogue();
        let found = |text: &str| table.find_in(text).map(|e| e.code.as_str());
        assert_eq!(found("(EHR-ERR880) Você não possui"), Some("ERR880"));
        assert_eq!(found("falhou: ERR866."), Some("ERR866"));
        assert_eq!(found("(MSG010) Identifier duplicado."), Some("MSG010"));
        assert_eq!(found("ERR8800 e XERR880"), None);
        assert_eq!(
            found("validation.required: campo"),
            Some("validation.required")
        );
    }

    #[test]
    fn every_action_is_a_sentence_without_forbidden_advice() {
        for entry in catalogue().entries() {
            assert!(entry.action.ends_with('.'), "{}", entry.code);
            let lower = entry.action.to_lowercase();
            // Renumbering an exam or a second ledger breaks exactly-once.
            assert!(
                !lower.contains("novo identificador")
                    && !lower.contains("identificador que nunca")
                    && !lower.contains("novo ledger"),
                "{}",
                entry.code
            );
        }
    }
}
