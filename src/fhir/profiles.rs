//! Canonical URLs of the RNDS StructureDefinitions a REL bundle declares or
//! uses as identifier systems (from `shared/rnds/definitions`).

use crate::config::ProfileSet;

macro_rules! sd {
    ($name:literal) => {
        concat!(
            "http://www.saude.gov.br/fhir/r4/StructureDefinition/",
            $name
        )
    };
}

/// `Bundle.identifier.system` is this prefix plus the requester id.
pub(crate) const BUNDLE_IDENTIFIER_PREFIX: &str =
    "http://www.saude.gov.br/fhir/r4/NamingSystem/BRRNDS-";

/// Identifier system of the patient (value: CNS); fixed by every profile.
pub(crate) const INDIVIDUAL: &str = sd!("BRIndividuo-1.0");
/// Identifier system of an establishment (value: CNES).
pub(crate) const ESTABLISHMENT: &str = sd!("BREstabelecimentoSaude-1.0");
/// Identifier system of a legal person or liberal professional (CNPJ/CPF).
pub(crate) const LEGAL_PERSON: &str = sd!("BRPessoaJuridicaProfissionalLiberal-1.0");

pub(crate) const COMPOSITION_2_0: &str = sd!("BRResultadoExameLaboratorial-2.0");
pub(crate) const COMPOSITION_1_1: &str = sd!("BRResultadoExameLaboratorial-1.1");
pub(crate) const OBSERVATION_2_0: &str = sd!("BRDiagnosticoLaboratorioClinico-2.0");
pub(crate) const OBSERVATION_1_0: &str = sd!("BRDiagnosticoLaboratorioClinico-1.0");
pub(crate) const SPECIMEN: &str = sd!("BRAmostraBiologica-1.0");

/// `Composition.title`, fixed by the profile.
pub(crate) const TITLE: &str = "Resultado de Exame Laboratorial";

pub(crate) fn composition(set: ProfileSet) -> &'static str {
    match set {
        ProfileSet::V2 => COMPOSITION_2_0,
        ProfileSet::V1 => COMPOSITION_1_1,
    }
}

pub(crate) fn observation(set: ProfileSet) -> &'static str {
    match set {
        ProfileSet::V2 => OBSERVATION_2_0,
        ProfileSet::V1 => OBSERVATION_1_0,
    }
}
