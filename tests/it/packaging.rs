//! What the `.deb` installs agrees with the code: the packaged
//! configuration is the example with absolute paths, and the unit starts
//! the service with it. (CI installs the real package: packaging/deb/.)

use std::path::Path;

fn repo(path: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn read(path: &str) -> String {
    std::fs::read_to_string(repo(path)).expect(path)
}

#[test]
fn the_packaged_config_is_the_example_with_absolute_paths() {
    let config = rnds_drop::config::Config::load(&repo("examples/debian/rnds-drop.toml"))
        .expect("examples/debian/rnds-drop.toml parses");
    assert_eq!(
        config.ledger.path,
        Path::new("/var/lib/rnds-drop/rnds-drop.sqlite")
    );
    assert_eq!(
        config.inbox[0].path,
        Path::new("/var/lib/rnds-drop/entrada")
    );
    assert_eq!(
        config.inbox[0].outbox,
        Path::new("/var/lib/rnds-drop/saida")
    );
    assert_eq!(
        config.rnds.certificate_password_file.as_deref(),
        Some(Path::new("/etc/rnds-drop/pfx.senha"))
    );
    assert_eq!(config.rnds.certificate_password_env, None);

    // Every other line is the example's, so a new key or comment in the
    // example reaches the package too.
    let example = read("examples/rnds-drop.toml");
    let packaged = read("examples/debian/rnds-drop.toml");
    let differs = |line: &&str| {
        line.starts_with('#') && (line.contains("/etc/rnds-drop") || line.contains("systemctl"))
            || line.contains("certificate_password_")
            || line.starts_with("path = ")
            || line.starts_with("outbox = ")
    };
    let same = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| !differs(l))
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(same(&packaged), same(&example));
}

#[test]
fn the_unit_runs_the_packaged_binary_with_the_packaged_config() {
    let unit = read("packaging/deb/rnds-drop.service");
    let line = |key: &str| {
        unit.lines()
            .find_map(|l| l.strip_prefix(key))
            .unwrap_or_else(|| panic!("no {key} in the unit"))
            .to_owned()
    };
    assert_eq!(
        line("ExecStart="),
        "/usr/bin/rnds-drop run --config /etc/rnds-drop/rnds-drop.toml --log-format json"
    );
    assert_eq!(line("User="), "rnds-drop");
    assert_eq!(line("KillSignal="), "SIGTERM");
    // Exit 3 is a configuration error (exit::CONFIG in src/exit.rs): no restart loop.
    assert_eq!(line("RestartPreventExitStatus="), "3");

    let manifest: toml::Table = read("Cargo.toml").parse().expect("Cargo.toml");
    let assets = manifest["package"]["metadata"]["deb"]["assets"]
        .as_array()
        .expect("deb assets");
    let installs = |from: &str, to: &str| {
        assets.iter().any(|a| {
            a.as_array().is_some_and(|a| {
                a.first().and_then(|v| v.as_str()) == Some(from)
                    && a.get(1).and_then(|v| v.as_str()) == Some(to)
            })
        })
    };
    assert!(installs(
        "examples/debian/rnds-drop.toml",
        "etc/rnds-drop/rnds-drop.toml"
    ));
    assert!(installs("target/release/rnds-drop", "usr/bin/"));
}

/// `servico` is the Windows service; elsewhere it says to use the package.
#[cfg(not(windows))]
#[test]
fn servico_on_linux_points_at_the_package_and_exits_3() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rnds-drop"))
        .args(["servico", "instalar"])
        .output()
        .expect("binary runs");
    assert_eq!(out.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(".deb") && stderr.contains("systemctl"),
        "{stderr}"
    );
}
