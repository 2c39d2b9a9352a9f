//! Temporary files are recognisable as leftovers; reports are private
//! unless their folder is shared with a group (setgid).

use std::io::Write;

use super::*;

#[test]
fn the_temporary_file_of_an_unfinished_write_is_a_leftover() {
    let dir = tempfile::tempdir().unwrap();
    let mut file = AtomicFile::create(&dir.path().join("lote.erros.csv")).unwrap();
    file.write_all(b"linha").unwrap();
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 1);
    assert!(is_temp_leftover(&names[0]), "{names:?}");
    for report in [
        "lote.erros.csv",
        "lote.20261201T101500.resumo.json",
        ".oculto.tmp",
        ".lote.csv.x-1.tmp",
        "lote.1-2.tmp",
    ] {
        assert!(!is_temp_leftover(report), "{report}");
    }
}

#[cfg(unix)]
mod modes {
    use std::os::unix::fs::PermissionsExt;
    use std::path::Path;

    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn reports_and_their_folders_are_private_by_default() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = dir.path().join("saida");
        std::fs::create_dir(&outbox).unwrap();
        std::fs::set_permissions(&outbox, std::fs::Permissions::from_mode(0o755)).unwrap();
        let report = outbox.join("lote.resumo.json");
        write_atomic(&report, b"{}").unwrap();
        assert_eq!(mode(&report), 0o600);
        let staging = outbox.join(".staging");
        create_private_dir(&staging).unwrap();
        assert_eq!(mode(&staging), 0o700);
    }

    #[test]
    fn a_setgid_outbox_shares_reports_with_its_group_only() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = dir.path().join("saida");
        std::fs::create_dir(&outbox).unwrap();
        std::fs::set_permissions(&outbox, std::fs::Permissions::from_mode(0o2750)).unwrap();
        assert_eq!(mode(&outbox), 0o2750, "setgid bit set");
        let report = outbox.join("lote.erros.csv");
        write_atomic(&report, b"x").unwrap();
        assert_eq!(mode(&report), 0o640);
        let staging = outbox.join(".staging");
        create_private_dir(&staging).unwrap();
        assert_eq!(mode(&staging) & 0o777, 0o750);
    }
}
