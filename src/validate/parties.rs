//! Who the row is about and who did the work: the patient's CNS (a CPF is
//! explained, never used), the lab's CNES and the performer.
//!
//! Invariant: pure; sends no identifier anywhere but into the result.

use super::check::Check;
use super::ids;
use super::messages::{id_reason, place};
use crate::model::{Field, Party};

pub(super) fn patient_cns(c: &mut Check) -> Option<String> {
    if let Some(cns) = c.value(Field::PatientCns) {
        return match ids::check_cns(cns) {
            Ok(cns) => Some(cns),
            Err(problem) => {
                let message = format!(
                    "{}: o CNS \"{cns}\" é inválido ({}). Confira o número no cartão do paciente.",
                    c.place(Field::PatientCns),
                    id_reason(problem, "o CNS")
                );
                c.push(Some(Field::PatientCns), "cns_invalido", message);
                None
            }
        };
    }
    let cns_field = c.map.has(Field::PatientCns).then_some(Field::PatientCns);
    let place = place(c.row.line, c.column(Field::PatientCns));
    match c.value(Field::PatientCpf) {
        Some(cpf) => {
            let cpf_check = ids::check_cpf(cpf);
            let also = match cpf_check {
                Ok(_) => String::new(),
                Err(problem) => format!(
                    " Além disso, o CPF \"{cpf}\" é inválido ({}).",
                    id_reason(problem, "o CPF")
                ),
            };
            let message = format!(
                "{place}: o paciente tem CPF \"{cpf}\" mas não tem CNS. A RNDS identifica o \
                 paciente só pelo CNS (Cartão Nacional de Saúde): o CPF não pode ser usado. \
                 Informe o CNS do paciente.{also}"
            );
            c.push(cns_field, "cns_ausente", message);
            if let Err(problem) = cpf_check {
                let message = format!(
                    "{}: o CPF \"{cpf}\" é inválido ({}). Confira o documento do paciente.",
                    c.place(Field::PatientCpf),
                    id_reason(problem, "o CPF")
                );
                c.push(Some(Field::PatientCpf), "cpf_invalido", message);
            }
        }
        None if cns_field.is_none() => c.column_missing(Field::PatientCns),
        None => {
            let message = format!(
                "{place}: o CNS do paciente está vazio. A RNDS exige o CNS (Cartão Nacional de \
                 Saúde) do paciente; preencha-o no cadastro e exporte de novo."
            );
            c.push(cns_field, "cns_ausente", message);
        }
    }
    None
}

pub(super) fn lab_cnes(c: &mut Check) -> Option<String> {
    let Some(cnes) = c.value(Field::LabCnes) else {
        return Some(c.settings.lab_cnes.clone());
    };
    match ids::normalize_cnes(cnes) {
        Ok(cnes) => Some(cnes),
        Err(problem) => {
            let message = format!(
                "{}: o CNES \"{cnes}\" é inválido ({}). O CNES tem até 7 dígitos; confira o \
                 cadastro do estabelecimento.",
                c.place(Field::LabCnes),
                id_reason(problem, "o CNES")
            );
            c.push(Some(Field::LabCnes), "cnes_invalido", message);
            None
        }
    }
}

pub(super) fn performer(c: &mut Check, cnes: Option<&str>) -> Option<Party> {
    let Some(text) = c.value(Field::Performer) else {
        return cnes.map(|cnes| Party::Cnes(cnes.to_string()));
    };
    let stripped = ids::strip_formatting(text);
    let all_digits = stripped.bytes().all(|b| b.is_ascii_digit());
    let checked = match stripped.len() {
        1..=7 if all_digits => ids::normalize_cnes(&stripped).map(Party::Cnes),
        11 if all_digits => ids::check_cpf(&stripped).map(Party::CnpjOrCpf),
        _ => ids::check_cnpj(&stripped).map(Party::CnpjOrCpf),
    };
    match checked {
        Ok(party) => Some(party),
        Err(problem) => {
            let message = format!(
                "{}: o executor \"{text}\" é inválido ({}). Use o CNES (7 dígitos), o CNPJ \
                 (14) ou o CPF (11) de quem realizou o exame.",
                c.place(Field::Performer),
                id_reason(problem, "o CNPJ")
            );
            c.push(Some(Field::Performer), "executor_invalido", message);
            None
        }
    }
}
