// The ledger's behaviour, run on each backend: `super::on_sqlite` and
// `super::on_postgres` include this file with their own `open` (the
// ledger a test folder names, the same one when opened again) and `skip`.

use std::path::Path;

use super::*;

fn a_file(ledger: &mut Ledger, sha: &str) -> FileId {
    ledger
        .record_file(&NewFile {
            sha256: sha,
            name: "exames 2026-11-25.csv",
            inbox: Path::new("/srv/entrada"),
            work_path: Path::new("/srv/entrada/.rnds-drop/processando/exames 2026-11-25.csv"),
        })
        .unwrap()
}

/// A file recorded under `name` (a re-drop has the name of an earlier one).
fn a_file_named(ledger: &mut Ledger, sha: &str, name: &str) -> FileId {
    ledger
        .record_file(&NewFile {
            sha256: sha,
            name,
            inbox: Path::new("/srv/entrada"),
            work_path: &Path::new("/srv/entrada/.rnds-drop/processando").join(name),
        })
        .unwrap()
}

/// Invalid rows still waiting: in all, and (file name, rows) per file.
fn uncorrected(ledger: &Ledger) -> (u64, Vec<(String, u64)>) {
    let now = chrono::Utc::now();
    let s = ledger.reader().snapshot(now, now, 10).unwrap();
    let files = s.uncorrected_files.into_iter().map(|f| (f.name, f.rows));
    (s.rows_uncorrected, files.collect())
}

fn intent(lab_id: &str, hash: &str, file_id: FileId, line: u64, replaces: Option<&str>) -> Intent {
    Intent {
        lab_id: lab_id.into(),
        content_hash: hash.into(),
        file_id,
        line,
        replaces: replaces.map(str::to_owned),
        identity: super::Identity {
            subject_hash: "paciente".into(),
            exam_code: "94309-2".into(),
        },
    }
}

fn send(ledger: &mut Ledger, intent: Intent, outcome: LedgerOutcome) {
    let lab_id = intent.lab_id.clone();
    ledger.begin_sending(&[intent]).unwrap();
    ledger.record_outcomes(&[(lab_id, outcome)]).unwrap();
}

fn accepted(id: &str) -> LedgerOutcome {
    LedgerOutcome::Accepted { rnds_id: id.into() }
}

#[test]
fn a_ledger_can_move_to_another_thread() {
    fn assert_send<T: Send>() {}
    assert_send::<Ledger>();
}

#[test]
fn reopening_keeps_files_results_and_history() {
    if skip() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file_id = {
        let mut ledger = open(dir.path());
        let file_id = a_file(&mut ledger, "aa11");
        send(
            &mut ledger,
            intent("LAB-1", "h1", file_id, 2, None),
            accepted("rnds-1"),
        );
        ledger
            .finish_file(
                file_id,
                FileState::Processed,
                Path::new("/srv/processados/x.csv"),
            )
            .unwrap();
        ledger
            .add_report(file_id, "resumo", Path::new("/srv/saida/x.resumo.json"))
            .unwrap();
        file_id
    };
    let ledger = open(dir.path());
    let row = ledger.get("LAB-1").unwrap().unwrap();
    assert_eq!(row.state, ResultState::Accepted);
    assert_eq!(row.rnds_id.as_deref(), Some("rnds-1"));
    assert_eq!((row.file_id, row.line), (file_id, 2));
    let file = ledger.file_by_sha256("aa11").unwrap().unwrap();
    assert_eq!(file.id, file_id);
    assert_eq!(file.state, FileState::Processed);
    assert_eq!(
        file.stored_path.as_deref(),
        Some(Path::new("/srv/processados/x.csv"))
    );
    assert_eq!(file.reports.len(), 1);
    assert!(file.finished_at.is_some());
    assert_eq!(ledger.history("LAB-1").unwrap().len(), 1);
    assert!(ledger.file_by_sha256("bb22").unwrap().is_none());
}

