//! Writers that pause longer than `settle_ms`: between rows, in the
//! middle of a row or inside a quoted cell, after the file reached
//! `processados/`, in the middle of
//! a workbook; and an export without a final line break.

use std::io::Write;
use std::time::Duration;

use rnds_drop::demo::drop_file;

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_pausing_longer_than_settle_ms_between_rows_loses_no_row() {
    let mut service = Service::new().await;
    service.start();
    // Four batches of five rows, a pause after each one.
    let parts: Vec<String> = (0..4)
        .map(|batch| {
            let mut text = if batch == 0 {
                HEADER.to_owned()
            } else {
                String::new()
            };
            for i in batch * 5 + 1..=batch * 5 + 5 {
                text.push_str(&row("LENTO", i));
            }
            text
        })
        .collect();
    let writer = slow_writer(service.ws.inbox.join("lento.csv"), parts);
    let claimed = tokio::task::spawn_blocking(move || writer.join().unwrap())
        .await
        .unwrap();
    assert!(
        claimed.iter().any(|c| *c),
        "the file was never claimed while being written: the test proves nothing"
    );

    let reports = service.reports("lento", 1, Duration::from_secs(60)).await;
    // One report with every row: the file was not complete while it changed.
    let s = summary(&reports[0]);
    assert_eq!(count(&s, "rows_total"), 20, "{s}");
    assert_eq!(count(&s, "rows_sent"), 20, "{s}");
    let sent = sent_rows(&reports[0]);
    let expected: Vec<String> = (1..=20).map(|i| lab_id("LENTO", i)).collect();
    assert_eq!(sent.keys().cloned().collect::<Vec<_>>(), expected);
    assert!(sent.values().all(|status| status == "enviado"), "{sent:?}");

    let stored = service.stored();
    assert_eq!(stored.keys().cloned().collect::<Vec<_>>(), expected);
    assert!(stored.values().all(|n| *n == 1), "stored twice: {stored:?}");
    // The archived file holds the 20 rows the report speaks of.
    let archived = service.moved_to("processados", "lento.csv").await;
    let text = std::fs::read_to_string(&archived).unwrap();
    assert_eq!(text.lines().count(), 21);
    service.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_pausing_in_the_middle_of_a_row_never_has_the_half_row_sent() {
    let mut service = Service::new().await;
    service.start();
    // Row 4 is cut before its method ("RT-PCR"): read as it stands it would
    // be valid, with the default method filled in.
    let row4 = row("MEIO", 4);
    let cut = row4.find("RT-PCR").unwrap();
    let mut first = HEADER.to_owned();
    for i in 1..=3 {
        first.push_str(&row("MEIO", i));
    }
    first.push_str(&row4[..cut]);
    let rest = format!("{}{}", &row4[cut..], row("MEIO", 5));
    let writer = slow_writer(service.ws.inbox.join("meio.csv"), vec![first, rest]);
    let claimed = tokio::task::spawn_blocking(move || writer.join().unwrap())
        .await
        .unwrap();
    assert_eq!(
        claimed,
        [true],
        "the file was not claimed during the pause: the test proves nothing"
    );

    let reports = service.reports("meio", 1, Duration::from_secs(60)).await;
    let s = summary(&reports[0]);
    assert_eq!(count(&s, "rows_total"), 5, "{s}");
    assert_eq!(count(&s, "rows_sent"), 5, "{s}");

    let documents = service.sim().documents();
    let mut ids: Vec<&str> = documents.iter().map(|d| d.lab_id.as_str()).collect();
    ids.sort_unstable();
    let expected: Vec<String> = (1..=5).map(|i| lab_id("MEIO", i)).collect();
    assert_eq!(ids, expected, "every row once, no replacement");
    assert!(documents.iter().all(|d| d.replaces.is_none()));
    for d in &documents {
        assert_eq!(
            method_text(&d.bundle).as_deref(),
            Some("RT-PCR"),
            "{} carries the file's method",
            d.lab_id
        );
    }
    service.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_written_to_after_it_reached_processados_is_read_again() {
    let mut service = Service::new().await;
    service.start();
    let path = service.ws.inbox.join("depois.csv");
    let mut file = std::fs::File::create(&path).unwrap();
    let mut text = HEADER.to_owned();
    for i in 1..=5 {
        text.push_str(&row("DEPOIS", i));
    }
    file.write_all(text.as_bytes()).unwrap();
    file.flush().unwrap();

    let first = service.reports("depois", 1, Duration::from_secs(30)).await;
    assert_eq!(count(&summary(&first[0]), "rows_sent"), 5);
    let archived = service.moved_to("processados", "depois.csv").await;

    // The writer still holds the file: its next rows land in processados/.
    let mut more = String::new();
    for i in 6..=8 {
        more.push_str(&row("DEPOIS", i));
    }
    file.write_all(more.as_bytes()).unwrap();
    file.flush().unwrap();
    assert_eq!(
        std::fs::read_to_string(&archived).unwrap().lines().count(),
        9
    );

    let reports = service.reports("depois", 2, Duration::from_secs(60)).await;
    let second = summary(&reports[1]);
    assert_eq!(count(&second, "rows_total"), 8, "{second}");
    assert_eq!(count(&second, "rows_sent"), 3, "{second}");
    assert_eq!(count(&second, "rows_already_sent"), 5, "{second}");
    let sent = sent_rows(&reports[1]);
    assert_eq!(sent["DEPOIS-0006"], "enviado");
    assert!(sent["DEPOIS-0001"].starts_with("já enviado"), "{sent:?}");

    let stored = service.stored();
    let expected: Vec<String> = (1..=8).map(|i| lab_id("DEPOIS", i)).collect();
    assert_eq!(stored.keys().cloned().collect::<Vec<_>>(), expected);
    assert!(stored.values().all(|n| *n == 1), "stored twice: {stored:?}");
    drop(file);
    service.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_without_a_final_line_break_is_read_whole_once_quiet() {
    let mut service = Service::new().await;
    service.start();
    let mut text = HEADER.to_owned();
    text.push_str(&row("SEMFIM", 1));
    text.push_str(row("SEMFIM", 2).trim_end());
    drop_file(&service.ws.inbox, "semfim.csv", text.as_bytes()).unwrap();
    let reports = service.reports("semfim", 1, Duration::from_secs(30)).await;
    let s = summary(&reports[0]);
    assert_eq!(count(&s, "rows_total"), 2, "{s}");
    assert_eq!(count(&s, "rows_sent"), 2, "{s}");
    let documents = service.sim().documents();
    assert_eq!(documents.len(), 2);
    assert!(documents
        .iter()
        .all(|d| method_text(&d.bundle).as_deref() == Some("RT-PCR")));
    service.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workbook_copied_with_a_pause_is_read_once_complete_not_failed() {
    let mut service = Service::new().await;
    service.start();
    let book = rnds_drop::demo::example_xlsx().unwrap();
    let half = book.len() / 2;
    let parts = [book[..half].to_vec(), book[half..].to_vec()];
    let path = service.ws.inbox.join("copia.xlsx");
    let writer = std::thread::spawn(move || {
        let mut file = std::fs::File::create(&path).unwrap();
        file.write_all(&parts[0]).unwrap();
        file.flush().unwrap();
        std::thread::sleep(PAUSE);
        let claimed = !path.exists();
        file.write_all(&parts[1]).unwrap();
        file.flush().unwrap();
        claimed
    });
    let claimed = tokio::task::spawn_blocking(move || writer.join().unwrap())
        .await
        .unwrap();
    assert!(
        claimed,
        "not claimed during the pause: the test proves nothing"
    );

    let reports = service.reports("copia", 1, Duration::from_secs(30)).await;
    let s = summary(&reports[0]);
    assert!(s["error"].is_null(), "{s}");
    assert_eq!(count(&s, "rows_sent"), 2, "{s}");
    assert_eq!(count(&s, "rows_invalid"), 1, "{s}");
    service.moved_to("processados", "copia.xlsx").await;
    assert!(crate::daemon::files_under(&service.work("falhas")).is_empty());
    service.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_pausing_inside_a_quoted_cell_never_has_the_half_row_sent() {
    let mut service = Service::new().await;
    service.start();
    // The observation cell of row 4 spans two lines; the writer pauses
    // after its first line break, inside the open quote. Read as it
    // stands, row 4 ends there and `[defaults]` would fill its exam,
    // specimen and method.
    let header = "Nº Pedido;Paciente;Cartão SUS;Data da Coleta;Dt. Liberação;Resultado;Observação;Cód. Exame;Material;Metodologia\n";
    let full = |i: usize| {
        format!(
            "{};PACIENTE {i};{};03/11/2026 08:15;03/11/2026 16:40;Não detectável;;94309-2;SWNAFA;RT-PCR\n",
            lab_id("ASPAS", i),
            CNS[i % CNS.len()]
        )
    };
    let mut first = header.to_owned();
    for i in 1..=3 {
        first.push_str(&full(i));
    }
    first.push_str(&format!(
        "{};PACIENTE 4;{};03/11/2026 08:15;03/11/2026 16:40;Detectável;\"coleta repetida\n",
        lab_id("ASPAS", 4),
        CNS[4]
    ));
    let rest = format!("em 04/11\";94309-2;SWNAFA;RT-PCR\n{}", full(5));
    let writer = slow_writer(service.ws.inbox.join("aspas.csv"), vec![first, rest]);
    let claimed = tokio::task::spawn_blocking(move || writer.join().unwrap())
        .await
        .unwrap();
    assert_eq!(
        claimed,
        [true],
        "the file was not claimed during the pause: the test proves nothing"
    );

    let reports = service.reports("aspas", 1, Duration::from_secs(60)).await;
    let s = summary(&reports[0]);
    assert_eq!(count(&s, "rows_sent"), 5, "{s}");
    let documents = service.sim().documents();
    let mut ids: Vec<&str> = documents.iter().map(|d| d.lab_id.as_str()).collect();
    ids.sort_unstable();
    let expected: Vec<String> = (1..=5).map(|i| lab_id("ASPAS", i)).collect();
    assert_eq!(ids, expected, "every row once, no replacement");
    assert!(documents.iter().all(|d| d.replaces.is_none()));
    for d in &documents {
        assert_eq!(
            method_text(&d.bundle).as_deref(),
            Some("RT-PCR"),
            "{}",
            d.lab_id
        );
    }
    service.stop();
}
