//! The lab's certificate as `doctor` sees it through the real binary: the
//! password file as Windows editors write it, a foreign certificate refused
//! by the server (always the same answer), and a chain that is not
//! ICP-Brasil outside the simulator.

use std::path::{Path, PathBuf};
use std::process::Command;

use rnds_drop::simulator::{self, SimOptions, Simulator};

/// The simulator's generated configuration with `edit` applied, written
/// next to it (its relative paths still resolve).
fn edited_config(sim: &Simulator, name: &str, edit: impl Fn(String) -> String) -> PathBuf {
    let original = &sim.files().config_toml;
    let text = edit(std::fs::read_to_string(original).unwrap());
    let path = original.with_file_name(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// `key = value` in place of the line that starts with `key`.
fn replace_line(text: &str, key: &str, value: &str) -> String {
    text.lines()
        .map(|l| {
            if l.starts_with(&format!("{key} ")) {
                format!("{key} = {value}")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn quoted(path: &Path) -> String {
    format!("{:?}", path.display().to_string())
}

/// `rnds-drop doctor --config`: exit code and stdout.
fn doctor(config: &Path) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_rnds-drop"))
        .args(["doctor", "--config"])
        .arg(config)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

fn utf16(text: &str, big_endian: bool) -> Vec<u8> {
    let mut bytes = if big_endian {
        vec![0xFE, 0xFF]
    } else {
        vec![0xFF, 0xFE]
    };
    for unit in text.encode_utf16() {
        let pair = if big_endian {
            unit.to_be_bytes()
        } else {
            unit.to_le_bytes()
        };
        bytes.extend_from_slice(&pair);
    }
    bytes
}

/// Notepad's UTF-8 with BOM, PowerShell 5's `>` (UTF-16 LE with BOM and
/// CRLF), UTF-16 BE and a CRLF line all give the same password.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_password_file_may_have_a_bom_utf16_and_crlf() {
    let tmp = tempfile::tempdir().unwrap();
    let sim = simulator::start(SimOptions::new(tmp.path().join("simulador")))
        .await
        .unwrap();
    let password = std::fs::read_to_string(&sim.files().lab_pfx_password_file).unwrap();
    let password = password.trim_end_matches(['\r', '\n']);
    let variants: [(&str, Vec<u8>); 4] = [
        ("utf8-bom", format!("\u{feff}{password}\r\n").into_bytes()),
        ("utf16-le", utf16(&format!("{password}\r\n"), false)),
        ("utf16-be", utf16(password, true)),
        ("crlf", format!("{password}\r\n").into_bytes()),
    ];
    let mut failures = Vec::new();
    for (name, bytes) in variants {
        let file = tmp.path().join(format!("{name}.senha"));
        std::fs::write(&file, bytes).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let config = edited_config(&sim, &format!("{name}.toml"), |t| {
            replace_line(&t, "certificate_password_file", &quoted(&file))
        });
        let (code, out) = doctor(&config);
        if code != Some(0) || !out.contains("✓ token") {
            failures.push(format!("{name}: exit {code:?}\n{out}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    sim.shutdown().await;
}

/// A certificate of another CA (a second simulator's lab): the server
/// refuses it during the handshake. Every run gives the same answer, exit 3
/// "o servidor recusou o certificado", never exit 4 "confira a internet"
/// (the TLS alert used to race the connection reset).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_certificate_is_always_the_server_refusing_it() {
    let tmp = tempfile::tempdir().unwrap();
    let sim = simulator::start(SimOptions::new(tmp.path().join("simulador")))
        .await
        .unwrap();
    let other = simulator::start(SimOptions::new(tmp.path().join("outro")))
        .await
        .unwrap();
    let foreign = other.files().clone();
    other.shutdown().await;
    let config = edited_config(&sim, "estrangeiro.toml", |t| {
        let t = replace_line(&t, "certificate", &quoted(&foreign.lab_pfx));
        replace_line(
            &t,
            "certificate_password_file",
            &quoted(&foreign.lab_pfx_password_file),
        )
    });
    let runs: Vec<(Option<i32>, String)> = (0..8).map(|_| doctor(&config)).collect();
    let codes: Vec<Option<i32>> = runs.iter().map(|(code, _)| *code).collect();
    for (code, out) in &runs {
        assert!(
            *code == Some(3)
                && out.contains("✗ token: serviço de token")
                && out.contains("o servidor recusou o certificado do laboratório")
                && !out.contains("internet"),
            "exit codes {codes:?}:\n{out}"
        );
    }
    sim.shutdown().await;
}

/// Outside the simulator RNDS accepts only ICP-Brasil certificates: a chain
/// whose issuer is no ICP-Brasil authority is a ✗ before any connection
/// is blamed (here the simulator's own test CA, named as homologation).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_says_a_certificate_outside_icp_brasil_will_be_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let sim = simulator::start(SimOptions::new(tmp.path().join("simulador")))
        .await
        .unwrap();
    let simulated = edited_config(&sim, "simulador.toml", |t| t);
    let (code, out) = doctor(&simulated);
    assert_eq!(code, Some(0), "{out}");
    assert!(!out.contains("não é da ICP-Brasil"), "{out}");

    let config = edited_config(&sim, "homologacao.toml", |t| {
        replace_line(&t, "environment", "\"homologacao\"")
    });
    let (code, out) = doctor(&config);
    assert_eq!(code, Some(3), "{out}");
    assert!(
        out.contains("✗ certificado:") && out.contains("não é da ICP-Brasil"),
        "{out}"
    );
    sim.shutdown().await;
}

/// The example's commented Windows-store lines, uncommented in place of the
/// `.pfx` ones: the file is valid everywhere, and off Windows doctor says
/// the store exists only there (exit 3, nothing else blamed). A selector
/// next to a `.pfx` is a configuration error naming the key.
#[test]
fn the_windows_store_example_parses_and_elsewhere_is_refused_in_portuguese() {
    let tmp = tempfile::tempdir().unwrap();
    let example = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/rnds-drop.toml"),
    )
    .unwrap();
    let store: String = example
        .lines()
        .filter(|l| !l.starts_with("certificate = ") && !l.starts_with("certificate_password_"))
        .map(|l| {
            l.strip_prefix("# certificate = 'store:")
                .map(|rest| format!("certificate = 'store:{rest}"))
                .or_else(|| {
                    l.strip_prefix("# certificate_thumbprint")
                        .map(|r| format!("certificate_thumbprint{r}"))
                })
                .or_else(|| {
                    l.strip_prefix("# certificate_cnpj")
                        .map(|r| format!("certificate_cnpj{r}"))
                })
                .unwrap_or_else(|| l.to_string())
        })
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        store.contains("\ncertificate = 'store:LocalMachine\\My'\n"),
        "{store}"
    );
    let config = tmp.path().join("repositorio.toml");
    std::fs::write(&config, &store).unwrap();
    let parsed = rnds_drop::config::Config::load(&config).unwrap();
    assert_eq!(
        parsed.rnds.certificate,
        rnds_drop::config::CertificateSource::Store("store:LocalMachine\\My".into())
    );
    if cfg!(not(windows)) {
        let (code, out) = doctor(&config);
        assert_eq!(code, Some(3), "{out}");
        assert!(
            out.contains("✓ configuração:")
                && out.contains("✗ certificado: store: só existe no Windows")
                && out.contains("use o arquivo .pfx"),
            "{out}"
        );
    }

    let misplaced = tmp.path().join("impressao-com-pfx.toml");
    std::fs::write(
        &misplaced,
        example.replace("# certificate_thumbprint", "certificate_thumbprint"),
    )
    .unwrap();
    let (code, out) = doctor(&misplaced);
    assert_eq!(code, Some(3), "{out}");
    assert!(
        out.contains("✗ configuração:")
            && out.contains("certificate_thumbprint só vale com o repositório"),
        "{out}"
    );
}

/// doctor shows the chain the certificate file carries (each certificate,
/// subject → issuer, and whether it ends at an AC Raiz da ICP-Brasil) and
/// proves the key signs: a test signature checked with the certificate's
/// public key. A `.pfx` whose key is another one than its certificate's
/// is a ✗ on that line, with what to do, and nothing is tried against RNDS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_shows_the_chain_and_proves_the_key_signs() {
    use p12_keystore::{KeyStore, KeyStoreEntry, Pkcs12ImportPolicy, PrivateKey, PrivateKeyChain};
    let tmp = tempfile::tempdir().unwrap();
    let sim = simulator::start(SimOptions::new(tmp.path().join("simulador")))
        .await
        .unwrap();
    let files = sim.files().clone();
    let (code, out) = doctor(&edited_config(&sim, "normal.toml", |t| t));
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("✓ cadeia: LABORATORIO EXEMPLO LTDA:11222333000181")
            && out.contains(" → rnds-drop simulador CA de teste")
            && out.contains("não termina numa AC Raiz da ICP-Brasil")
            && out.contains(
                "✓ chave privada: a chave privada assina (assinatura de teste verificada"
            ),
        "{out}"
    );

    // The lab's certificate and CA with a key of its own: the file opens,
    // the certificate is the right one, the key is not its key.
    let password = std::fs::read_to_string(&files.lab_pfx_password_file).unwrap();
    let password = password.trim_end_matches(['\r', '\n']);
    let store = KeyStore::from_pkcs12(
        &std::fs::read(&files.lab_pfx).unwrap(),
        password,
        Pkcs12ImportPolicy::Relaxed,
    )
    .unwrap();
    let (_, chain) = store.private_key_chain().unwrap();
    let other_key = rcgen::KeyPair::generate().unwrap();
    let mismatched = PrivateKeyChain::new(
        b"outra".to_vec(),
        PrivateKey::from_der(&other_key.serialize_der()).unwrap(),
        chain.certs().to_vec(),
    );
    let mut swapped = KeyStore::new();
    swapped.add_entry("lab", KeyStoreEntry::PrivateKeyChain(mismatched));
    let swapped_pfx = tmp.path().join("chave-trocada.pfx");
    std::fs::write(&swapped_pfx, swapped.writer(password).write().unwrap()).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&swapped_pfx, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let config = edited_config(&sim, "chave-trocada.toml", |t| {
        replace_line(&t, "certificate", &quoted(&swapped_pfx))
    });
    let (code, out) = doctor(&config);
    assert_eq!(code, Some(3), "{out}");
    assert!(
        out.contains("✓ certificado: ")
            && out.contains("✗ chave privada: a chave privada não corresponde ao certificado")
            && out.contains("O que fazer")
            && out.contains("– token: não verificado"),
        "{out}"
    );
    assert!(!out.contains(password), "{out}");
    sim.shutdown().await;
}
