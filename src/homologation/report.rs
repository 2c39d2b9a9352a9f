//! The homologation report a lab manager attaches to the DATASUS request:
//! one self-contained HTML page (prints on A4) and the same table in XLSX.

use std::fmt::Write;

use rust_xlsxwriter::{Format, Workbook, XlsxError};

use super::{Expected, HomologationReport, TEST_PATIENT_CNS, TEST_PATIENT_NAME};

fn esc(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn expected_text(e: Expected) -> &'static str {
    match e {
        Expected::Accepted => "aceito",
        Expected::Rejected => "recusado com OperationOutcome",
    }
}

/// OperationOutcome diagnostics (or codes), one line each.
fn outcome_lines(value: &serde_json::Value) -> Vec<String> {
    value["issue"]
        .as_array()
        .map(|issues| {
            issues
                .iter()
                .map(|i| {
                    let code = i["details"]["coding"][0]["code"].as_str().unwrap_or("");
                    let text = i["diagnostics"]
                        .as_str()
                        .or(i["details"]["text"].as_str())
                        .unwrap_or("");
                    format!("{} {code} {text}", i["severity"].as_str().unwrap_or(""))
                        .trim()
                        .to_string()
                })
                .collect()
        })
        .unwrap_or_default()
}

/// `08:24:54.544` from `2026-12-01T08:24:54.544-03:00` (the date and the
/// offset are in the report's header).
fn clock(stamp: &str) -> &str {
    let time = stamp.split_once('T').map_or(stamp, |(_, t)| t);
    time.get(..12).unwrap_or(time)
}

