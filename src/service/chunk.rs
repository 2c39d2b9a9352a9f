//! One chunk of a pass: settle unresolved rows, decide each valid row with
//! the ledger, record the intents in one transaction, submit with bounded
//! concurrency, record the outcomes in one transaction, then write the rows
//! to the reports in input order.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;

use crate::fhir;
use crate::input::Row;
use crate::ledger::{
    decide_from, Decision, FileId, Intent, Ledger, LedgerError, LedgerOutcome, ResultState,
};
use crate::mapping::ColumnMap;
use crate::model::{LabResult, RowIssue};
use crate::pipeline::{FileHeader, FileJob, RowOutcome};
use crate::report::{SentStatus, Summary};
use crate::rnds::{Client, Outcome};

use super::outputs::{OutputPaths, Outputs};
use super::pass::PendingRow;
use super::resolve::{resolve_one, Resolved};
use super::ServiceError;

/// Rounds of sending within one chunk: a lab id repeated in the chunk, or
/// a lost answer proved not stored, goes again in the next round.
const MAX_ROUNDS: usize = 4;

#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Counts {
    invalid: u64,
    sent: u64,
    replaced: u64,
    already_sent: u64,
    rejected: u64,
    pending: u64,
}

impl Counts {
    pub(super) fn fill(&self, s: &mut Summary) {
        s.rows_sent = Some(self.sent);
        s.rows_replaced = Some(self.replaced);
        s.rows_already_sent = Some(self.already_sent);
        s.rows_rejected = Some(self.rejected);
        s.rows_pending = Some(self.pending);
    }

    /// The progress of a pass after `read` rows.
    pub(super) fn progress(&self, read: u64) -> crate::ops::PassProgress {
        crate::ops::PassProgress {
            read,
            sent: self.sent + self.replaced,
            already_sent: self.already_sent,
            invalid: self.invalid,
            rejected: self.rejected,
            pending: self.pending,
        }
    }
}

/// What became of a valid row in this pass.
#[derive(Debug, Clone)]
enum Fate {
    Sent {
        rnds_id: Option<String>,
        replaced: bool,
    },
    AlreadySent {
        rnds_id: Option<String>,
        sent_at: String,
    },
    /// EHR-ERR866 for a lab id this ledger did not hold: RNDS already has
    /// it (sent before the ledger was lost, or by another installation).
    AlreadyAtRnds,
    Rejected {
        message: String,
    },
    Manual {
        message: String,
    },
    /// The lab id already appeared earlier in this file: never sent twice,
    /// never replaced by a sibling row.
    Repeated {
        message: String,
    },
    Pending {
        reason: String,
    },
}

struct ValidRow {
    line: u64,
    cells: Vec<String>,
    result: LabResult,
    hash: String,
    bundle: Vec<u8>,
    fate: Option<Fate>,
}

enum Entry {
    Valid(Box<ValidRow>),
    Invalid {
        cells: Vec<String>,
        issues: Vec<RowIssue>,
    },
}

/// One bundle about to go out.
struct Submission {
    index: usize,
    replaces: Option<String>,
    /// The decision was a retry of a row RNDS may already hold (an earlier
    /// attempt failed in a way that does not prove it was not stored).
    retry: bool,
    bundle: Vec<u8>,
}

pub(super) struct PassState<'a> {
    pub(super) job: FileJob,
    pub(super) file_id: FileId,
    pub(super) client: &'a Client,
    pub(super) ledger: &'a mut Ledger,
    pub(super) stop: watch::Receiver<bool>,
    pub(super) summary: Option<Summary>,
    pub(super) outputs: Option<Outputs>,
    pub(super) rows_seen: u64,
    pub(super) pending: Vec<PendingRow>,
    pub(super) config_error: Option<String>,
    /// Why nothing more is sent in this pass (configuration error, or RNDS
    /// unreachable after the client's retries): the rest of the file is
    /// still read and reported, its rows pending.
    pub(super) halt: Option<String>,
    pub(super) counts: Counts,
    /// Lab id → (line, content hash) of its first row in this file.
    pub(super) first_rows: HashMap<String, (u64, String)>,
    /// The file's column map, once its header is known.
    pub(super) columns: Option<ColumnMap>,
}

