//! The vocabulary shared by the pure core: where a value came from, what is
//! wrong with a row, and the normalized lab result that the FHIR builder and
//! the ledger consume.
//!
//! Invariant: this module knows no file format, no FHIR JSON and no I/O.

use chrono::{DateTime, FixedOffset, NaiveDate};
use serde::Serialize;

/// One problem found in one row. A bad row is data, not an error.
///
/// Serialized with exactly the field names `resumo.json` promises:
/// `{line, column, value, code, message}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowIssue {
    /// Line as seen by a person (1-based, as a text editor or the sheet shows it).
    pub line: u64,
    /// The original header text of the offending column ("" when the
    /// problem is a column that is missing or the row as a whole).
    pub column: String,
    /// The offending value as it appeared in the file.
    pub value: String,
    /// Stable machine-readable name, e.g. `cns_invalido`.
    pub code: String,
    /// A pt-BR sentence: what is wrong and how to fix it.
    pub message: String,
}

/// How RNDS identifies the patient. The REL model accepts a CNS only.
pub(crate) type Cns = String;

/// Code system of the exam code (`Observation.code`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum ExamSystem {
    /// `BRNomeExameLOINC` (mandatory for private labs).
    Loinc,
    /// `BRNomeExameGAL` (public labs).
    Gal,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct ExamCode {
    pub system: ExamSystem,
    pub code: String,
}

/// Code system of the specimen type (`Specimen.type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum SpecimenSystem {
    /// `BRTipoAmostraGAL`.
    Gal,
    /// HL7 `v2-0487`.
    Hl7V2_0487,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct SpecimenCode {
    pub system: SpecimenSystem,
    pub code: String,
}

/// `BRResultadoQualitativoExame`: 1 Detectável, 2 Não detectável, 3 Inconclusivo.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Qualitative {
    Detectable,
    NotDetectable,
    Inconclusive,
}

impl Qualitative {
    pub(crate) fn code(self) -> &'static str {
        match self {
            Qualitative::Detectable => "1",
            Qualitative::NotDetectable => "2",
            Qualitative::Inconclusive => "3",
        }
    }
}

/// The result value: a qualitative code, or a number with unit plus the
/// qualitative interpretation the profile requires alongside it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub enum ResultValue {
    Qualitative(Qualitative),
    Quantity {
        /// Decimal in FHIR form (dot separator), exactly as read.
        value: String,
        unit: String,
        interpretation: Qualitative,
    },
}

/// A date-time as the lab gave it: a full instant with the lab's offset, or
/// a date alone (the contract allows `2021-06-08`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum When {
    Instant(DateTime<FixedOffset>),
    Date(NaiveDate),
}

impl When {
    /// FHIR `dateTime` text: `2021-06-08T09:23:00-03:00` or `2021-06-08`.
    pub(crate) fn to_fhir(self) -> String {
        match self {
            When::Instant(t) => t.format("%Y-%m-%dT%H:%M:%S%:z").to_string(),
            When::Date(d) => d.format("%Y-%m-%d").to_string(),
        }
    }
}

/// Who produced the document or performed the exam.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub enum Party {
    /// A health establishment by its 7-digit CNES (`BREstabelecimentoSaude-1.0`).
    Cnes(String),
    /// A legal person or liberal professional by CNPJ (14) or CPF (11)
    /// (`BRPessoaJuridicaProfissionalLiberal-1.0`).
    CnpjOrCpf(String),
}

/// One validated result, ready to become one RNDS bundle.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct LabResult {
    /// Where it came from (not part of the content).
    pub line: u64,
    /// The lab's own unique id for this result (`Bundle.identifier.value`):
    /// the row's id when the file has one, otherwise a deterministic UUIDv5.
    pub lab_id: String,
    pub patient_cns: Cns,
    pub exam: ExamCode,
    /// `BRSubgrupoTabelaSUS` code, e.g. `0202` or `0214`.
    pub category: String,
    pub collected: When,
    pub issued: DateTime<FixedOffset>,
    pub value: ResultValue,
    pub specimen: SpecimenCode,
    pub method: String,
    pub reference_range: String,
    pub notes: Vec<String>,
    /// `Composition.author`: the lab.
    pub author: Party,
    /// `Observation.performer`.
    pub performer: Party,
}

