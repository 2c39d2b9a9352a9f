//! What kind of test an exam is (nucleic-acid amplification, antigen,
//! antibody), read from its published BRNomeExameLOINC display, and what
//! kind a method text names. Used to refuse a global default method written
//! for one kind (`RT-PCR`) on a row of another (an antibody test).
//!
//! Invariant: pure; a kind that cannot be told is `None`, never a guess.

use crate::schemas;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// RT-PCR, RT-LAMP, sequencing: looks for the virus' RNA.
    Molecular,
    /// Looks for the virus' proteins.
    Antigen,
    /// Looks for the patient's antibodies.
    Antibody,
    /// An immunoassay that does not say which (antigen or antibody).
    Immunoassay,
}

impl Kind {
    pub(crate) fn words(self) -> &'static str {
        match self {
            Kind::Molecular => "molecular (RT-PCR e afins)",
            Kind::Antigen => "de antígeno",
            Kind::Antibody => "de anticorpos",
            Kind::Immunoassay => "imunológico",
        }
    }

    /// Whether a method of kind `self` can describe an exam of kind `exam`.
    fn fits(self, exam: Kind) -> bool {
        match (self, exam) {
            (Kind::Immunoassay, Kind::Antigen | Kind::Antibody) => true,
            (method, exam) => method == exam,
        }
    }
}

/// Lower case, no accents, no spaces or punctuation.
fn folded(text: &str) -> String {
    crate::mapping::key(text)
}

/// The kind of a LOINC exam, from its Portuguese display.
pub(crate) fn of_exam(loinc: &str) -> Option<Kind> {
    let display = schemas::code_systems()
        .get(schemas::LOINC)?
        .display(loinc)?;
    let d = folded(display);
    if d.contains("anticorpo") || d.contains("igg") || d.contains("igm") || d.contains("iga") {
        Some(Kind::Antibody)
    } else if d.contains("antigeno") {
        Some(Kind::Antigen)
    } else if d.contains("acidonucle") || d.contains("rna") || d.contains("sequenciamento") {
        Some(Kind::Molecular)
    } else {
        None
    }
}

/// The kind a method text names, when it names one.
pub(crate) fn of_method(method: &str) -> Option<Kind> {
    let m = folded(method);
    let any = |words: &[&str]| words.iter().any(|w| m.contains(w));
    if any(&[
        "pcr",
        "lamp",
        "amplificacao",
        "molecular",
        "acidonucle",
        "sequenciamento",
    ]) {
        Some(Kind::Molecular)
    } else if any(&[
        "anticorpo",
        "igg",
        "igm",
        "iga",
        "sorolog",
        "elisa",
        "neutraliza",
    ]) {
        Some(Kind::Antibody)
    } else if any(&["antigeno"]) {
        Some(Kind::Antigen)
    } else if any(&[
        "imunocromatograf",
        "imunoensaio",
        "imunofluoresc",
        "quimiolumin",
        "testerapido",
    ]) {
        Some(Kind::Immunoassay)
    } else {
        None
    }
}

/// `Some((method kind, exam kind))` when both are known and do not fit.
pub(crate) fn mismatch(method: &str, loinc: &str) -> Option<(Kind, Kind)> {
    let (method_kind, exam_kind) = (of_method(method)?, of_exam(loinc)?);
    (!method_kind.fits(exam_kind)).then_some((method_kind, exam_kind))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_come_from_the_published_displays() {
        assert_eq!(of_exam("94309-2"), Some(Kind::Molecular));
        assert_eq!(of_exam("94558-4"), Some(Kind::Antigen));
        assert_eq!(of_exam("94563-4"), Some(Kind::Antibody));
        assert_eq!(of_exam("00000-0"), None);
        assert_eq!(
            mismatch("RT-PCR em tempo real", "94563-4"),
            Some((Kind::Molecular, Kind::Antibody))
        );
        assert_eq!(mismatch("Imunocromatografia", "94558-4"), None);
        assert_eq!(
            mismatch("Imunocromatografia", "94309-2"),
            Some((Kind::Immunoassay, Kind::Molecular))
        );
        assert_eq!(
            mismatch("Método do fabricante", "94563-4"),
            None,
            "unknown is not a guess"
        );
    }
}
