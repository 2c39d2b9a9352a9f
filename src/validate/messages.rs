//! The pt-BR wording of row issues: field names as lab staff say them and
//! the explanation of each identifier or date problem.
//!
//! Invariant: text only; decides nothing.

use super::dates::DateProblem;
use super::ids::IdProblem;
use crate::model::Field;

/// The field as lab staff call it, with its article ("o CNS", "a data da coleta").
pub(super) fn label(field: Field) -> &'static str {
    field.label()
}

/// `Linha 7, coluna "Cartão SUS"` or `Linha 7` when there is no column.
pub(super) fn place(line: u64, column: &str) -> String {
    if column.is_empty() {
        format!("Linha {line}")
    } else {
        format!("Linha {line}, coluna \"{column}\"")
    }
}

/// Why an identifier is invalid, completing "é inválido (...)".
pub(super) fn id_reason(problem: IdProblem, what: &str) -> String {
    match problem {
        IdProblem::Length { expected, found } => {
            format!("tem {found} dígitos; {what} tem {expected}")
        }
        IdProblem::Character => "contém caracteres que não são dígitos".into(),
        IdProblem::FirstDigit => {
            "começa com um dígito que nenhum CNS usa; o CNS começa com 1, 2, 7, 8 ou 9".into()
        }
        IdProblem::DefinitiveCnsMiddle => {
            "um CNS iniciado por 1 ou 2 tem \"000\" ou \"001\" nas posições 12 a 14".into()
        }
        IdProblem::Repeated => "todos os dígitos são iguais".into(),
        IdProblem::CheckDigit => "dígito verificador não confere".into(),
        IdProblem::ExcelScientific => format!(
            "o Excel transformou {what} em notação científica e apagou os últimos dígitos, que \
             não podem ser recuperados deste arquivo. No Excel, selecione a coluna, formate-a \
             como Texto e digite ou cole de novo os números (ou exporte do sistema do \
             laboratório direto em CSV, sem abrir no Excel)"
        ),
    }
}

/// Why a date is invalid, completing "... não é uma data válida: ...".
pub(super) fn date_reason(problem: DateProblem) -> &'static str {
    match problem {
        DateProblem::Format => "use dd/mm/aaaa (ex.: 08/06/2021), dd/mm/aaaa hh:mm ou aaaa-mm-dd",
        DateProblem::NonexistentDate => "esse dia não existe no calendário",
        DateProblem::NonexistentTime => "esse horário não existe (use 00:00 a 23:59)",
    }
}

/// An exam that is in no catalogue. The example line uses placeholders
/// only: a ready-to-paste line built from `value` would map whatever exam
/// it is (a blood count) onto a SARS-CoV-2 code once pasted.
pub(super) fn unknown_exam(place: &str, value: &str) -> String {
    format!(
        "{place}: o exame \"{value}\" não está nas tabelas de exames da RNDS \
         (BRNomeExameLOINC, BRNomeExameGAL) nem entre os nomes de exame conhecidos, e a linha \
         não vai para a RNDS. Só exames de SARS-CoV-2 dessas tabelas vão para a RNDS: se esta linha \
         é de outro exame, ela não deve ir. Se \"{value}\" for o código interno do laboratório \
         para um exame de SARS-CoV-2, confirme o código LOINC desse exame e acrescente em \
         [inbox.exam_codes] uma linha \"<código do laboratório>\" = \"<código LOINC>\"."
    )
}