impl PassState<'_> {
    pub(super) fn header(
        &mut self,
        header: &FileHeader,
        paths: &OutputPaths,
    ) -> Result<(), ServiceError> {
        let mut summary = crate::check::summary_of(header);
        let mut outputs = Outputs::create(paths, header)?;
        for issue in &header.file_issues {
            outputs.file_issue(issue.clone(), &mut summary)?;
        }
        self.summary = Some(summary);
        self.outputs = Some(outputs);
        self.columns = Some(header.columns.clone());
        Ok(())
    }

    pub(super) async fn chunk(&mut self, outcomes: Vec<RowOutcome>) -> Result<(), ServiceError> {
        let mut entries: Vec<Entry> = Vec::with_capacity(outcomes.len());
        for outcome in outcomes {
            self.rows_seen += 1;
            entries.push(match outcome {
                RowOutcome::Valid {
                    row,
                    result,
                    bundle,
                } => {
                    let (result, bundle) = self.adopt_legacy_id(&row, *result, bundle)?;
                    Entry::Valid(Box::new(ValidRow {
                        line: row.line,
                        cells: row.cells,
                        hash: fhir::content_hash(&result),
                        result,
                        bundle,
                        fate: None,
                    }))
                }
                RowOutcome::Invalid { row, issues } => {
                    self.counts.invalid += 1;
                    Entry::Invalid {
                        cells: row.cells,
                        issues,
                    }
                }
            });
        }
        self.mark_repeated(&mut entries);
        self.resolve_unresolved(&mut entries).await?;
        let mut todo: Vec<usize> = entries
            .iter()
            .enumerate()
            .filter(|(_, e)| matches!(e, Entry::Valid(v) if v.fate.is_none()))
            .map(|(i, _)| i)
            .collect();
        let mut round = 0;
        while !todo.is_empty() {
            round += 1;
            if round > MAX_ROUNDS {
                for i in todo.drain(..) {
                    if let Entry::Valid(v) = &mut entries[i] {
                        v.fate = Some(Fate::Pending {
                            reason: "reenvio adiado para a próxima tentativa".into(),
                        });
                    }
                }
                break;
            }
            todo = self.send_round(&mut entries, todo).await?;
        }
        super::blocking(|| self.write_entries(entries))
    }

    /// Versions before the Excel-time rounding fix derived some lab ids
    /// from an instant one second early. A row whose id the ledger does not
    /// know, but knows the id those versions derived, is that same
    /// document: it keeps the old id, so the corrected instant goes out
    /// once as a replacement (then "já enviado"), never as a second document.
    fn adopt_legacy_id(
        &mut self,
        row: &Row,
        mut result: LabResult,
        bundle: Vec<u8>,
    ) -> Result<(LabResult, Vec<u8>), ServiceError> {
        let Some(columns) = self.columns.as_ref() else {
            return Ok((result, bundle));
        };
        let Some(legacy) =
            crate::validate::legacy_lab_id(row, columns, &self.job.validate, &result.lab_id)
        else {
            return Ok((result, bundle));
        };
        if self.ledger.get(&result.lab_id)?.is_some() || self.ledger.get(&legacy)?.is_none() {
            return Ok((result, bundle));
        }
        result.lab_id = legacy;
        let bundle = fhir::to_json_bytes(&result, &self.job.bundle, &self.job.timestamp, None)
            .map_err(|e| ServiceError::Internal(format!("bundle não gerado: {e}")))?;
        Ok((result, bundle))
    }

    /// A lab id must appear once per file. A later row with the same
    /// content is a duplicate; with other content it contradicts the first.
    /// Either way it is reported, not sent: sending both would make the
    /// second a replacement of the first on every drop of the file.
    fn mark_repeated(&mut self, entries: &mut [Entry]) {
        for e in entries.iter_mut() {
            let Entry::Valid(v) = e else { continue };
            let lab_id = &v.result.lab_id;
            match self.first_rows.get(lab_id) {
                None => {
                    self.first_rows
                        .insert(lab_id.clone(), (v.line, v.hash.clone()));
                }
                Some((first, hash)) => {
                    let message = if *hash == v.hash {
                        format!(
                            "Linha {}: o exame {lab_id} repete a linha {first} (mesmo conteúdo); \
                             ele é enviado uma vez só. Apague a linha repetida.",
                            v.line
                        )
                    } else {
                        format!(
                            "Linha {}: o exame {lab_id} já aparece na linha {first} com outro \
                             conteúdo. Cada exame deve aparecer uma vez por arquivo: deixe só a \
                             linha correta (para corrigir um resultado já enviado, envie a linha \
                             corrigida em outro arquivo).",
                            v.line
                        )
                    };
                    v.fate = Some(Fate::Repeated { message });
                }
            }
        }
    }

    /// Rows whose last attempt is `sending`/`unknown` are settled before
    /// any decision (identifier lookup, or the EHR-ERR866 proof when this
    /// row carries the very content of that attempt).
    async fn resolve_unresolved(&mut self, entries: &mut [Entry]) -> Result<(), ServiceError> {
        let mut jobs = Vec::new();
        let mut seen = HashSet::new();
        for (i, e) in entries.iter_mut().enumerate() {
            let Entry::Valid(v) = e else { continue };
            if !seen.insert(v.result.lab_id.clone()) {
                continue;
            }
            let Some(record) = self.ledger.get(&v.result.lab_id)? else {
                continue;
            };
            if !matches!(record.state, ResultState::Sending | ResultState::Unknown) {
                continue;
            }
            if let Some(reason) = &self.halt {
                // RNDS is down or refuses our configuration: no lookup now.
                v.fate = Some(Fate::Pending {
                    reason: reason.clone(),
                });
                continue;
            }
            let bundle = if record.content_hash == v.hash {
                match &record.replaces {
                    None => Some(v.bundle.clone()),
                    Some(r) => self.rebuild(&v.result, r).ok(),
                }
            } else {
                None
            };
            jobs.push((i, record, bundle));
        }
        if jobs.is_empty() {
            return Ok(());
        }
        let mut set = JoinSet::new();
        let limit = Arc::new(Semaphore::new(self.client.max_in_flight().max(1)));
        for (i, record, bundle) in jobs {
            let client = self.client.clone();
            let limit = limit.clone();
            set.spawn(async move {
                let _permit = limit.acquire_owned().await;
                (
                    i,
                    record.lab_id.clone(),
                    resolve_one(&client, &record, bundle).await,
                )
            });
        }
        let mut batch = Vec::new();
        while let Some(joined) = set.join_next().await {
            let (i, lab_id, resolved) = joined
                .map_err(|e| ServiceError::Internal(format!("resolução interrompida: {e}")))?;
            match resolved {
                Resolved::Outcome(outcome) => batch.push((lab_id, outcome)),
                Resolved::StillUnknown(reason) => {
                    if let Entry::Valid(v) = &mut entries[i] {
                        v.fate = Some(Fate::Pending { reason });
                    }
                }
                Resolved::ConfigError(message) => {
                    self.config_error.get_or_insert(message.clone());
                    self.halt.get_or_insert(message.clone());
                    if let Entry::Valid(v) = &mut entries[i] {
                        v.fate = Some(Fate::Pending { reason: message });
                    }
                }
            }
        }
        super::blocking(|| self.ledger.record_outcomes(&batch))?;
        Ok(())
    }

    fn rebuild(&self, result: &LabResult, replaces: &str) -> Result<Vec<u8>, fhir::FhirError> {
        fhir::to_json_bytes(
            result,
            &self.job.bundle,
            &self.job.timestamp,
            Some(replaces),
        )
    }

    /// Decides the first occurrence of each lab id in `todo`, sends what
    /// must go, records the outcomes; returns the rows for another round.
    async fn send_round(
        &mut self,
        entries: &mut [Entry],
        todo: Vec<usize>,
    ) -> Result<Vec<usize>, ServiceError> {
        let mut next = Vec::new();
        let mut seen = HashSet::new();
        let mut sends = Vec::new();
        let mut intents = Vec::new();
        for i in todo {
            let Entry::Valid(v) = &mut entries[i] else {
                continue;
            };
            if !seen.insert(v.result.lab_id.clone()) {
                next.push(i);
                continue;
            }
            let record = self.ledger.get(&v.result.lab_id)?;
            // Refused on an earlier pass over this very file, same content:
            // another pass (retrying its pending rows) must not resend it.
            if let Some(r) = record.as_ref().filter(|r| {
                r.state == ResultState::Rejected
                    && r.file_id == self.file_id
                    && r.content_hash == v.hash
            }) {
                v.fate = Some(Fate::Rejected {
                    message: r.last_error.clone().unwrap_or_default(),
                });
                continue;
            }
            let (replaces, retry) = match decide_from(record.as_ref(), &v.hash) {
                Decision::New => (None, false),
                Decision::RetryPending { replaces } => (replaces, true),
                Decision::Replace { current_rnds_id } => (Some(current_rnds_id), false),
                Decision::AlreadySent { rnds_id, sent_at } => {
                    // Sent on behalf of this very file (an earlier pass):
                    // it counts as sent here, not as already sent.
                    let ours = record.as_ref().filter(|r| r.file_id == self.file_id);
                    v.fate = Some(match ours {
                        Some(r) => Fate::Sent {
                            rnds_id,
                            replaced: r.replaces.is_some(),
                        },
                        None => Fate::AlreadySent { rnds_id, sent_at },
                    });
                    continue;
                }
                Decision::NeedsManualReconciliation => {
                    v.fate = Some(Fate::Manual {
                        message: format!(
                            "Linha {}: o exame {} já está na RNDS, mas o número que a RNDS deu a ele \
                             não é conhecido (a resposta do envio se perdeu), e o conteúdo mudou. \
                             A correção não pode ser enviada automaticamente: localize o documento \
                             na RNDS e faça a substituição manualmente.",
                            v.line, v.result.lab_id
                        ),
                    });
                    continue;
                }
                Decision::Unresolved => {
                    v.fate = Some(Fate::Pending {
                        reason: "envio anterior ainda sem confirmação da RNDS".into(),
                    });
                    continue;
                }
            };
            if let Some(reason) = &self.halt {
                v.fate = Some(Fate::Pending {
                    reason: reason.clone(),
                });
                continue;
            }
            let bundle = match &replaces {
                None => v.bundle.clone(),
                Some(r) => match self.rebuild(&v.result, r) {
                    Ok(b) => b,
                    Err(e) => {
                        v.fate = Some(Fate::Rejected {
                            message: format!(
                                "não foi possível montar a substituição ({e}); avise o suporte do rnds-drop"
                            ),
                        });
                        continue;
                    }
                },
            };
            intents.push(Intent {
                lab_id: v.result.lab_id.clone(),
                content_hash: v.hash.clone(),
                file_id: self.file_id,
                line: v.line,
                replaces: replaces.clone(),
            });
            sends.push(Submission {
                index: i,
                replaces,
                retry,
                bundle,
            });
        }
        if sends.is_empty() {
            return Ok(next);
        }
        // The intent is durable before the first byte goes out.
        match super::blocking(|| self.ledger.begin_sending(&intents)) {
            Ok(()) => {}
            // Another process (`send` next to the service) is sending one of
            // these lab ids right now. Nothing was written, nothing is sent:
            // the rows wait for the next pass.
            Err(LedgerError::NotSendable { lab_id, state, .. }) => {
                tracing::warn!(
                    lab_id,
                    state,
                    "exame em envio por outro processo; nova tentativa depois"
                );
                for send in &sends {
                    if let Entry::Valid(v) = &mut entries[send.index] {
                        v.fate = Some(Fate::Pending {
                            reason: "envio deste exame em andamento em outro processo".into(),
                        });
                    }
                }
                return Ok(next);
            }
            Err(e) => return Err(e.into()),
        }
        let answers = submit_all(self.client, &self.stop, &sends).await;
        let mut batch = Vec::with_capacity(sends.len());
        let mut unknown = Vec::new();
        for (send, outcome) in sends.iter().zip(answers) {
            let Entry::Valid(v) = &mut entries[send.index] else {
                continue;
            };
            let lab_id = v.result.lab_id.clone();
            let replaced = send.replaces.is_some();
            let (ledger_outcome, fate) = match outcome {
                Outcome::Accepted { rnds_id } => (
                    LedgerOutcome::Accepted {
                        rnds_id: rnds_id.clone(),
                    },
                    Fate::Sent {
                        rnds_id: Some(rnds_id),
                        replaced,
                    },
                ),
                Outcome::DuplicateIdentifier if send.retry && !replaced => (
                    // An earlier attempt of ours did reach RNDS.
                    LedgerOutcome::AcceptedIdUnknown,
                    Fate::Sent {
                        rnds_id: None,
                        replaced: false,
                    },
                ),
                // Never "renumber the exam": that would notify it twice.
                Outcome::DuplicateIdentifier if !replaced => {
                    (LedgerOutcome::AcceptedIdUnknown, Fate::AlreadyAtRnds)
                }
                Outcome::DuplicateIdentifier => {
                    let message = format!(
                        "Linha {}: a RNDS recusou a substituição do exame {lab_id} (EHR-ERR866, \
                         identificador já usado). Não troque o número do exame: avise o suporte \
                         do rnds-drop para conferir o documento na RNDS.",
                        v.line
                    );
                    (
                        LedgerOutcome::Rejected {
                            message: message.clone(),
                        },
                        Fate::Manual { message },
                    )
                }
                Outcome::Rejected { message } => (
                    LedgerOutcome::Rejected {
                        message: message.clone(),
                    },
                    Fate::Rejected { message },
                ),
                Outcome::ConfigurationError { message } => {
                    self.config_error.get_or_insert(message.clone());
                    self.halt.get_or_insert(message.clone());
                    (
                        LedgerOutcome::Pending {
                            message: message.clone(),
                        },
                        Fate::Pending { reason: message },
                    )
                }
                Outcome::Transient { message } => {
                    self.halt
                        .get_or_insert_with(|| format!("RNDS inacessível: {message}"));
                    (
                        LedgerOutcome::Pending {
                            message: message.clone(),
                        },
                        Fate::Pending { reason: message },
                    )
                }
                Outcome::Unknown { message } => {
                    unknown.push((
                        send.index,
                        lab_id,
                        send.replaces.clone(),
                        send.bundle.clone(),
                        message,
                    ));
                    continue;
                }
            };
            v.fate = Some(fate);
            batch.push((lab_id, ledger_outcome));
        }
        // Lost answers are settled now, before anything else is decided.
        for (index, lab_id, replaces, bundle, message) in unknown {
            let resolution = self
                .client
                .resolve_unknown(&lab_id, replaces.as_deref(), bundle)
                .await;
            let Entry::Valid(v) = &mut entries[index] else {
                continue;
            };
            let replaced = replaces.is_some();
            let outcome = match resolution {
                Ok(crate::rnds::Resolution::Stored { rnds_id }) => {
                    v.fate = Some(Fate::Sent {
                        rnds_id: rnds_id.clone(),
                        replaced,
                    });
                    match rnds_id {
                        Some(rnds_id) => LedgerOutcome::Accepted { rnds_id },
                        None => LedgerOutcome::AcceptedIdUnknown,
                    }
                }
                Ok(crate::rnds::Resolution::NotStored) => {
                    next.push(index);
                    LedgerOutcome::Pending { message }
                }
                Err(crate::rnds::ClientError::Refused(message)) => {
                    v.fate = Some(Fate::Rejected {
                        message: message.clone(),
                    });
                    LedgerOutcome::Rejected { message }
                }
                Err(crate::rnds::ClientError::Config(m)) => {
                    self.config_error.get_or_insert(m.clone());
                    self.halt.get_or_insert(m.clone());
                    v.fate = Some(Fate::Pending { reason: m.clone() });
                    LedgerOutcome::Unknown { message: m }
                }
                Err(e) => {
                    let message = format!("resposta perdida e ainda não confirmada: {e}");
                    v.fate = Some(Fate::Pending {
                        reason: message.clone(),
                    });
                    LedgerOutcome::Unknown { message }
                }
            };
            batch.push((lab_id, outcome));
        }
        super::blocking(|| self.ledger.record_outcomes(&batch))?;
        next.sort_unstable();
        Ok(next)
    }

    fn write_entries(&mut self, entries: Vec<Entry>) -> Result<(), ServiceError> {
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
                Entry::Valid(v) => {
                    out.bundle(&v.bundle)?;
                    let lab_id = v.result.lab_id.as_str();
                    let fate = v.fate.unwrap_or(Fate::Pending {
                        reason: "não processado".into(),
                    });
                    let (status, rnds_id) = match &fate {
                        Fate::Sent { rnds_id, replaced } => {
                            if *replaced {
                                self.counts.replaced += 1;
                                (SentStatus::Replaced, rnds_id.as_deref())
                            } else {
                                self.counts.sent += 1;
                                (SentStatus::Sent, rnds_id.as_deref())
                            }
                        }
                        Fate::AlreadySent { rnds_id, sent_at } => {
                            self.counts.already_sent += 1;
                            let sent_at = lab_time(sent_at, self.job.validate.timezone);
                            (SentStatus::AlreadySent { sent_at }, rnds_id.as_deref())
                        }
                        Fate::AlreadyAtRnds => {
                            self.counts.already_sent += 1;
                            (SentStatus::AlreadyAtRnds, None)
                        }
                        Fate::Rejected { message }
                        | Fate::Manual { message }
                        | Fate::Repeated { message } => {
                            self.counts.rejected += 1;
                            (SentStatus::Rejected(message.clone()), None)
                        }
                        Fate::Pending { reason } => {
                            self.counts.pending += 1;
                            self.pending.push(PendingRow {
                                line: v.line,
                                lab_id: lab_id.to_owned(),
                                reason: reason.clone(),
                            });
                            (SentStatus::Pending, None)
                        }
                    };
                    out.sent(v.line, lab_id, rnds_id, &status)?;
                    let issue = match &fate {
                        Fate::Rejected { message } => Some(RowIssue {
                            line: v.line,
                            column: String::new(),
                            value: lab_id.to_owned(),
                            code: "rnds_recusou".into(),
                            message: format!(
                                "Linha {}: a RNDS recusou o exame {lab_id}: {message}. Corrija a \
                                 linha e deixe o arquivo de novo na pasta de entrada.",
                                v.line
                            ),
                        }),
                        Fate::Manual { message } => Some(RowIssue {
                            line: v.line,
                            column: String::new(),
                            value: lab_id.to_owned(),
                            code: "conciliacao_manual".into(),
                            message: message.clone(),
                        }),
                        Fate::Repeated { message } => Some(RowIssue {
                            line: v.line,
                            column: String::new(),
                            value: lab_id.to_owned(),
                            code: "exame_repetido".into(),
                            message: message.clone(),
                        }),
                        _ => None,
                    };
                    if let Some(issue) = issue {
                        out.failed(&v.cells, std::slice::from_ref(&issue))?;
                        out.issue(issue, summary)?;
                    }
                }
            }
        }
        Ok(())
    }
}

