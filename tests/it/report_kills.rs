//! The service killed at each step around report writing (a failpoint of
//! debug builds stops it dead, like SIGKILL), then restarted: one complete
//! report set per pass, never two, no temporary leftovers, every row
//! stored once, the file moved out of `processando/`.

use std::path::Path;
use std::time::Duration;

use rnds_drop::demo::{drop_file, write_workspace_config};
use rnds_drop::service::{FAILPOINT_EXIT, STAGING_DIR};
use rnds_drop::simulator::{self, SimOptions};

use crate::daemon::{
    exited, export, files_under, json, processed, service, stored, summaries, until,
};

/// Steps in order: mid-pass (temporary files open), set complete in
/// staging, first file of the set moved, set published (source not moved).
const FAILPOINTS: [&str; 4] = [
    "relatorio-parcial",
    "relatorio-preparado",
    "relatorio-meio",
    "relatorio-publicado",
];

fn names(dir: &Path) -> Vec<String> {
    files_under(dir)
        .iter()
        .map(|p| p.strip_prefix(dir).unwrap().to_string_lossy().into_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kills_around_report_writing_leave_one_complete_set_and_no_leftovers() {
    let tmp = tempfile::tempdir().unwrap();
    let sim = simulator::start(SimOptions::new(tmp.path().join("simulador")))
        .await
        .unwrap();
    for (case, failpoint) in FAILPOINTS.iter().enumerate() {
        let root = tmp.path().join(format!("caso{case}"));
        std::fs::create_dir_all(&root).unwrap();
        let (ws, _) = write_workspace_config(sim.files(), &root, 200, "watch").unwrap();
        let prefix = format!("F{case}");
        drop_file(&ws.inbox, "lote.csv", export(&prefix, 8, &[3]).as_bytes()).unwrap();

        let killed = exited(
            service(&ws.config_path, &[("RNDS_DROP_FAILPOINT", failpoint)]),
            Duration::from_secs(60),
        );
        assert_eq!(
            killed.status.code(),
            Some(FAILPOINT_EXIT),
            "{failpoint}: {}",
            String::from_utf8_lossy(&killed.stderr)
        );
        let at_kill = names(&ws.outbox);
        match *failpoint {
            "relatorio-parcial" => assert!(
                at_kill.iter().any(|n| n.ends_with(".tmp")),
                "{failpoint}: temporary files open at the kill: {at_kill:?}"
            ),
            "relatorio-meio" => assert_eq!(
                at_kill
                    .iter()
                    .filter(|n| !n.starts_with(STAGING_DIR))
                    .count(),
                1,
                "{failpoint}: one file published at the kill: {at_kill:?}"
            ),
            "relatorio-publicado" => assert_eq!(summaries(&ws.outbox, "lote").len(), 1),
            _ => assert!(summaries(&ws.outbox, "lote").is_empty()),
        }
        // An older build's leftover is cleaned too.
        std::fs::write(ws.outbox.join(".lote.erros.csv.4242-0.tmp"), b"x").unwrap();

        let mut again = service(&ws.config_path, &[]);
        until(&mut again, Duration::from_secs(60), failpoint, || {
            processed(&ws.inbox, "lote.csv")
        })
        .await;
        // Give a wrong second publication the chance to show.
        tokio::time::sleep(Duration::from_millis(500)).await;
        again.kill().unwrap();
        again.wait().unwrap();

        let reports = summaries(&ws.outbox, "lote");
        assert_eq!(reports.len(), 1, "{failpoint}: {:?}", names(&ws.outbox));
        let set = reports[0]
            .to_string_lossy()
            .trim_end_matches(".resumo.json")
            .to_owned();
        let mut expected: Vec<String> = ["enviados.csv", "erros.csv", "erros.xlsx", "resumo.json"]
            .iter()
            .map(|kind| {
                Path::new(&format!("{set}.{kind}"))
                    .strip_prefix(&ws.outbox)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        expected.sort();
        assert_eq!(names(&ws.outbox), expected, "{failpoint}");
        #[cfg(unix)]
        for report in files_under(&ws.outbox) {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&report).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{}", report.display());
        }
        let s = json(&reports[0]);
        assert_eq!(s["rows_invalid"], 1, "{failpoint}: {s}");
        assert_eq!(
            s["rows_sent"].as_u64().unwrap() + s["rows_already_sent"].as_u64().unwrap(),
            7,
            "{failpoint}: {s}"
        );
        let by_id = stored(&sim, &format!("{prefix}-"));
        assert_eq!(by_id.len(), 7, "{failpoint}");
        assert!(by_id.values().all(|n| *n == 1), "{failpoint}: {by_id:?}");
        assert!(
            files_under(&ws.inbox.join(".rnds-drop/processando")).is_empty(),
            "{failpoint}"
        );
    }
    sim.shutdown().await;
}