#[test]
fn an_unseen_lab_id_is_new() {
    if skip() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(
        open(dir.path()).decide("LAB-1", "h1").unwrap(),
        Decision::New
    );
}

#[test]
fn accepted_with_the_same_content_is_already_sent_and_changed_content_is_a_replacement() {
    if skip() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut ledger = open(dir.path());
    let f = a_file(&mut ledger, "aa");
    send(
        &mut ledger,
        intent("LAB-1", "h1", f, 2, None),
        accepted("rnds-1"),
    );
    let sent_at = ledger.get("LAB-1").unwrap().unwrap().sent_at.unwrap();
    assert_eq!(
        ledger.decide("LAB-1", "h1").unwrap(),
        Decision::AlreadySent {
            rnds_id: Some("rnds-1".into()),
            sent_at
        }
    );
    assert_eq!(
        ledger.decide("LAB-1", "h2").unwrap(),
        Decision::Replace {
            current_rnds_id: "rnds-1".into()
        }
    );
    // The replacement's new id is the one to target next time.
    send(
        &mut ledger,
        intent("LAB-1", "h2", f, 2, Some("rnds-1")),
        accepted("rnds-2"),
    );
    assert_eq!(
        ledger.decide("LAB-1", "h3").unwrap(),
        Decision::Replace {
            current_rnds_id: "rnds-2".into()
        }
    );
    let history = ledger.history("LAB-1").unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(history[1].1.as_deref(), Some("rnds-2"));
    assert_eq!(history[1].2.as_deref(), Some("rnds-1"));
}

#[test]
fn accepted_with_unknown_id_needs_manual_reconciliation_when_content_changes() {
    if skip() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut ledger = open(dir.path());
    let f = a_file(&mut ledger, "aa");
    send(
        &mut ledger,
        intent("LAB-1", "h1", f, 2, None),
        LedgerOutcome::AcceptedIdUnknown,
    );
    assert!(matches!(
        ledger.decide("LAB-1", "h1").unwrap(),
        Decision::AlreadySent { rnds_id: None, .. }
    ));
    assert_eq!(
        ledger.decide("LAB-1", "h2").unwrap(),
        Decision::NeedsManualReconciliation
    );
}

#[test]
fn sending_and_unknown_are_unresolved() {
    if skip() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut ledger = open(dir.path());
    let f = a_file(&mut ledger, "aa");
    ledger
        .begin_sending(&[
            intent("LAB-1", "h1", f, 2, None),
            intent("LAB-2", "h2", f, 3, None),
        ])
        .unwrap();
    ledger
        .record_outcomes(&[(
            "LAB-2".into(),
            LedgerOutcome::Unknown {
                message: "tempo esgotado".into(),
            },
        )])
        .unwrap();
    assert_eq!(ledger.decide("LAB-1", "h1").unwrap(), Decision::Unresolved);
    assert_eq!(
        ledger.decide("LAB-2", "other").unwrap(),
        Decision::Unresolved
    );
}

#[test]
fn pending_is_retried_and_keeps_the_id_to_replace() {
    if skip() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut ledger = open(dir.path());
    let f = a_file(&mut ledger, "aa");
    let pending = || LedgerOutcome::Pending {
        message: "503".into(),
    };
    send(&mut ledger, intent("LAB-1", "h1", f, 2, None), pending());
    assert_eq!(
        ledger.decide("LAB-1", "h1").unwrap(),
        Decision::RetryPending { replaces: None }
    );
    send(&mut ledger, intent("LAB-1", "h1", f, 2, None), pending());
    let row = ledger.get("LAB-1").unwrap().unwrap();
    assert_eq!((row.state, row.attempts), (ResultState::Pending, 2));
    assert_eq!(row.last_error.as_deref(), Some("503"));

    send(
        &mut ledger,
        intent("LAB-2", "h1", f, 3, None),
        accepted("rnds-9"),
    );
    send(
        &mut ledger,
        intent("LAB-2", "h2", f, 3, Some("rnds-9")),
        pending(),
    );
    assert_eq!(
        ledger.decide("LAB-2", "h2").unwrap(),
        Decision::RetryPending {
            replaces: Some("rnds-9".into())
        }
    );
}

