//! Settling rows whose last attempt has no known outcome (`sending` after a
//! crash, `unknown` after a lost answer), so that nothing is ever sent twice.

use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::ledger::{Ledger, LedgerOutcome, ResultRecord};
use crate::rnds::{Client, ClientError, Resolution};

use super::ServiceError;

/// How one unresolved row was settled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Resolved {
    /// A fact to record: stored (with or without its id), or proved not
    /// stored (`Pending`: send it again).
    Outcome(LedgerOutcome),
    /// RNDS could not tell now; try again later. The pt-BR reason.
    StillUnknown(String),
    /// RNDS says the configuration is wrong; stop sending.
    ConfigError(String),
}

/// Settles one row. With `bundle` (the exact content of that attempt) the
/// client may resend it as proof (EHR-ERR866 = it was stored); without it
/// only the identifier lookup is used.
pub(super) async fn resolve_one(
    client: &Client,
    record: &ResultRecord,
    bundle: Option<Vec<u8>>,
) -> Resolved {
    let previous = record.replaces.as_deref();
    let resolution = match bundle {
        Some(bundle) => {
            client
                .resolve_unknown(&record.lab_id, previous, bundle)
                .await
        }
        None => match client.find_document(&record.lab_id).await {
            Ok(Some(current)) if Some(current.as_str()) != previous => Ok(Resolution::Stored {
                rnds_id: Some(current),
            }),
            Ok(_) => Ok(Resolution::NotStored),
            Err(e) => Err(e),
        },
    };
    match resolution {
        Ok(Resolution::Stored {
            rnds_id: Some(rnds_id),
        }) => Resolved::Outcome(LedgerOutcome::Accepted { rnds_id }),
        Ok(Resolution::Stored { rnds_id: None }) => {
            Resolved::Outcome(LedgerOutcome::AcceptedIdUnknown)
        }
        Ok(Resolution::NotStored) => Resolved::Outcome(LedgerOutcome::Pending {
            message: "a RNDS não recebeu o envio anterior; será enviado de novo".into(),
        }),
        Err(ClientError::Config(message)) => Resolved::ConfigError(message),
        // The resend meant as proof was refused on its data: nothing stored.
        Err(ClientError::Refused(message)) => {
            Resolved::Outcome(LedgerOutcome::Rejected { message })
        }
        Err(e) => Resolved::StillUnknown(format!("envio anterior ainda sem confirmação: {e}")),
    }
}

/// At start-up: settles every unresolved row of the ledger by identifier
/// lookup, before any new work. Rows RNDS cannot tell about now stay
/// unresolved; their file (still in `processando/`) settles them when it is
/// processed again. Returns `(settled, still unresolved)`.
pub(super) async fn resolve_ledger(
    client: &Client,
    ledger: &mut Ledger,
) -> Result<(usize, usize), ServiceError> {
    let rows = ledger.unresolved()?;
    if rows.is_empty() {
        return Ok((0, 0));
    }
    tracing::info!(
        linhas = rows.len(),
        "resolvendo envios sem confirmação antes de qualquer novo envio"
    );
    let limit = Arc::new(Semaphore::new(client.max_in_flight().max(1)));
    let mut set = JoinSet::new();
    for record in rows {
        let client = client.clone();
        let limit = limit.clone();
        set.spawn(async move {
            let _permit = limit.acquire_owned().await;
            let resolved = resolve_one(&client, &record, None).await;
            (record.lab_id, resolved)
        });
    }
    let mut batch = Vec::new();
    let mut left = 0;
    let mut config_error = None;
    while let Some(joined) = set.join_next().await {
        let Ok((lab_id, resolved)) = joined else {
            left += 1;
            continue;
        };
        match resolved {
            Resolved::Outcome(outcome) => batch.push((lab_id, outcome)),
            Resolved::StillUnknown(_) => left += 1,
            Resolved::ConfigError(message) => {
                left += 1;
                config_error.get_or_insert(message);
            }
        }
    }
    let settled = batch.len();
    ledger.record_outcomes(&batch)?;
    if let Some(message) = config_error {
        tracing::error!("RNDS recusou a configuração ao resolver envios: {message}");
    }
    Ok((settled, left))
}
