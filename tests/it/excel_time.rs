//! Excel stores `25/10/2021 13:00` as 44494.54166666666; versions before
//! the rounding fix read it as 12:59:59 and derived the lab id from that.
//! The instant must now be exact, and a sheet sent by those versions must
//! not become second RNDS documents when dropped again.

use std::path::{Path, PathBuf};

use rnds_drop::check::check_file;
use rnds_drop::demo::write_workspace_config;
use rnds_drop::service::send_files;
use rnds_drop::simulator::{self, SimOptions};
use rust_xlsxwriter::{Format, Workbook};

use crate::harness;

const HEADER: [&str; 7] = [
    "Cartão SUS",
    "Data da Coleta",
    "Dt. Liberação",
    "Cód. Exame",
    "Resultado",
    "Material",
    "Metodologia",
];
const CNS: &str = "759010928159013";
/// 25/10/2021 13:00 as Excel stores it.
const STORED_13H: f64 = 44_494.541_666_666_66;

/// The typed spreadsheet: no id column (the lab id is derived), the
/// collection a stored date-time, the rest text.
fn typed_workbook(path: &Path) {
    let mut workbook = Workbook::new();
    let moment = Format::new().set_num_format("dd/mm/yyyy hh:mm");
    let sheet = workbook.add_worksheet();
    for (column, header) in HEADER.iter().enumerate() {
        sheet.write_string(0, column as u16, *header).unwrap();
    }
    sheet.write_string(1, 0, CNS).unwrap();
    sheet
        .write_number_with_format(1, 1, STORED_13H, &moment)
        .unwrap();
    for (column, text) in [
        "26/10/2021 10:00",
        "94309-2",
        "Detectável",
        "Swab nasofaríngeo",
        "RT-PCR",
    ]
    .iter()
    .enumerate()
    {
        sheet.write_string(1, column as u16 + 2, *text).unwrap();
    }
    workbook.save(path).unwrap();
}

/// The same row as the versions before the fix read it.
fn as_read_before_the_fix(path: &Path) {
    let row = format!(
        "{CNS};2021-10-25 12:59:59;26/10/2021 10:00;94309-2;Detectável;Swab nasofaríngeo;RT-PCR"
    );
    std::fs::write(path, format!("{}\n{row}\n", HEADER.join(";"))).unwrap();
}

#[test]
fn a_typed_workbook_gives_the_exact_instant() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("digitada.xlsx");
    typed_workbook(&input);
    let checked = check_file(&input, &harness::job(), dir.path(), &mut |_| {}).unwrap();
    assert_eq!(
        checked.summary.rows_valid, 1,
        "{:?}",
        checked.summary.issues
    );
    let bundles = std::fs::read_to_string(&checked.bundles).unwrap();
    assert!(
        bundles.contains("\"2021-10-25T13:00:00-03:00\""),
        "{bundles}"
    );
    assert!(!bundles.contains("12:59:59"), "{bundles}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sheet_sent_before_the_fix_is_not_sent_as_a_new_document() {
    let tmp = tempfile::tempdir().unwrap();
    let sim = simulator::start(SimOptions::new(tmp.path().join("simulador")))
        .await
        .unwrap();
    let (ws, config) = write_workspace_config(sim.files(), tmp.path(), 200, "watch").unwrap();
    let out = ws.root.join("relatorios");
    let mut progress = |_: usize, _: u64| {};
    let send = |file: PathBuf| {
        let config = config.clone();
        let out = out.clone();
        async move {
            let mut progress = |_: usize, _: u64| {};
            send_files(&config, &[file], &out, &mut progress)
                .await
                .unwrap()
                .remove(0)
                .summary
        }
    };

    // What an older version sent: the ledger holds the id it derived.
    let before = ws.root.join("antes.csv");
    as_read_before_the_fix(&before);
    let first = send_files(&config, &[before], &out, &mut progress)
        .await
        .unwrap();
    assert_eq!(first[0].summary.rows_sent, Some(1));
    let old = sim.documents();
    assert_eq!(old.len(), 1);

    // The same sheet dropped again: the same document, its instant
    // corrected by a replacement, never a second document.
    let sheet = ws.root.join("planilha.xlsx");
    typed_workbook(&sheet);
    let again = send(sheet.clone()).await;
    assert_eq!(again.rows_sent, Some(0), "{:?}", again.issues);
    assert_eq!(again.rows_replaced, Some(1));
    let docs = sim.documents();
    assert_eq!(docs.len(), 2);
    assert!(docs.iter().all(|d| d.lab_id == old[0].lab_id), "{docs:?}");
    assert_eq!(docs[1].replaces.as_deref(), Some(old[0].rnds_id.as_str()));

    // And once more: already sent, nothing goes out.
    let third = send(sheet).await;
    assert_eq!(third.rows_already_sent, Some(1));
    assert_eq!(third.rows_replaced, Some(0));
    assert_eq!(sim.documents().len(), 2);
    sim.shutdown().await;
}