pub(super) fn html(r: &HomologationReport) -> String {
    let mut o = String::with_capacity(8192);
    let verdict = if r.all_passed {
        "<p class=ok>✓ Todos os cenários tiveram o resultado esperado.</p>"
    } else {
        "<p class=bad>✗ Algum cenário não teve o resultado esperado: veja a tabela.</p>"
    };
    let _ = write!(
        o,
        r#"<!DOCTYPE html>
<html lang="pt-BR"><head><meta charset="utf-8">
<title>Evidências de homologação RNDS — CNES {cnes}</title>
<style>
body {{ font-family: "DejaVu Sans", Arial, sans-serif; margin: 2em; color: #222; font-size: 14px; }}
h1 {{ font-size: 22px; margin-bottom: 0.2em; }}
table {{ border-collapse: collapse; width: 100%; margin-top: 1em; }}
th, td {{ border: 1px solid #999; padding: 6px 8px; text-align: left; vertical-align: top; }}
th {{ background: #e8eef5; }}
dl {{ display: grid; grid-template-columns: max-content auto; gap: 4px 16px; }}
dt {{ font-weight: bold; }}
.ok {{ color: #1a6b1a; font-weight: bold; }}
.bad {{ color: #a01010; font-weight: bold; }}
.note {{ font-size: 12px; color: #555; }}
.rehearsal {{ border: 3px solid #a01010; padding: 8px 12px; color: #a01010; font-weight: bold; font-size: 16px; }}
code {{ font-size: 12px; }}
</style></head><body>
<h1>Evidências de homologação — RNDS (resultado de exame SARS-CoV-2)</h1>
{rehearsal}<p>Gerado por rnds-drop em {finished}. Pasta: <code>{folder}</code></p>
{verdict}
<dl>
<dt>Ambiente</dt><dd>{env} — <code>{url}</code></dd>
<dt>CNES</dt><dd>{cnes}</dd>
<dt>Identificador do solicitante</dt><dd>{req}</dd>
<dt>Perfis</dt><dd>{profile}</dd>
<dt>Certificado (titular)</dt><dd>{subject}</dd>
<dt>Autoridade certificadora</dt><dd>{issuer}</dd>
<dt>Validade do certificado</dt><dd>{nb} até {na}</dd>
<dt>Início / fim</dt><dd>{started} / {finished}</dd>
</dl>
<table>
<tr><th>#</th><th>Cenário</th><th>Identificador</th><th>Esperado</th><th>HTTP</th><th>ID RNDS / resposta</th><th>Enviado / respondido (hora local)</th><th>OK</th></tr>
"#,
        rehearsal = r
            .rehearsal_notice()
            .map(|text| format!("<p class=rehearsal>{}</p>\n", esc(text)))
            .unwrap_or_default(),
        cnes = esc(&r.cnes),
        finished = esc(&r.finished_at),
        started = esc(&r.started_at),
        folder = esc(&r.folder.display().to_string()),
        env = esc(&r.environment),
        url = esc(&r.ehr_url),
        req = esc(&r.requester_id),
        profile = esc(&r.profile),
        subject = esc(&r.certificate.subject),
        issuer = esc(&r.certificate.issuer),
        nb = r.certificate.not_before.format("%d/%m/%Y"),
        na = r.certificate.not_after.format("%d/%m/%Y"),
    );
    for e in &r.evidences {
        let mut answer = match (&e.rnds_id, &e.operation_outcome) {
            (Some(id), _) => format!("<code>{}</code>", esc(id)),
            (None, Some(_)) => "recusado pela RNDS".to_string(),
            (None, None) => esc(&e.outcome),
        };
        if let Some(replaced) = &e.replaces {
            let _ = write!(answer, "<br>substitui <code>{}</code>", esc(replaced));
        }
        if let Some(oo) = &e.operation_outcome {
            for line in outcome_lines(oo) {
                let _ = write!(answer, "<br>OperationOutcome: {}", esc(&line));
            }
        }
        let _ = writeln!(
            o,
            "<tr><td>{key}</td><td>{title}<br><span class=note>{file}</span></td><td><code>{lab}</code></td><td>{exp}</td><td>{status}</td><td>{answer}</td><td>{sent}<br>{ans}</td><td class={class}>{mark}</td></tr>",
            key = esc(&e.key[..2]),
            title = esc(&e.title),
            file = esc(&e.request_file),
            lab = esc(&e.lab_id),
            exp = expected_text(e.expected),
            status = e.http_status.map_or("—".to_string(), |s| s.to_string()),
            sent = esc(clock(&e.sent_at)),
            ans = esc(clock(&e.answered_at)),
            class = if e.passed { "ok" } else { "bad" },
            mark = if e.passed { "✓" } else { "✗" },
        );
    }
    let _ = write!(
        o,
        r#"</table>
<p class=note>Dados de teste: paciente fictício "{name}", CNS de teste {cns}; identificadores HMG-… criados só para esta homologação.
Nenhuma senha ou token consta desta pasta. Cada requisição está em <code>NN-cenário.requisicao.json</code> e cada resposta
(status HTTP, ID RNDS, OperationOutcome, horários) em <code>NN-cenário.resposta.json</code>; tudo junto em <code>evidencias.json</code>.</p>
</body></html>
"#,
        name = esc(TEST_PATIENT_NAME),
        cns = TEST_PATIENT_CNS,
    );
    o
}

pub(super) fn xlsx(r: &HomologationReport) -> Result<Vec<u8>, XlsxError> {
    let mut workbook = Workbook::new();
    let bold = Format::new().set_bold();
    let ws = workbook.add_worksheet();
    ws.set_name("Homologação RNDS")?;
    let rehearsal = r.rehearsal_notice().map(|text| ("Aviso", text.to_string()));
    let facts = [
        ("Ambiente", format!("{} ({})", r.environment, r.ehr_url)),
        ("CNES", r.cnes.clone()),
        ("Identificador do solicitante", r.requester_id.clone()),
        ("Perfis", r.profile.clone()),
        ("Certificado (titular)", r.certificate.subject.clone()),
        ("Autoridade certificadora", r.certificate.issuer.clone()),
        (
            "Validade do certificado",
            format!(
                "{} até {}",
                r.certificate.not_before.format("%d/%m/%Y"),
                r.certificate.not_after.format("%d/%m/%Y")
            ),
        ),
        ("Início", lab_time(&r.started_at)),
        ("Fim", lab_time(&r.finished_at)),
        (
            "Resultado",
            if r.all_passed {
                "todos os cenários como esperado".into()
            } else {
                "algum cenário diferente do esperado".into()
            },
        ),
        (
            "Dados de teste",
            format!("paciente fictício {TEST_PATIENT_NAME}, CNS de teste {TEST_PATIENT_CNS}"),
        ),
    ];
    let facts: Vec<_> = rehearsal.into_iter().chain(facts).collect();
    // Widest text per column (facts and table), for the widths below.
    let mut widths = [0usize; 13];
    let mut fit = |col: usize, text: &str| {
        if let Some(w) = widths.get_mut(col) {
            *w = (*w).max(text.chars().count());
        }
    };
    for (row, (label, value)) in facts.iter().enumerate() {
        ws.write_string_with_format(row as u32, 0, *label, &bold)?;
        ws.write_string(row as u32, 1, value)?;
        fit(0, label);
    }
    let header_row = facts.len() as u32 + 1;
    let headers = [
        "Cenário",
        "Descrição",
        "Identificador",
        "Esperado",
        "HTTP",
        "ID RNDS",
        "Substitui",
        "Resposta",
        "OperationOutcome",
        "Enviado",
        "Respondido",
        "OK",
        "Requisição",
    ];
    for (col, h) in headers.iter().enumerate() {
        ws.write_string_with_format(header_row, col as u16, *h, &bold)?;
        fit(col, h);
    }
    for (i, e) in r.evidences.iter().enumerate() {
        let row = header_row + 1 + i as u32;
        let oo = e
            .operation_outcome
            .as_ref()
            .map(|v| outcome_lines(v).join("; "))
            .unwrap_or_default();
        let cells = [
            e.key.clone(),
            e.title.clone(),
            e.lab_id.clone(),
            expected_text(e.expected).to_string(),
            e.http_status.map_or(String::new(), |s| s.to_string()),
            e.rnds_id.clone().unwrap_or_default(),
            e.replaces.clone().unwrap_or_default(),
            e.outcome.clone(),
            oo,
            lab_time(&e.sent_at),
            lab_time(&e.answered_at),
            if e.passed { "sim" } else { "NÃO" }.to_string(),
            e.request_file.clone(),
        ];
        for (col, text) in cells.iter().enumerate() {
            ws.write_string(row, col as u16, text)?;
            fit(col, text);
        }
    }
    // Every column as wide as its text (within bounds: a long answer wraps
    // in Excel's cell view rather than push the sheet).
    for (col, width) in widths.iter().enumerate() {
        ws.set_column_width(col as u16, (width + 2).clamp(8, 60) as f64)?;
    }
    workbook.save_to_buffer()
}

/// An RFC 3339 instant (`2026-12-07T19:10:03.123-03:00`) as the lab reads
/// it: `07/12/2026 19:10:03` in the instant's own offset (the lab's zone);
/// the text as it is when it does not parse.
fn lab_time(instant: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(instant)
        .map(|t| t.format("%d/%m/%Y %H:%M:%S").to_string())
        .unwrap_or_else(|_| instant.to_owned())
}
