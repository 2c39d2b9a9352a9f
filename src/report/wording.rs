//! The pt-BR texts lab staff read about a valid row the service did not
//! send as a new document: why it was refused, repeated or left pending.
//! Each names the line, the lab id and what to do.

use std::fmt::Display;

/// A pending row: a later round of the same chunk would exceed the limit.
pub(crate) const RETRY_POSTPONED: &str = "reenvio adiado para a próxima tentativa";
/// A pending row: an earlier attempt is not settled yet.
pub(crate) const EARLIER_SEND_UNCONFIRMED: &str = "envio anterior ainda sem confirmação da RNDS";
/// A pending row: another process (`send` beside the service) is sending it.
pub(crate) const SENDING_ELSEWHERE: &str = "envio deste exame em andamento em outro processo";
/// A pending row the pass never decided (a defect, never expected).
pub(crate) const NOT_PROCESSED: &str = "não processado";
/// A pending row not sent because sending stopped in this attempt.
pub(crate) const NOT_SENT_THIS_TIME: &str = "não enviado nesta tentativa";
/// A request whose task died: the POST may have happened.
pub(crate) const SEND_INTERRUPTED: &str = "envio interrompido";
/// A lost answer not looked up in this pass: RNDS did not answer the
/// lookups of the others (it is settled first on the next attempt).
pub(crate) const SETTLING_POSTPONED: &str =
    "a RNDS não respondeu às consultas; a confirmação fica para a próxima tentativa";

/// Why nothing more is sent in this pass after a transient failure.
pub(crate) fn rnds_unreachable(message: &str) -> String {
    format!("RNDS inacessível: {message}")
}

/// A lost answer that the lookup could not settle yet.
pub(crate) fn lost_answer_unconfirmed(error: &dyn Display) -> String {
    format!("resposta perdida e ainda não confirmada: {error}")
}

/// A later row with the same lab id and the same content.
pub(crate) fn repeated_same_content(line: u64, lab_id: &str, first: u64) -> String {
    format!(
        "Linha {line}: o exame {lab_id} repete a linha {first} (mesmo conteúdo); \
         ele é enviado uma vez só. Apague a linha repetida."
    )
}

/// A later row with the same lab id and other content.
pub(crate) fn repeated_other_content(line: u64, lab_id: &str, first: u64) -> String {
    format!(
        "Linha {line}: o exame {lab_id} já aparece na linha {first} com outro \
         conteúdo. Cada exame deve aparecer uma vez por arquivo: deixe só a \
         linha correta (para corrigir um resultado já enviado, envie a linha \
         corrigida em outro arquivo)."
    )
}

/// A correction of a document whose RNDS id was never learned.
pub(crate) fn needs_manual_reconciliation(line: u64, lab_id: &str) -> String {
    format!(
        "Linha {line}: o exame {lab_id} já está na RNDS, mas o número que a RNDS deu a ele \
         não é conhecido (a resposta do envio se perdeu), e o conteúdo mudou. \
         A correção não pode ser enviada automaticamente: localize o documento \
         na RNDS e faça a substituição manualmente."
    )
}

/// "Identifier already used" (EHR-ERR866, or MSG010/MSG017 which say the
/// same, the only codes classed `already_at_rnds`; `code` as RNDS answered
/// it) on a replacement: never advise renumbering the exam.
pub(crate) fn replacement_refused_as_duplicate(line: u64, lab_id: &str, code: &str) -> String {
    format!(
        "Linha {line}: a RNDS recusou a substituição do exame {lab_id} ({code}, \
         identificador já usado). Não troque o número do exame: avise o suporte \
         do rnds-drop para conferir o documento na RNDS."
    )
}

/// The replacement bundle could not be built.
pub(crate) fn replacement_not_built(error: &dyn Display) -> String {
    format!("não foi possível montar a substituição ({error}); avise o suporte do rnds-drop")
}

/// The row's line in the errors report when RNDS refused it. A refusal
/// with a code of RNDS' error list already ends with that code's action
/// (`schemas/rnds_errors.toml`); any other gets the general one.
pub(crate) fn rnds_refused(line: u64, lab_id: &str, message: &str) -> String {
    if crate::rnds_errors::catalogue().find_in(message).is_some() {
        return format!("Linha {line}: a RNDS recusou o exame {lab_id}: {message}");
    }
    format!(
        "Linha {line}: a RNDS recusou o exame {lab_id}: {message}. Corrija a \
         linha e deixe o arquivo de novo na pasta de entrada."
    )
}

