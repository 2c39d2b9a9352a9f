//! The rows of a chunk into the reports, in input order: every valid
//! row's bundle and `enviados.csv` line (counted by its fate), every
//! refused, repeated or manual row also into the errors report.

use crate::mapping::ColumnMap;
use crate::model::{Field, Qualitative, ResultValue, RowIssue, When};
use crate::report::{wording, SentLookup, SentStatus};

use super::{Counts, Entry, Fate, PassState, PendingRow, ServiceError, ValidRow};

impl PassState<'_> {
    pub(super) fn write_entries(&mut self, entries: Vec<Entry>) -> Result<(), ServiceError> {
        let (Some(out), Some(summary)) = (self.outputs.as_mut(), self.summary.as_mut()) else {
            return Ok(());
        };
        for entry in entries {
            match entry {
                Entry::Invalid { cells, issues } => {
                    out.failed(&cells, &issues)?;
                    for issue in issues {
                        out.issue(issue, summary)?;
                    }
                }
                Entry::Valid(mut v) => {
                    out.bundle(&v.bundle)?;
                    let fate = v.fate.take().unwrap_or(Fate::Pending {
                        reason: wording::NOT_PROCESSED.into(),
                    });
                    let (status, rnds_id) = tally(
                        &mut self.counts,
                        &mut self.pending,
                        self.job.validate.timezone,
                        &v,
                        &fate,
                    );
                    let lookup = lookup(self.columns.as_ref(), &v);
                    out.sent(v.line, &v.result.lab_id, rnds_id, &status, &lookup)?;
                    if let Some(issue) = row_issue(&v, &fate) {
                        out.failed(&v.cells, std::slice::from_ref(&issue))?;
                        out.issue(issue, summary)?;
                    }
                }
            }
        }
        Ok(())
    }
}

/// Counts the row by its fate (a pending one is also kept for the
/// pending report) and gives its `enviados.csv` status and RNDS id.
fn tally<'f>(
    counts: &mut Counts,
    pending: &mut Vec<PendingRow>,
    timezone: chrono_tz::Tz,
    v: &ValidRow,
    fate: &'f Fate,
) -> (SentStatus, Option<&'f str>) {
    match fate {
        Fate::Sent { rnds_id, replaced } => {
            if *replaced {
                counts.replaced += 1;
                (SentStatus::Replaced, rnds_id.as_deref())
            } else {
                counts.sent += 1;
                (SentStatus::Sent, rnds_id.as_deref())
            }
        }
        Fate::AlreadySent { rnds_id, sent_at } => {
            counts.already_sent += 1;
            let sent_at = lab_time(sent_at, timezone);
            (SentStatus::AlreadySent { sent_at }, rnds_id.as_deref())
        }
        Fate::Superseded {
            later_file,
            sent_before,
            rnds_id,
        } => {
            // Nothing sent now, nothing to do: counted with the rows not
            // sent again.
            counts.already_sent += 1;
            (
                SentStatus::Superseded {
                    later_file: later_file.clone(),
                    sent_before: *sent_before,
                },
                rnds_id.as_deref(),
            )
        }
        Fate::AlreadyAtRnds { code } => {
            counts.already_sent += 1;
            (SentStatus::AlreadyAtRnds { code: code.clone() }, None)
        }
        Fate::Rejected { message }
        | Fate::Manual { message }
        | Fate::Repeated { message }
        | Fate::IdentityRefused { message } => {
            counts.rejected += 1;
            (SentStatus::Rejected(message.clone()), None)
        }
        Fate::Pending { reason } => {
            counts.pending += 1;
            pending.push(PendingRow {
                line: v.line,
                lab_id: v.result.lab_id.clone(),
                reason: reason.clone(),
            });
            (SentStatus::Pending, None)
        }
    }
}

/// What staff look the row up by in `enviados.csv`: the patient's name and
/// the exam as the file wrote them, the result and collection date as sent.
fn lookup(columns: Option<&ColumnMap>, v: &ValidRow) -> SentLookup {
    let cell = |field| {
        columns
            .and_then(|c| c.by_field.get(&field))
            .and_then(|&at| v.cells.get(at))
            .map(|text| text.trim().to_owned())
            .filter(|text| !text.is_empty())
    };
    let r = &v.result;
    let result = match &r.value {
        ResultValue::Qualitative(q) => words(*q).to_owned(),
        ResultValue::Quantity {
            value,
            unit,
            interpretation,
        } => format!(
            "{} {unit} ({})",
            value.replace('.', ","),
            words(*interpretation)
        )
        .replace("  (", " ("),
    };
    SentLookup {
        patient: cell(Field::PatientName).unwrap_or_default(),
        exam: cell(Field::ExamName)
            .or_else(|| cell(Field::ExamCode))
            .unwrap_or_else(|| r.exam.code.clone()),
        result,
        collected: match r.collected {
            When::Instant(t) => t.format("%d/%m/%Y %H:%M").to_string(),
            When::Date(d) => d.format("%d/%m/%Y").to_string(),
        },
    }
}

fn words(result: Qualitative) -> &'static str {
    match result {
        Qualitative::Detectable => "Detectável",
        Qualitative::NotDetectable => "Não detectável",
        Qualitative::Inconclusive => "Inconclusivo",
    }
}

/// The errors-report line of a valid row RNDS refused, that needs a manual
/// reconciliation or that repeats an earlier row.
fn row_issue(v: &ValidRow, fate: &Fate) -> Option<RowIssue> {
    let lab_id = v.result.lab_id.as_str();
    let (code, message) = match fate {
        Fate::Rejected { message } => (
            "rnds_recusou",
            wording::rnds_refused(v.line, lab_id, message),
        ),
        Fate::Manual { message } => ("conciliacao_manual", message.clone()),
        Fate::Repeated { message } => ("exame_repetido", message.clone()),
        Fate::IdentityRefused { message } => ("identificador_reutilizado", message.clone()),
        _ => return None,
    };
    Some(RowIssue {
        line: v.line,
        column: String::new(),
        value: lab_id.to_owned(),
        code: code.into(),
        message,
    })
}

/// The ledger's UTC instant as the lab reads it (`03/11/2026 16:42` in its
/// zone); the raw text if it does not parse.
fn lab_time(utc: &str, tz: chrono_tz::Tz) -> String {
    chrono::DateTime::parse_from_rfc3339(utc)
        .map(|t| t.with_timezone(&tz).format("%d/%m/%Y %H:%M").to_string())
        .unwrap_or_else(|_| utc.to_owned())
}
