//! What follows a pass: the reports and where the file goes (complete,
//! waiting for its writer to be quiet, pending rows, or `falhas/`).

use std::path::Path;
use std::time::Duration;

use crate::check;
use crate::ledger::{FileState, ResultRecord};
use crate::model::RowIssue;
use crate::report::{wording, Summary};
use crate::watch::{Disposition, FileLook};

use super::super::freshness::{quiet_period, recheck_period};
use super::super::outputs::Outputs;
use super::super::pass::PassReport;
use super::super::paths::{OutputPaths, Received};
use super::super::publish::{publish_summary, KIND_UNREADABLE};
use super::super::{blocking, ServiceError};
use super::{retry_delay, Active, Held, Next, Service, MAX_RETRY_DELAY};

impl Service {
    /// The service's report names for the file's next pass.
    pub(super) fn paths_for(&self, active: &Active) -> OutputPaths {
        let inbox = &self.config.inbox[active.claimed.inbox_index];
        let stem = check::stem(Path::new(&active.claimed.original_name));
        let received = Received {
            at: active
                .received
                .with_timezone(&self.config.timezone())
                .fixed_offset(),
            inbox: inbox.path.clone(),
        };
        OutputPaths::timestamped(
            &inbox.outbox,
            &stem,
            &active.claimed.original_name,
            &received,
        )
        .for_instance(self.ledger.instance_name())
    }

    /// Writes the summary saying why (with the reports of the rows handled
    /// before the file stopped being readable, when there are `outputs`,
    /// or an `enviados.csv` of `earlier_rows`, from the ledger),
    /// moves the file to `falhas/` (watched a while for late writes: a
    /// copy that resumes is read again).
    pub(super) fn fail(
        &mut self,
        active: &Active,
        summary: &Summary,
        outputs: Option<Outputs>,
        earlier_rows: &[ResultRecord],
        paths: &OutputPaths,
        look: Option<FileLook>,
    ) -> Result<(), ServiceError> {
        let summary_path = &paths.reports.summary;
        let today = self.today();
        // No header at all (the rest of a file reopened by name, cut in the
        // middle of a row): the report says what it is and what to do.
        let mut summary = summary.clone();
        if let Some(issue) = self.reopened_by_name(active, &summary)? {
            summary.issues.push(issue);
        }
        let summary = &summary;
        let stored = blocking(|| -> Result<_, ServiceError> {
            match outputs {
                Some(outputs) => {
                    outputs.publish(summary, &mut self.ledger, active.file_id, KIND_UNREADABLE)?;
                }
                None => publish_summary(
                    summary,
                    earlier_rows,
                    paths,
                    &mut self.ledger,
                    active.file_id,
                    KIND_UNREADABLE,
                )?,
            }
            let stored = active.claimed.finish(Disposition::Failed, today)?;
            self.ledger
                .finish_file(active.file_id, FileState::Failed, &stored)?;
            Ok(stored)
        })?;
        self.ops.file_finished(summary, true);
        tracing::warn!(
            arquivo = %active.claimed.original_name,
            motivo = summary.error.as_deref().unwrap_or(""),
            relatorio = %summary_path.display(),
            "arquivo ilegível movido para falhas/"
        );
        if let Some(look) = look {
            let settle = self.settle_of(active);
            self.finished.push(
                active.claimed.clone(),
                stored,
                look,
                settle,
                self.clock.now(),
            );
        }
        Ok(())
    }

    pub(super) fn settle_of(&self, active: &Active) -> Duration {
        Duration::from_millis(self.config.inbox[active.claimed.inbox_index].settle_ms)
    }

    fn today(&self) -> chrono::NaiveDate {
        chrono::Utc::now()
            .with_timezone(&self.config.timezone())
            .date_naive()
    }

    /// Reports and the file's next step after a pass that read it whole.
    pub(super) fn after_pass(
        &mut self,
        active: &mut Active,
        report: PassReport,
        paths: &OutputPaths,
        look: Option<FileLook>,
    ) -> Result<Next, ServiceError> {
        self.log_config_error(report.config_error.as_deref());
        if !report.pending.is_empty() {
            return self.keep_pending(active, report);
        }
        let settle = self.settle_of(active);
        let quiet_at = active.fresh.quiet_at(quiet_period(settle));
        if let (true, Some(look)) = (self.clock.now() < quiet_at, look) {
            // Every row read is final, but a writer pausing longer than
            // settle_ms may not be done: complete only once it is quiet.
            // Unchanged by then, this pass's reports are committed as they
            // are; changed, another pass sends what it gained.
            active.next_try = quiet_at.min(self.clock.now() + recheck_period(settle));
            active.awaiting_quiet = Some(Box::new(Held {
                report,
                paths: paths.clone(),
                look,
            }));
            return Ok(Next::Wait);
        }
        self.complete(active, report, paths, look)?;
        Ok(Next::Done)
    }

    /// A configuration error RNDS reported is logged once, until a pass
    /// without one.
    fn log_config_error(&mut self, config_error: Option<&str>) {
        match config_error {
            Some(message) if !self.config_error_logged => {
                tracing::error!(
                    "ERRO DE CONFIGURAÇÃO informado pela RNDS: {message}. Os envios ficam \
                     suspensos e os arquivos aguardam em processando/ até a configuração ser \
                     corrigida (rode `rnds-drop doctor`)."
                );
                self.config_error_logged = true;
            }
            Some(_) => {}
            None => self.config_error_logged = false,
        }
    }

