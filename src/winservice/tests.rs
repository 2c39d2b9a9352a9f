use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::*;

const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/rnds-drop.toml");

#[test]
fn default_paths_live_under_program_data() {
    let paths = DefaultPaths::under(Some(OsString::from(r"D:\Dados")));
    assert_eq!(paths.root, Path::new(r"D:\Dados").join("rnds-drop"));
    assert_eq!(paths.config, paths.root.join("rnds-drop.toml"));
    assert_eq!(paths.logs, paths.root.join("logs"));
}

#[test]
fn default_paths_fall_back_to_c_program_data() {
    for unset in [None, Some(OsString::new())] {
        let paths = DefaultPaths::under(unset);
        assert_eq!(paths.root, Path::new(r"C:\ProgramData").join("rnds-drop"));
    }
}

#[test]
fn logs_go_beside_the_configuration() {
    let config = Path::new("/dados/rnds-drop/rnds-drop.toml");
    assert_eq!(
        DefaultPaths::logs_for(config),
        Path::new("/dados/rnds-drop/logs")
    );
    assert_eq!(
        DefaultPaths::logs_for(Path::new("rnds-drop.toml")),
        Path::new("./logs")
    );
}

#[test]
fn the_scm_starts_servico_executar_with_the_absolute_config() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("rnds-drop.toml");
    std::fs::copy(EXAMPLE, &config).unwrap();
    let exe = dir.path().join("rnds-drop.exe");
    let plan = install_plan(&exe, &config).unwrap();
    assert_eq!(plan.name, "rnds-drop");
    assert_eq!(plan.executable, exe);
    assert_eq!(
        plan.arguments,
        ["servico", "executar", "--config"]
            .map(OsString::from)
            .into_iter()
            .chain([config.clone().into_os_string()])
            .collect::<Vec<_>>()
    );
    assert!(plan.config.is_absolute());
    // The example's shutdown_grace_s = 10, plus time for reports.
    assert_eq!(plan.stop_wait, std::time::Duration::from_secs(30));
}

#[test]
fn a_relative_config_is_made_absolute_at_install_time() {
    // The SCM starts services in C:\Windows\System32: a relative path
    // there would name another file.
    let relative = PathBuf::from("examples/rnds-drop.toml");
    let plan = install_plan(Path::new("rnds-drop.exe"), &relative);
    // Tests run in the package root, where this relative path exists.
    let plan = plan.unwrap();
    assert!(plan.config.is_absolute(), "{}", plan.config.display());
    assert!(plan.executable.is_absolute());
    assert_eq!(
        plan.arguments.last(),
        Some(&plan.config.clone().into_os_string())
    );
}

#[test]
fn a_broken_or_missing_config_is_refused_before_installing() {
    let dir = tempfile::tempdir().unwrap();
    let missing = install_plan(Path::new("rnds-drop.exe"), &dir.path().join("nada.toml"));
    assert!(matches!(missing, Err(SetupError::Config(_))), "{missing:?}");
    let broken = dir.path().join("rnds-drop.toml");
    std::fs::write(&broken, "[lab]\ncnes = \"1\"\nfuso = 3\n").unwrap();
    let err = install_plan(Path::new("rnds-drop.exe"), &broken).unwrap_err();
    assert!(matches!(err, SetupError::Config(_)), "{err}");
}

#[test]
fn the_service_logs_to_a_rotated_masked_file_beside_the_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("rnds-drop.toml");
    // Before (or without) a loaded configuration: the default file and sizes.
    let settings = log_settings(&config, None);
    let file = settings.file.clone().unwrap();
    assert_eq!(file.path, dir.path().join("logs").join(LOG_FILE_NAME));
    assert_eq!((file.max_bytes, file.keep), (10 * 1024 * 1024, 5));
    let subscriber = crate::ops::logging::subscriber(&settings, std::io::sink).unwrap();
    tracing::subscriber::with_default(subscriber, || {
        tracing::error!("paciente 759010928159013: configuração inválida");
    });
    let text = std::fs::read_to_string(&file.path).unwrap();
    assert!(
        text.contains("759**********13: configuração inválida"),
        "{text}"
    );
    assert!(!text.contains("759010928159013"), "{text}");
}

#[test]
fn the_service_log_follows_the_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rnds-drop.toml");
    let example = std::fs::read_to_string(EXAMPLE).unwrap();
    let keys = "log_file_max_mb = 10\nlog_file_keep = 5\n";
    assert!(
        example.contains(keys),
        "the example's [service] log keys moved"
    );
    std::fs::write(
        &path,
        example.replace(
            keys,
            "log_file = \"registros/servico.log\"\nlog_file_max_mb = 2\nlog_file_keep = 9\n",
        ),
    )
    .unwrap();
    let config = Config::load(&path).unwrap();
    let settings = log_settings(&path, Some(&config));
    let file = settings.file.unwrap();
    assert_eq!(file.path, dir.path().join("registros").join("servico.log"));
    assert_eq!((file.max_bytes, file.keep), (2 * 1024 * 1024, 9));
    assert_eq!(settings.timezone, config.timezone());
}