#[test]
fn rejected_is_a_new_attempt_unless_rnds_holds_an_earlier_version() {
    if skip() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut ledger = open(dir.path());
    let f = a_file(&mut ledger, "aa");
    let rejected = || LedgerOutcome::Rejected {
        message: "EHR-ERR924".into(),
    };
    send(&mut ledger, intent("LAB-1", "h1", f, 2, None), rejected());
    assert_eq!(ledger.decide("LAB-1", "h1").unwrap(), Decision::New);
    assert_eq!(ledger.decide("LAB-1", "h2").unwrap(), Decision::New);

    // A rejected correction: RNDS still holds the first version.
    send(
        &mut ledger,
        intent("LAB-2", "h1", f, 3, None),
        accepted("rnds-5"),
    );
    send(
        &mut ledger,
        intent("LAB-2", "h2", f, 3, Some("rnds-5")),
        rejected(),
    );
    assert_eq!(
        ledger.decide("LAB-2", "h3").unwrap(),
        Decision::Replace {
            current_rnds_id: "rnds-5".into()
        }
    );
    assert!(matches!(
        ledger.decide("LAB-2", "h1").unwrap(),
        Decision::AlreadySent { rnds_id: Some(id), .. } if id == "rnds-5"
    ));
}

#[test]
fn begin_sending_refuses_a_second_document_and_rows_in_flight() {
    if skip() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut ledger = open(dir.path());
    let f = a_file(&mut ledger, "aa");
    send(
        &mut ledger,
        intent("LAB-1", "h1", f, 2, None),
        accepted("rnds-1"),
    );
    ledger
        .begin_sending(&[intent("LAB-2", "h1", f, 3, None)])
        .unwrap();

    for bad in [
        intent("LAB-1", "h2", f, 2, None), // would create a second document
        intent("LAB-1", "h2", f, 2, Some("rnds-old")), // replaces the wrong version
        intent("LAB-2", "h1", f, 3, None), // still in flight
    ] {
        let batch = [intent("LAB-3", "h3", f, 4, None), bad];
        let err = ledger.begin_sending(&batch).err().unwrap();
        assert!(matches!(err, LedgerError::NotSendable { .. }), "{err}");
        // The whole batch was rolled back.
        assert!(ledger.get("LAB-3").unwrap().is_none());
    }
    assert_eq!(
        ledger.get("LAB-1").unwrap().unwrap().state,
        ResultState::Accepted
    );
}

#[test]
fn an_outcome_without_intent_is_reported_and_the_others_are_kept() {
    if skip() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut ledger = open(dir.path());
    let f = a_file(&mut ledger, "aa");
    ledger
        .begin_sending(&[intent("LAB-1", "h1", f, 2, None)])
        .unwrap();
    let err = ledger
        .record_outcomes(&[
            ("LAB-1".into(), accepted("rnds-1")),
            ("LAB-X".into(), accepted("rnds-2")),
        ])
        .err()
        .unwrap();
    assert!(matches!(err, LedgerError::OutcomeWithoutIntent(ids) if ids == ["LAB-X"]));
    assert_eq!(
        ledger.get("LAB-1").unwrap().unwrap().state,
        ResultState::Accepted
    );
}

#[test]
fn a_crash_after_begin_sending_leaves_unresolved_rows_on_reopen() {
    if skip() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    {
        let mut ledger = open(dir.path());
        let f = a_file(&mut ledger, "aa");
        send(
            &mut ledger,
            intent("LAB-0", "h0", f, 1, None),
            accepted("rnds-0"),
        );
        let batch: Vec<Intent> = (1..=3)
            .map(|i| intent(&format!("LAB-{i}"), "h", f, i + 1, None))
            .collect();
        ledger.begin_sending(&batch).unwrap();
        // The process dies here: no outcomes.
    }
    let ledger = open(dir.path());
    let ids: Vec<String> = ledger
        .unresolved()
        .unwrap()
        .into_iter()
        .map(|r| r.lab_id)
        .collect();
    assert_eq!(ids, ["LAB-1", "LAB-2", "LAB-3"]);
    assert!(ledger.pending().unwrap().is_empty());
    let counts = ledger.counts(None).unwrap();
    assert_eq!((counts.sending, counts.accepted), (3, 1));
}

