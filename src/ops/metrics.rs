//! `/metrics` in the Prometheus text format (written by hand: a dozen
//! families do not need a crate) and the `/healthz` verdict. Both pure:
//! the server gathers the inputs.

use std::fmt::Write;
use std::path::PathBuf;

use chrono::{DateTime, Utc};

use super::telemetry::{TelemetrySnapshot, ANSWER_CLASSES, LATENCY_BUCKETS_S, ROW_OUTCOMES};
use crate::ledger::LedgerSnapshot;

/// What one scrape sees.
#[derive(Debug, Clone)]
pub(crate) struct ScrapeInputs {
    pub now: DateTime<Utc>,
    pub telemetry: TelemetrySnapshot,
    /// The read-only ledger snapshot, or why it could not be read.
    pub ledger: Result<LedgerSnapshot, String>,
    pub tokens_fetched: u64,
    /// Requests to RNDS: allowed in flight, in flight, the ceiling.
    pub concurrency: Concurrency,
    pub certificate_not_after: DateTime<Utc>,
    pub inboxes_missing: Vec<PathBuf>,
    /// `/healthz` turns 503 once RNDS is unreachable this long.
    pub rnds_down_limit: chrono::Duration,
}

/// The in-flight gate of the RNDS client at the scrape.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Concurrency {
    /// Requests allowed in flight now (adaptive: 1 to `ceiling`).
    pub limit: usize,
    /// Requests in flight now.
    pub in_flight: usize,
    /// `max_in_flight` (or `fixed_in_flight`).
    pub ceiling: usize,
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// The exposition text.
pub(crate) fn render(i: &ScrapeInputs) -> String {
    let mut out = String::with_capacity(4096);
    let o = &mut out;

    write_traffic(o, i);
    write_concurrency(o, &i.concurrency);
    write_health(o, i);
    if let Ok(s) = &i.ledger {
        write_ledger(o, s, i.now);
    }
    out
}

/// What this process did: files, rows, RNDS answers and latency, tokens.
fn write_traffic(o: &mut String, i: &ScrapeInputs) {
    let t = &i.telemetry;
    family(
        o,
        "rnds_drop_files_total",
        "counter",
        "Files finished by this process, by outcome.",
    );
    let _ = writeln!(
        o,
        "rnds_drop_files_total{{outcome=\"processado\"}} {}",
        t.files_processed
    );
    let _ = writeln!(
        o,
        "rnds_drop_files_total{{outcome=\"falhou\"}} {}",
        t.files_failed
    );

    family(
        o,
        "rnds_drop_rows_total",
        "counter",
        "Rows of finished files, by outcome.",
    );
    for (name, n) in ROW_OUTCOMES.iter().zip(t.rows) {
        let _ = writeln!(o, "rnds_drop_rows_total{{outcome=\"{name}\"}} {n}");
    }

    family(
        o,
        "rnds_drop_rnds_answers_total",
        "counter",
        "RNDS exchanges by answer class.",
    );
    for (class, n) in ANSWER_CLASSES.iter().zip(t.answers) {
        let _ = writeln!(o, "rnds_drop_rnds_answers_total{{class=\"{class}\"}} {n}");
    }

    let h = "rnds_drop_rnds_request_duration_seconds";
    family(o, h, "histogram", "Duration of HTTP exchanges with RNDS.");
    for (bound, n) in LATENCY_BUCKETS_S.iter().zip(t.latency_buckets) {
        let _ = writeln!(o, "{h}_bucket{{le=\"{bound}\"}} {n}");
    }
    let count = t.latency_buckets[LATENCY_BUCKETS_S.len()];
    let _ = writeln!(o, "{h}_bucket{{le=\"+Inf\"}} {count}");
    let _ = writeln!(o, "{h}_sum {}", t.latency_sum_s);
    let _ = writeln!(o, "{h}_count {count}");

    family(
        o,
        "rnds_drop_token_fetches_total",
        "counter",
        "Access tokens fetched from RNDS.",
    );
    let _ = writeln!(o, "rnds_drop_token_fetches_total {}", i.tokens_fetched);
}

/// The RNDS client's in-flight gate: its limit now, its ceiling, its load.
fn write_concurrency(o: &mut String, c: &Concurrency) {
    for (name, help, value) in [
        (
            "rnds_drop_rnds_concurrency_limit",
            "Requests to RNDS allowed in flight at once now (adapts between 1 and the ceiling).",
            c.limit,
        ),
        (
            "rnds_drop_rnds_concurrency_ceiling",
            "The most requests to RNDS ever in flight at once (max_in_flight or fixed_in_flight).",
            c.ceiling,
        ),
        (
            "rnds_drop_rnds_requests_in_flight",
            "Requests to RNDS in flight now.",
            c.in_flight,
        ),
    ] {
        family(o, name, "gauge", help);
        let _ = writeln!(o, "{name} {value}");
    }
}

