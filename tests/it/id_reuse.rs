//! A lab id the ledger holds for one patient and exam is never used to
//! replace that result with another patient's or another exam's: labs
//! reuse sequence ids, and an automatic replacement would switch patients.
//! Through the real `rnds-drop send`, a day apart, one ledger.

use std::path::Path;
use std::process::Command;

use rnds_drop::demo::write_workspace_config;
use rnds_drop::simulator::{self, SimOptions};

const HEADER: &str =
    "Nº Pedido;Paciente;Cartão SUS;Data da Coleta;Dt. Liberação;Cód. Exame;Resultado;Material;Metodologia\n";

/// `send` of `csv` (named `name`); returns the summary and `erros.csv`.
fn send(config: &Path, out: &Path, name: &str, csv: &str) -> (serde_json::Value, String) {
    let input = out.parent().unwrap().join(name);
    std::fs::write(&input, format!("{HEADER}{csv}")).unwrap();
    let result = Command::new(env!("CARGO_BIN_EXE_rnds-drop"))
        .args(["send", "--config"])
        .arg(config)
        .arg("--out")
        .arg(out)
        .arg(&input)
        .output()
        .expect("the binary runs");
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    let stem = name.trim_end_matches(".csv");
    let summary = crate::daemon::json(&out.join(format!("{stem}.resumo.json")));
    let errors = std::fs::read_to_string(out.join(format!("{stem}.erros.csv"))).unwrap_or_default();
    (summary, errors)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reused_lab_id_never_replaces_another_patients_or_exams_result() {
    let tmp = tempfile::tempdir().unwrap();
    let sim = simulator::start(SimOptions::new(tmp.path().join("simulador")))
        .await
        .unwrap();
    let (ws, _) = write_workspace_config(sim.files(), tmp.path(), 200, "watch").unwrap();
    let config = ws.config_path.clone();
    let out = ws.root.join("relatorios");
    let day = |name: &'static str, csv: &'static str| {
        let (config, out) = (config.clone(), out.clone());
        tokio::task::spawn_blocking(move || send(&config, &out, name, csv))
    };

    let (first, _) = day(
        "dia1.csv",
        "0001;ANA;786570704999622;03/11/2026 08:15;03/11/2026 16:40;94309-2;Detectável;SWNAFA;RT-PCR\n\
         0002;CARLA;759010928159013;03/11/2026 08:20;03/11/2026 16:40;94309-2;Não detectável;SWNAFA;RT-PCR\n",
    )
    .await
    .unwrap();
    assert_eq!(first["rows_sent"], 2, "{first}");
    assert_eq!(sim.documents().len(), 2);

    // Next day the lab reuses 0001 for BRUNO's antigen test and 0002 for
    // CARLA's antigen test; CARLA's RT-PCR... stays as it was.
    let (second, errors) = day(
        "dia2.csv",
        "0001;BRUNO;841224824475771;04/11/2026 09:00;04/11/2026 12:00;94558-4;Não detectável;SWNAFA;Teste rápido\n\
         0002;CARLA;759010928159013;03/11/2026 08:20;03/11/2026 16:40;94558-4;Não detectável;SWNAFA;Teste rápido\n",
    )
    .await
    .unwrap();
    assert_eq!(second["rows_sent"], 0, "{second}");
    assert_eq!(second["rows_replaced"], 0, "{second}");
    assert_eq!(second["rows_rejected"], 2, "{second}");
    assert_eq!(sim.documents().len(), 2, "nothing reached RNDS");
    assert!(sim.documents().iter().all(|d| d.replaces.is_none()));
    let codes: Vec<&str> = second["issues"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["code"].as_str())
        .collect();
    assert_eq!(codes, ["identificador_reutilizado"; 2], "{second}");
    assert_eq!(
        errors.matches("esta linha não foi enviada").count(),
        2,
        "{errors}"
    );
    assert!(errors.contains("outro paciente"), "{errors}");
    assert!(errors.contains("outro exame"), "{errors}");
    assert!(!errors.contains("786570704999622"), "ANA's CNS: {errors}");
    assert!(!errors.contains("renumer"), "{errors}");

    // A real correction (same patient, same exam, result and collection
    // day changed) is still a replacement.
    let (third, _) = day(
        "dia3.csv",
        "0001;ANA;786570704999622;02/11/2026 08:15;03/11/2026 16:40;94309-2;Não detectável;SWNAFA;RT-PCR\n",
    )
    .await
    .unwrap();
    assert_eq!(third["rows_replaced"], 1, "{third}");
    assert_eq!(sim.documents().len(), 3);
    sim.shutdown().await;
}

/// Rows an older version sent carry no patient or exam in the ledger
/// (schema 3): a changed row is refused until the exact content sent is
/// dropped again, which records them; then corrections go through and
/// another patient is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_result_sent_before_identities_were_stored_is_learned_from_its_exact_content() {
    let tmp = tempfile::tempdir().unwrap();
    let sim = simulator::start(SimOptions::new(tmp.path().join("simulador")))
        .await
        .unwrap();
    let (ws, _) = write_workspace_config(sim.files(), tmp.path(), 200, "watch").unwrap();
    let (config, out, ledger) = (
        ws.config_path.clone(),
        ws.root.join("relatorios"),
        ws.ledger,
    );
    let day = |name: &'static str, csv: &'static str| {
        let (config, out) = (config.clone(), out.clone());
        tokio::task::spawn_blocking(move || send(&config, &out, name, csv))
    };
    const ANA: &str =
        "0001;ANA;786570704999622;03/11/2026 08:15;03/11/2026 16:40;94309-2;Detectável;SWNAFA;RT-PCR\n";
    let (first, _) = day("antigo.csv", ANA).await.unwrap();
    assert_eq!(first["rows_sent"], 1, "{first}");
    // What a ledger written before schema 4 holds after the migration.
    let conn = rusqlite::Connection::open(&ledger).unwrap();
    conn.execute(
        "UPDATE results SET subject_hash = NULL, exam_code = NULL",
        [],
    )
    .unwrap();
    drop(conn);

    let (bruno, errors) = day(
        "bruno.csv",
        "0001;BRUNO;841224824475771;04/11/2026 09:00;04/11/2026 12:00;94309-2;Não detectável;SWNAFA;RT-PCR\n",
    )
    .await
    .unwrap();
    assert_eq!(bruno["rows_replaced"], 0, "{bruno}");
    assert_eq!(bruno["rows_rejected"], 1, "{bruno}");
    assert!(errors.contains("versão anterior"), "{errors}");
    assert_eq!(sim.documents().len(), 1);

    let (again, _) = day("antigo_de_novo.csv", ANA).await.unwrap();
    assert_eq!(again["rows_already_sent"], 1, "{again}");
    let (bruno, errors) = day(
        "bruno2.csv",
        "0001;BRUNO;841224824475771;04/11/2026 09:00;04/11/2026 12:00;94309-2;Não detectável;SWNAFA;RT-PCR\n",
    )
    .await
    .unwrap();
    assert_eq!(bruno["rows_rejected"], 1, "{bruno}");
    assert!(errors.contains("outro paciente"), "{errors}");
    let (fixed, _) = day(
        "correcao.csv",
        "0001;ANA;786570704999622;03/11/2026 08:15;03/11/2026 16:40;94309-2;Não detectável;SWNAFA;RT-PCR\n",
    )
    .await
    .unwrap();
    assert_eq!(fixed["rows_replaced"], 1, "{fixed}");
    assert_eq!(sim.documents().len(), 2);
    sim.shutdown().await;
}