#[test]
fn lost_answers_are_unresolved_and_transient_failures_pending() {
    if skip() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut ledger = open(dir.path());
    let f = a_file(&mut ledger, "aa");
    let g = a_file(&mut ledger, "bb");
    ledger
        .begin_sending(&[
            intent("LAB-1", "h", f, 2, None),
            intent("LAB-2", "h", g, 3, None),
        ])
        .unwrap();
    ledger
        .record_outcomes(&[
            (
                "LAB-1".into(),
                LedgerOutcome::Unknown {
                    message: "conexão perdida".into(),
                },
            ),
            (
                "LAB-2".into(),
                LedgerOutcome::Pending {
                    message: "429".into(),
                },
            ),
        ])
        .unwrap();
    assert_eq!(ledger.unresolved().unwrap()[0].lab_id, "LAB-1");
    assert_eq!(ledger.pending().unwrap()[0].lab_id, "LAB-2");
    assert_eq!(ledger.counts(Some(f)).unwrap().unknown, 1);
    assert_eq!(ledger.counts(Some(f)).unwrap().pending, 0);
    assert_eq!(ledger.results_of_file(g).unwrap().len(), 1);
    // Resolution: the identifier lookup found the document.
    ledger
        .record_outcomes(&[("LAB-1".into(), accepted("rnds-1"))])
        .unwrap();
    assert!(ledger.unresolved().unwrap().is_empty());
}

#[test]
fn a_reader_thread_runs_while_batches_are_written() {
    if skip() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut writer = open(dir.path());
    let f = a_file(&mut writer, "aa");
    let reader_dir = dir.path().to_path_buf();
    let reader = std::thread::spawn(move || {
        let reader = open(&reader_dir);
        let mut seen = 0;
        while seen < 2_000 {
            let counts = reader.counts(None).unwrap();
            // Batches are atomic: never a half-recorded batch.
            assert_eq!((counts.sending + counts.accepted) % 100, 0);
            seen = counts.accepted;
        }
    });
    for batch in 0..20 {
        let intents: Vec<Intent> = (0..100)
            .map(|i| intent(&format!("LAB-{batch}-{i}"), "h", f, i + 2, None))
            .collect();
        writer.begin_sending(&intents).unwrap();
        let outcomes: Vec<(String, LedgerOutcome)> = intents
            .iter()
            .map(|i| (i.lab_id.clone(), accepted(&format!("rnds-{}", i.lab_id))))
            .collect();
        writer.record_outcomes(&outcomes).unwrap();
    }
    reader.join().unwrap();
}