/// Certificate expiry, last RNDS success, whether RNDS and the ledger answer.
fn write_health(o: &mut String, i: &ScrapeInputs) {
    let t = &i.telemetry;
    // Prometheus wants base units: days left = (this - time()) / 86400.
    family(
        o,
        "rnds_drop_certificate_expiry_timestamp_seconds",
        "gauge",
        "Unix time at which the lab certificate expires.",
    );
    let _ = writeln!(
        o,
        "rnds_drop_certificate_expiry_timestamp_seconds {}",
        i.certificate_not_after.timestamp()
    );

    family(
        o,
        "rnds_drop_last_rnds_success_timestamp_seconds",
        "gauge",
        "Unix time of the last answer from RNDS that was not a failure (0: none yet).",
    );
    let _ = writeln!(
        o,
        "rnds_drop_last_rnds_success_timestamp_seconds {}",
        t.last_success_unix.unwrap_or(0)
    );

    family(
        o,
        "rnds_drop_rnds_up",
        "gauge",
        "1 when the last exchange with RNDS got an answer.",
    );
    let _ = writeln!(
        o,
        "rnds_drop_rnds_up {}",
        u8::from(t.outage_since.is_none())
    );

    family(
        o,
        "rnds_drop_ledger_up",
        "gauge",
        "1 when the ledger could be read.",
    );
    let _ = writeln!(o, "rnds_drop_ledger_up {}", u8::from(i.ledger.is_ok()));
}

/// The ledger's rows by state and the age of what is waiting.
fn write_ledger(o: &mut String, s: &LedgerSnapshot, now: DateTime<Utc>) {
    family(
        o,
        "rnds_drop_ledger_rows",
        "gauge",
        "Rows in the ledger by state.",
    );
    for (state, n) in [
        ("aceita", s.rows_accepted),
        ("recusada", s.rows_rejected),
        ("pendente", s.rows_pending),
        ("sem_confirmacao", s.rows_unresolved),
    ] {
        let _ = writeln!(o, "rnds_drop_ledger_rows{{state=\"{state}\"}} {n}");
    }
    family(
        o,
        "rnds_drop_pending_rows",
        "gauge",
        "Rows waiting for RNDS.",
    );
    let _ = writeln!(
        o,
        "rnds_drop_pending_rows {}",
        s.rows_pending + s.rows_unresolved
    );
    family(
        o,
        "rnds_drop_files_in_progress",
        "gauge",
        "Files claimed and not finished.",
    );
    let _ = writeln!(o, "rnds_drop_files_in_progress {}", s.files_processing);
    family(
        o,
        "rnds_drop_oldest_pending_age_seconds",
        "gauge",
        "Age of the oldest file with rows still waiting (0: none).",
    );
    let age = age_s(s.oldest_pending_since.as_deref(), now);
    let _ = writeln!(o, "rnds_drop_oldest_pending_age_seconds {age}");
    family(
        o,
        "rnds_drop_uncorrected_rows",
        "gauge",
        "Invalid rows waiting in errors reports, not yet dropped again corrected.",
    );
    let _ = writeln!(o, "rnds_drop_uncorrected_rows {}", s.rows_uncorrected);
    family(
        o,
        "rnds_drop_oldest_uncorrected_age_seconds",
        "gauge",
        "Age of the oldest invalid row not yet corrected (0: none).",
    );
    let age = age_s(s.uncorrected_since.as_deref(), now);
    let _ = writeln!(o, "rnds_drop_oldest_uncorrected_age_seconds {age}");
    instances(o, &s.instances);
}

/// One series per instance sharing the inbox (PostgreSQL `[ledger]
/// instance`); nothing for a lone process.
fn instances(o: &mut String, instances: &[crate::ledger::InstanceStatus]) {
    if instances.is_empty() {
        return;
    }
    family(
        o,
        "rnds_drop_instance_up",
        "gauge",
        "1 when the instance's last heartbeat is within its lease_s (its files are its own).",
    );
    for i in instances {
        let name = label(&i.name);
        let _ = writeln!(
            o,
            "rnds_drop_instance_up{{instance=\"{name}\"}} {}",
            u8::from(i.alive)
        );
    }
    family(
        o,
        "rnds_drop_instance_heartbeat_age_seconds",
        "gauge",
        "Seconds since the instance's last heartbeat (the database server's clock).",
    );
    for i in instances {
        let name = label(&i.name);
        let _ = writeln!(
            o,
            "rnds_drop_instance_heartbeat_age_seconds{{instance=\"{name}\"}} {}",
            i.heartbeat_age_s
        );
    }
    family(
        o,
        "rnds_drop_instance_files_in_hand",
        "gauge",
        "Files the instance holds (lease not run out).",
    );
    for i in instances {
        let name = label(&i.name);
        let _ = writeln!(
            o,
            "rnds_drop_instance_files_in_hand{{instance=\"{name}\"}} {}",
            i.files_in_hand.len()
        );
    }
}