/// A row whose lab id names a result RNDS holds for another patient or
/// exam (the lab reused the id). Never advice to change the id of the
/// result already sent: that one stays as it is, once. `other` says whose
/// result it is ("outro paciente (outro CNS)", "outro exame (código …)").
pub(crate) fn lab_id_reused(line: u64, lab_id: &str, other: &str) -> String {
    format!(
        "Linha {line}: o identificador {lab_id} já foi usado num resultado enviado à RNDS \
         para {other}; esta linha não foi enviada e o resultado já enviado continua como \
         está. Se esta linha corrige o paciente ou o exame do resultado já enviado, não \
         altere o identificador: avise o suporte do rnds-drop (essa correção não pode ser \
         automática). Se é um exame diferente que o sistema do laboratório numerou com um \
         identificador repetido, peça ao responsável por esse sistema que corrija a \
         numeração repetida; na dúvida, avise o suporte do rnds-drop antes de mudar qualquer \
         identificador."
    )
}

/// `other` of [`lab_id_reused`] for another patient.
pub(crate) const OTHER_PATIENT: &str = "outro paciente (outro CNS)";

/// `other` of [`lab_id_reused`] for another exam.
pub(crate) fn other_exam(sent_code: &str) -> String {
    format!("outro exame (código {sent_code})")
}

/// A changed row whose lab id an older version sent without recording
/// its patient and exam: nothing proves it is a correction of that result.
pub(crate) fn lab_id_without_identity(line: u64, lab_id: &str) -> String {
    format!(
        "Linha {line}: o exame {lab_id} foi enviado à RNDS por uma versão anterior do \
         rnds-drop, que não guardava o paciente e o exame de cada identificador, e o \
         conteúdo mudou; esta linha não foi enviada. Para enviar a correção, deixe antes \
         na pasta de entrada, sem nenhuma alteração, o arquivo em que o exame foi enviado \
         por último (o rnds-drop confere nele o paciente e o exame) e depois esta linha \
         de novo."
    )
}

/// The summary's `error` of a file that stopped being readable after its
/// rows up to `last_line` were handled (sent, refused or reported).
pub(crate) fn unreadable_after(why: &str, last_line: u64) -> String {
    format!(
        "o arquivo só pôde ser lido até a linha {last_line}; depois dela: {why}. As linhas \
         até a {last_line} foram tratadas: as que chegaram à RNDS estão em enviados.csv (com \
         o identificador da RNDS) e as com problema nos arquivos de erros. Nada depois da \
         linha {last_line} foi enviado. Corrija o arquivo depois dessa linha (ou exporte-o \
         de novo) e coloque-o na pasta de entrada: as linhas já enviadas não serão enviadas \
         de novo."
    )
}

/// A headerless file named like a file this inbox handed over before: the
/// rest of it, appended by a writer that reopened it by name after the
/// claim. `original`: where that earlier file is now.
pub(crate) fn reopened_by_name(name: &str, original: &str) -> String {
    format!(
        "este arquivo não tem linha de cabeçalho e tem o mesmo nome de um arquivo recebido \
         antes nesta pasta ({name}): parece ser a continuação dele, gravada pelo programa de \
         exportação depois que o rnds-drop já tinha pegado o arquivo (o programa reabriu o \
         arquivo pelo nome para acrescentar linhas). Nenhuma linha deste arquivo foi enviada. \
         O que fazer: copie a linha de cabeçalho do arquivo original (guardado em {original}) \
         para o início deste arquivo e coloque-o de novo na pasta de entrada; as linhas já \
         enviadas do original não serão enviadas de novo. Para que isso não se repita, \
         configure a exportação para gravar com outro nome (ou terminado em .tmp) e \
         renomear o arquivo ao terminar."
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Review finding 12: staff who misjudge a correction as "another
    /// exam" must not be led to renumber it: the first advice is to keep
    /// the identifier, and no sentence invites a fresh one.
    #[test]
    fn a_reused_lab_id_never_invites_renumbering() {
        for other in [OTHER_PATIENT.to_owned(), other_exam("94309-2")] {
            let text = lab_id_reused(7, "A-1", &other);
            let lower = text.to_lowercase();
            for forbidden in [
                "novo identificador",
                "identificador que nunca",
                "nunca tenha usado",
            ] {
                assert!(!lower.contains(forbidden), "{forbidden}: {text}");
            }
            let keep = lower.find("não altere o identificador").expect(&text);
            let other_exam = lower.find("exame diferente").expect(&text);
            assert!(keep < other_exam, "{text}");
        }
    }
}