#[test]
fn after_a_restart_an_interrupted_first_send_may_be_resent_only_with_the_same_content() {
    if skip() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    {
        let mut ledger = open(dir.path());
        let f = a_file(&mut ledger, "aa");
        send(
            &mut ledger,
            intent("LAB-9", "h1", f, 9, None),
            accepted("rnds-9"),
        );
        ledger
            .begin_sending(&[
                intent("LAB-1", "h1", f, 2, None),
                intent("LAB-9", "h2", f, 9, Some("rnds-9")),
            ])
            .unwrap();
        // Still `sending`: never re-sent, even with the same content.
        let again = ledger.begin_sending(&[intent("LAB-1", "h1", f, 2, None)]);
        assert!(matches!(again, Err(LedgerError::NotSendable { .. })));
    }
    let mut ledger = open(dir.path());
    let f = a_file(&mut ledger, "bb");
    assert_eq!(ledger.mark_interrupted_unknown().unwrap(), 2);
    assert_eq!(ledger.unresolved().unwrap().len(), 2);
    assert_eq!(
        ledger.get("LAB-1").unwrap().unwrap().state,
        ResultState::Unknown
    );

    // Other content, or an interrupted replacement: resolve by lookup only.
    for bad in [
        intent("LAB-1", "h-other", f, 2, None),
        intent("LAB-9", "h2", f, 9, Some("rnds-9")),
    ] {
        let err = ledger.begin_sending(&[bad]).err().unwrap();
        assert!(matches!(err, LedgerError::NotSendable { .. }), "{err}");
    }
    // The same first document: the re-POST is the EHR-ERR866 proof.
    ledger
        .begin_sending(&[intent("LAB-1", "h1", f, 2, None)])
        .unwrap();
    ledger
        .record_outcomes(&[("LAB-1".into(), LedgerOutcome::AcceptedIdUnknown)])
        .unwrap();
    let row = ledger.get("LAB-1").unwrap().unwrap();
    assert_eq!(
        (row.state, row.rnds_id),
        (ResultState::AcceptedIdUnknown, None)
    );
    assert_eq!(ledger.unresolved().unwrap().len(), 1);
}

#[test]
fn the_same_lab_id_twice_in_a_batch_is_refused() {
    if skip() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut ledger = open(dir.path());
    let f = a_file(&mut ledger, "aa");
    let batch = [
        intent("LAB-1", "h1", f, 2, None),
        intent("LAB-1", "h1", f, 7, None),
    ];
    assert!(matches!(
        ledger.begin_sending(&batch),
        Err(LedgerError::NotSendable { lab_id, .. }) if lab_id == "LAB-1"
    ));
    assert!(ledger.get("LAB-1").unwrap().is_none());
}

#[test]
fn a_late_err866_does_not_erase_a_known_rnds_id() {
    if skip() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut ledger = open(dir.path());
    let f = a_file(&mut ledger, "aa");
    send(
        &mut ledger,
        intent("LAB-1", "h1", f, 2, None),
        accepted("rnds-1"),
    );
    let before = ledger.get("LAB-1").unwrap().unwrap();
    ledger
        .record_outcomes(&[("LAB-1".into(), LedgerOutcome::AcceptedIdUnknown)])
        .unwrap();
    let after = ledger.get("LAB-1").unwrap().unwrap();
    assert_eq!(
        (after.state, after.rnds_id, after.sent_at),
        (ResultState::Accepted, before.rnds_id, before.sent_at)
    );
    assert_eq!(ledger.history("LAB-1").unwrap().len(), 1);
}

/// A row an older version accepted (no identity stored): a changed row
/// is refused until the exact accepted content shows its patient and exam;
/// after that, another patient or exam is refused and a correction is not.
#[test]
fn identities_of_rows_written_before_schema_4_are_learned_from_their_exact_content() {
    if skip() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut ledger = open(dir.path());
    let file = a_file(&mut ledger, "f");
    send(
        &mut ledger,
        intent("L1", "h1", file, 2, None),
        accepted("R1"),
    );
    ledger.execute_sql("UPDATE results SET subject_hash = NULL, exam_code = NULL");
    let ana = ledger.identity("786570704999622", "94309-2");
    let bruno = ledger.identity("841224824475771", "94309-2");
    assert_ne!(ana.subject_hash, bruno.subject_hash);
    assert!(!ana.subject_hash.contains("786570704999622"));
    let row = ledger.get("L1").unwrap();
    assert_eq!(
        identity_conflict(row.as_ref(), &ana, "h2"),
        Some(IdentityConflict::NotRecorded)
    );
    assert_eq!(identity_conflict(row.as_ref(), &ana, "h1"), None);
    assert!(ledger.learn_identity("L1", "h1", &ana).unwrap());
    let row = ledger.get("L1").unwrap();
    assert_eq!(identity_conflict(row.as_ref(), &ana, "h2"), None);
    assert_eq!(
        identity_conflict(row.as_ref(), &bruno, "h2"),
        Some(IdentityConflict::OtherPatient)
    );
    let antigen = ledger.identity("786570704999622", "94558-4");
    assert_eq!(
        identity_conflict(row.as_ref(), &antigen, "h2"),
        Some(IdentityConflict::OtherExam {
            sent: "94309-2".into()
        })
    );
    // The ledger itself refuses a replacement for another patient.
    let mut other = intent("L1", "h3", file, 2, Some("R1"));
    other.identity = bruno;
    assert!(matches!(
        ledger.begin_sending(&[other]),
        Err(LedgerError::NotSendable { .. })
    ));
}