/// An instance name as a label value (config allows only `[A-Za-z0-9_-]`;
/// anything else, from a hand-edited database, is dropped).
fn label(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}

/// Seconds since an RFC 3339 time (0: none or unreadable).
fn age_s(since: Option<&str>, now: DateTime<Utc>) -> i64 {
    since
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map_or(0, |since| {
            (now - since.with_timezone(&Utc)).num_seconds().max(0)
        })
}

/// `Ok` or the reasons (pt-BR) the service is not healthy.
pub(crate) fn health(i: &ScrapeInputs) -> Result<(), Vec<String>> {
    let mut reasons = Vec::new();
    if let Some(since) = i.telemetry.outage_since {
        let down = i.now - since;
        if down >= i.rnds_down_limit {
            reasons.push(format!(
                "RNDS inacessível há {} ({} tentativas sem resposta)",
                super::status::human_age(down.num_seconds()),
                i.telemetry.outage_failures
            ));
        }
    }
    if let Err(e) = &i.ledger {
        reasons.push(format!("registro de envios: {e}"));
    }
    for path in &i.inboxes_missing {
        reasons.push(format!("pasta de entrada ausente: {}", path.display()));
    }
    if i.certificate_not_after < i.now {
        reasons.push("certificado expirado".into());
    }
    if reasons.is_empty() {
        Ok(())
    } else {
        Err(reasons)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn inputs() -> ScrapeInputs {
        let now = Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0).unwrap();
        ScrapeInputs {
            now,
            telemetry: TelemetrySnapshot::default(),
            ledger: Ok(LedgerSnapshot::default()),
            tokens_fetched: 2,
            concurrency: Concurrency {
                limit: 5,
                in_flight: 3,
                ceiling: 32,
            },
            certificate_not_after: now + chrono::Duration::days(90),
            inboxes_missing: Vec::new(),
            rnds_down_limit: chrono::Duration::minutes(5),
        }
    }

    #[test]
    fn healthy_until_rnds_is_down_past_the_limit() {
        let mut i = inputs();
        assert_eq!(health(&i), Ok(()));
        i.telemetry.outage_since = Some(i.now - chrono::Duration::minutes(4));
        assert_eq!(health(&i), Ok(()));
        i.telemetry.outage_since = Some(i.now - chrono::Duration::minutes(6));
        i.telemetry.outage_failures = 9;
        i.ledger = Err("arquivo não encontrado".into());
        i.certificate_not_after = i.now - chrono::Duration::days(1);
        let reasons = health(&i).unwrap_err();
        assert_eq!(
            reasons,
            [
                "RNDS inacessível há 6 min (9 tentativas sem resposta)",
                "registro de envios: arquivo não encontrado",
                "certificado expirado",
            ]
        );
    }

    #[test]
    fn every_family_has_help_and_type_and_the_histogram_is_complete() {
        let i = inputs();
        let text = render(&i);
        for name in [
            "rnds_drop_files_total",
            "rnds_drop_rows_total",
            "rnds_drop_rnds_request_duration_seconds",
            "rnds_drop_pending_rows",
            "rnds_drop_oldest_pending_age_seconds",
            "rnds_drop_certificate_expiry_timestamp_seconds",
        ] {
            assert!(
                text.contains(&format!("# TYPE {name} ")),
                "{name} in\n{text}"
            );
        }
        assert!(text.contains("rnds_drop_rnds_request_duration_seconds_bucket{le=\"+Inf\"} 0"));
        for line in [
            "rnds_drop_rnds_concurrency_limit 5",
            "rnds_drop_rnds_requests_in_flight 3",
            "rnds_drop_rnds_concurrency_ceiling 32",
        ] {
            assert!(text.contains(line), "{line} in\n{text}");
        }
        let expiry = i.certificate_not_after.timestamp();
        assert!(text.contains(&format!(
            "rnds_drop_certificate_expiry_timestamp_seconds {expiry}"
        )));
    }
}