/// Submits every bundle, at most `max_in_flight` at once. After a
/// configuration error, a transient failure that outlived the client's
/// retries (RNDS is down: do not spend hours retrying row by row) or a
/// stop request, the rest are not sent (they come back `Transient`,
/// which leaves them pending).
async fn submit_all(
    client: &Client,
    stop: &watch::Receiver<bool>,
    sends: &[Submission],
) -> Vec<Outcome> {
    let limit = Arc::new(Semaphore::new(client.max_in_flight().max(1)));
    let halted = Arc::new(AtomicBool::new(false));
    let mut set = JoinSet::new();
    let mut answers: Vec<Option<Outcome>> = vec![None; sends.len()];
    for (k, send) in sends.iter().enumerate() {
        let permit = limit.clone().acquire_owned().await;
        if halted.load(Ordering::SeqCst) || stopping(stop) {
            answers[k] = Some(Outcome::Transient {
                message: "não enviado nesta tentativa".into(),
            });
            continue;
        }
        let client = client.clone();
        let bundle = send.bundle.clone();
        let halted = halted.clone();
        set.spawn(async move {
            let _permit = permit;
            let outcome = client.submit(bundle).await;
            if matches!(
                outcome,
                Outcome::ConfigurationError { .. } | Outcome::Transient { .. }
            ) {
                halted.store(true, Ordering::SeqCst);
            }
            (k, outcome)
        });
    }
    while let Some(joined) = set.join_next().await {
        if let Ok((k, outcome)) = joined {
            answers[k] = Some(outcome);
        }
    }
    answers
        .into_iter()
        .map(|a| {
            // A task that panicked never answered: the POST may have
            // happened, so the row must be resolved, not resent.
            a.unwrap_or(Outcome::Unknown {
                message: "envio interrompido".into(),
            })
        })
        .collect()
}

/// Whether a stop was requested (the guard is not held across an await).
pub(crate) fn stopping(stop: &watch::Receiver<bool>) -> bool {
    *stop.borrow()
}

/// The ledger's UTC instant as the lab reads it (`03/11/2026 16:42` in its
/// zone); the raw text if it does not parse.
fn lab_time(utc: &str, tz: chrono_tz::Tz) -> String {
    chrono::DateTime::parse_from_rfc3339(utc).map_or_else(
        |_| utc.to_owned(),
        |t| t.with_timezone(&tz).format("%d/%m/%Y %H:%M").to_string(),
    )
}