    /// Every row final: the report set is published (recorded in the
    /// ledger) before the file moves to `processados/`; then the file is
    /// watched for late writes.
    fn complete(
        &mut self,
        active: &mut Active,
        report: PassReport,
        paths: &OutputPaths,
        look: Option<FileLook>,
    ) -> Result<(), ServiceError> {
        let settle = self.settle_of(active);
        let today = self.today();
        let kind = if active.pending_reported {
            "acompanhamento"
        } else {
            "resumo"
        };
        let mut report = report;
        let stored = blocking(|| -> Result<_, ServiceError> {
            if let Some(mut outputs) = report.outputs {
                if let Some(issue) = self.reopened_by_name(active, &report.summary)? {
                    outputs.file_issue(issue, &mut report.summary)?;
                }
                outputs.publish(&report.summary, &mut self.ledger, active.file_id, kind)?;
            }
            let stored = active.claimed.finish(Disposition::Processed, today)?;
            self.ledger
                .finish_file(active.file_id, FileState::Processed, &stored)?;
            Ok(stored)
        })?;
        self.ops.file_finished(&report.summary, false);
        if let Some(look) = look {
            self.finished.push(
                active.claimed.clone(),
                stored,
                look,
                settle,
                self.clock.now(),
            );
        }
        let name = &active.claimed.original_name;
        let s = &report.summary;
        tracing::info!(
            arquivo = %name,
            linhas = s.rows_total,
            enviadas = s.rows_sent.unwrap_or(0),
            substituidas = s.rows_replaced.unwrap_or(0),
            ja_enviadas = s.rows_already_sent.unwrap_or(0),
            invalidas = s.rows_invalid,
            recusadas = s.rows_rejected.unwrap_or(0),
            relatorio = %paths.reports.summary.display(),
            "arquivo concluído"
        );
        for issue in s.file_issues() {
            tracing::warn!(
                arquivo = %name,
                motivo = %issue.message,
                "nenhuma linha do arquivo pode ser enviada"
            );
        }
        Ok(())
    }

    /// A file read as having no results columns (its first line is data,
    /// not a header), or in which no header was found at all (it starts in
    /// the middle of a row), whose name an earlier file of this inbox had:
    /// the issue that says it is the rest of that file and exactly what to do.
    fn reopened_by_name(
        &self,
        active: &Active,
        summary: &Summary,
    ) -> Result<Option<RowIssue>, ServiceError> {
        let no_header = crate::input::InputError::NoHeader.to_string();
        let headerless = summary
            .issues
            .iter()
            .any(|i| i.code == crate::validate::file_kind::NOT_RESULTS)
            || summary.error.as_deref() == Some(no_header.as_str());
        if !headerless {
            return Ok(None);
        }
        let inbox = &self.config.inbox[active.claimed.inbox_index].path;
        let name = &active.claimed.original_name;
        let Some(earlier) = self
            .ledger
            .earlier_file_named(active.file_id, name, inbox)?
        else {
            return Ok(None);
        };
        let original = earlier
            .stored_path
            .unwrap_or(earlier.work_path)
            .display()
            .to_string();
        Ok(Some(RowIssue {
            line: summary.header_line.unwrap_or(1),
            column: String::new(),
            value: String::new(),
            code: "continuacao_de_arquivo_ja_recebido".into(),
            message: wording::reopened_by_name(name, &original),
        }))
    }

    /// Rows pending: the pending report once it is due, then the next try
    /// (backing off, a minute after a configuration error).
    pub(super) fn keep_pending(
        &mut self,
        active: &mut Active,
        report: PassReport,
    ) -> Result<Next, ServiceError> {
        let report_due =
            active.since + Duration::from_secs(self.config.service.pending_report_after_s);
        let now = self.clock.now();
        let pending = report.pending.len();
        let config_error = report.config_error.is_some();
        if !active.pending_reported && now >= report_due {
            self.report_pending(active, report)?;
        }
        let mut delay = retry_delay(active.passes);
        if config_error {
            delay = MAX_RETRY_DELAY;
        }
        let mut next_try = now + delay;
        if !active.pending_reported {
            next_try = next_try.min(report_due.max(now));
        }
        active.next_try = next_try;
        // The outage itself is logged once by `ops` (and summarised), not per pass.
        tracing::debug!(
            arquivo = %active.claimed.original_name,
            pendentes = pending,
            nova_tentativa_em_s = next_try.saturating_duration_since(now).as_secs(),
            "linhas pendentes: RNDS inacessível"
        );
        Ok(Next::Wait)
    }

    /// The pending report: what was sent so far and what waits.
    fn report_pending(
        &mut self,
        active: &mut Active,
        report: PassReport,
    ) -> Result<(), ServiceError> {
        let Some(outputs) = report.outputs else {
            return Ok(());
        };
        let written = outputs.publish(
            &report.summary,
            &mut self.ledger,
            active.file_id,
            "pendentes",
        )?;
        active.pending_reported = true;
        tracing::warn!(
            arquivo = %active.claimed.original_name,
            pendentes = report.pending.len(),
            relatorio = %written.summary.display(),
            "linhas pendentes relatadas; um relatório complementar sairá quando forem enviadas"
        );
        Ok(())
    }

    /// A file resumed after a stop that fell between publishing its final
    /// report and moving it: moved now, without a second report.
    pub(super) fn finish_reported(
        &mut self,
        active: &Active,
        disposition: Disposition,
    ) -> Result<Next, ServiceError> {
        let stored = active.claimed.finish(disposition, self.today())?;
        let state = match disposition {
            Disposition::Processed => FileState::Processed,
            Disposition::Failed => FileState::Failed,
        };
        self.ledger.finish_file(active.file_id, state, &stored)?;
        tracing::info!(
            arquivo = %active.claimed.original_name,
            "arquivo já relatado antes da parada; movido sem novo relatório"
        );
        Ok(Next::Done)
    }
}