/// The canonical fields a lab export can carry. Headers are mapped onto
/// these; `[inbox.columns]` overrides use these names.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    /// The lab's own unique id for the result (order/sample/exam number).
    LabId,
    PatientCns,
    /// Accepted only to explain that RNDS needs the CNS; never sent.
    PatientCpf,
    /// Never sent; kept only so reports can name the patient's row.
    PatientName,
    /// Collection date, or date and time in one column.
    CollectionDate,
    /// Collection time when the file has it in its own column.
    CollectionTime,
    /// Release (issued) date, or date and time in one column.
    IssuedDate,
    IssuedTime,
    /// LOINC, GAL or a local exam code (see `[inbox.exam_codes]`).
    ExamCode,
    /// Portuguese exam name, used when there is no code column.
    ExamName,
    /// Qualitative wording, code 1/2/3, or a number.
    Result,
    /// Unit of a numeric result.
    ResultUnit,
    /// Qualitative interpretation of a numeric result (wording or 1/2/3).
    Interpretation,
    Specimen,
    Method,
    ReferenceRange,
    Notes,
    LabCnes,
    Performer,
    /// The exam's status in the source system (`Liberado`, `Aguardando`…):
    /// selects which rows are released results (`schemas/statuses.toml`).
    Status,
}

impl Field {
    /// The field as lab staff call it, with its article ("o CNS do paciente").
    pub(crate) fn label(self) -> &'static str {
        match self {
            Field::LabId => "o identificador do exame",
            Field::PatientCns => "o CNS do paciente",
            Field::PatientCpf => "o CPF do paciente",
            Field::PatientName => "o nome do paciente",
            Field::CollectionDate => "a data da coleta",
            Field::CollectionTime => "a hora da coleta",
            Field::IssuedDate => "a data de liberação do resultado",
            Field::IssuedTime => "a hora de liberação do resultado",
            Field::ExamCode => "o código do exame",
            Field::ExamName => "o nome do exame",
            Field::Result => "o resultado",
            Field::ResultUnit => "a unidade do resultado",
            Field::Interpretation => "a interpretação do resultado",
            Field::Specimen => "a amostra (material)",
            Field::Method => "o método",
            Field::ReferenceRange => "o valor de referência",
            Field::Notes => "a observação",
            Field::LabCnes => "o CNES do laboratório",
            Field::Performer => "o executor do exame",
            Field::Status => "o status do exame",
        }
    }

    pub(crate) const ALL: [Field; 20] = [
        Field::LabId,
        Field::PatientCns,
        Field::PatientCpf,
        Field::PatientName,
        Field::CollectionDate,
        Field::CollectionTime,
        Field::IssuedDate,
        Field::IssuedTime,
        Field::ExamCode,
        Field::ExamName,
        Field::Result,
        Field::ResultUnit,
        Field::Interpretation,
        Field::Specimen,
        Field::Method,
        Field::ReferenceRange,
        Field::Notes,
        Field::LabCnes,
        Field::Performer,
        Field::Status,
    ];

    /// The snake_case name used in config files and `resumo.json`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Field::LabId => "lab_id",
            Field::PatientCns => "patient_cns",
            Field::PatientCpf => "patient_cpf",
            Field::PatientName => "patient_name",
            Field::CollectionDate => "collection_date",
            Field::CollectionTime => "collection_time",
            Field::IssuedDate => "issued_date",
            Field::IssuedTime => "issued_time",
            Field::ExamCode => "exam_code",
            Field::ExamName => "exam_name",
            Field::Result => "result",
            Field::ResultUnit => "result_unit",
            Field::Interpretation => "interpretation",
            Field::Specimen => "specimen",
            Field::Method => "method",
            Field::ReferenceRange => "reference_range",
            Field::Notes => "notes",
            Field::LabCnes => "lab_cnes",
            Field::Performer => "performer",
            Field::Status => "status",
        }
    }
}