#[test]
fn the_version_a_file_got_accepted_is_found_by_file_and_content() {
    if skip() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut ledger = open(dir.path());
    let first = a_file(&mut ledger, "f1");
    let later = a_file(&mut ledger, "f2");
    send(&mut ledger, intent("A-1", "h1", first, 2, None), accepted("rnds-1"));
    send(
        &mut ledger,
        intent("A-1", "h2", later, 2, Some("rnds-1")),
        accepted("rnds-2"),
    );
    assert_eq!(
        ledger.accepted_from_file("A-1", first, "h1").unwrap(),
        Some(Some("rnds-1".to_owned()))
    );
    assert_eq!(ledger.accepted_from_file("A-1", first, "h2").unwrap(), None);
    assert_eq!(ledger.accepted_from_file("A-1", later, "h1").unwrap(), None);
    assert!(ledger.file_claimed_at(later).unwrap().is_some());
    assert_eq!(ledger.file_claimed_at(FileId(9_999)).unwrap(), None);
}

/// Schema 6: invalid rows without a lab id wait by file and line (noting
/// the same line again counts it once) and are counted with those that
/// have one, per file.
#[test]
fn rows_without_an_id_wait_by_file_and_line_and_are_counted() {
    if skip() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut ledger = open(dir.path());
    let first = a_file_named(&mut ledger, "f1", "exames.csv");
    let other = a_file_named(&mut ledger, "f2", "outro.csv");
    ledger
        .note_row_validity(first, &[("L-1".into(), 2)], &[], &[3, 4])
        .unwrap();
    ledger.note_row_validity(first, &[], &[], &[4]).unwrap();
    ledger.note_row_validity(other, &[], &[], &[7]).unwrap();
    assert_eq!(
        uncorrected(&ledger),
        (
            4,
            vec![("exames.csv".to_owned(), 3), ("outro.csv".to_owned(), 1)]
        )
    );
}

/// A file that replaces earlier ones (as the service decides by name)
/// ends the wait of their rows without a lab id, not its own, not other
/// files', and not the rows with a lab id (a valid row ends those).
#[test]
fn a_replacing_file_drops_the_rows_without_an_id_of_the_files_it_replaces() {
    if skip() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut ledger = open(dir.path());
    let first = a_file_named(&mut ledger, "f1", "exames.csv");
    let other = a_file_named(&mut ledger, "f2", "outro.csv");
    ledger
        .note_row_validity(first, &[("L-1".into(), 2)], &[], &[3, 4])
        .unwrap();
    ledger.note_row_validity(other, &[], &[], &[5]).unwrap();
    let again = a_file_named(&mut ledger, "f3", "exames.csv");
    ledger.note_row_validity(again, &[], &[], &[6]).unwrap();
    ledger
        .drop_rows_without_id_replaced_by(again, |name| name == "exames.csv")
        .unwrap();
    assert_eq!(
        uncorrected(&ledger),
        (
            3,
            vec![
                ("exames.csv".to_owned(), 1),
                ("outro.csv".to_owned(), 1),
                ("exames.csv".to_owned(), 1),
            ]
        )
    );
    // Nothing replaced: nothing dropped.
    ledger
        .drop_rows_without_id_replaced_by(again, |name| name == "planilha.xlsx")
        .unwrap();
    assert_eq!(uncorrected(&ledger).0, 3);
}
