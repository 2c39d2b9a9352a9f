//! A3 certificates for real: SoftHSM2 (Debian `softhsm2`, a real PKCS#11
//! module) holds the simulator's lab key and certificate in a token
//! created in a temp dir, and the real binary signs the token request's
//! handshake through it: `doctor` lists the token with a ready URI and
//! fetches a token, `send` stores the documents, a wrong PIN stops with
//! exit 3 before anything is sent, an unloadable module is named in
//! pt-BR, `run` keeps rows pending while the token is gone and sends
//! them when it is back, and a certificate renewed on the token is used
//! from the next token on.
//!
//! Without softhsm2 the test says SKIPPED (in CI it fails: `.ci/run`
//! installs it).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use rnds_drop::demo::{drop_file, write_workspace_config};
use rnds_drop::simulator::{self, SimOptions};

const MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";
const TOKEN: &str = "rnds-lab";
const PIN: &str = "246810";
const LABEL: &str = "LAB EXEMPLO";
const RENEWED: &str = "LABORATORIO EXEMPLO RENOVADO LTDA:11222333000181";

fn export(prefix: &str) -> String {
    format!(
        "Nº Pedido;Paciente;Cartão SUS;Data da Coleta;Dt. Liberação;Cód. Exame;Resultado;Material;Metodologia\n\
         {prefix}-1;PACIENTE UM;759010928159013;03/11/2026 08:15;03/11/2026 16:40;94309-2;Não detectável;SWNAFA;RT-PCR\n\
         {prefix}-2;PACIENTE DOIS;939548620579868;03/11/2026 08:20;03/11/2026 16:45;94309-2;Detectável;SWNAFA;RT-PCR\n"
    )
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

/// softhsm2-util with this test's configuration; its output on failure.
fn softhsm(conf: &Path, args: &[&str]) {
    let out = Command::new("softhsm2-util")
        .args(args)
        .env("SOFTHSM2_CONF", conf)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "softhsm2-util {args:?}: {}",
        text(&out)
    );
}

/// The CKO_CERTIFICATE object is written by this same test binary, run
/// again as a child with the token's configuration in its environment
/// (SOFTHSM2_CONF is read once per process, and tests share one).
#[test]
#[ignore = "helper: run by a_token_signs_the_handshake_doctor_send_run in a child process"]
fn import_certificate_helper() {
    let Ok(der_path) = std::env::var("RNDS_DROP_TEST_CERT_DER") else {
        return;
    };
    use cryptoki::context::{CInitializeArgs, Pkcs11};
    use cryptoki::object::{Attribute, CertificateType, ObjectClass};
    use cryptoki::session::UserType;
    use cryptoki::types::AuthPin;
    let id: u8 = std::env::var("RNDS_DROP_TEST_CERT_ID")
        .unwrap()
        .parse()
        .unwrap();
    let der = std::fs::read(der_path).unwrap();
    let module = Pkcs11::new(MODULE).unwrap();
    module.initialize(CInitializeArgs::OsThreads).unwrap();
    let slot = module
        .get_slots_with_token()
        .unwrap()
        .into_iter()
        .find(|s| module.get_token_info(*s).unwrap().label().trim() == TOKEN)
        .unwrap();
    let session = module.open_rw_session(slot).unwrap();
    session
        .login(UserType::User, Some(&AuthPin::from(PIN.to_string())))
        .unwrap();
    // A renewal (the CA's tool) adds the new certificate object beside the
    // old one, under the same label: the old one stays until someone
    // deletes it.
    let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
    session
        .create_object(&[
            Attribute::Class(ObjectClass::CERTIFICATE),
            Attribute::CertificateType(CertificateType::X_509),
            Attribute::Token(true),
            Attribute::Private(false),
            Attribute::Label(LABEL.as_bytes().to_vec()),
            Attribute::Id(vec![id]),
            Attribute::Subject(cert.subject().as_raw().to_vec()),
            Attribute::Value(der),
        ])
        .unwrap();
}

/// A token `rnds-lab` in `dir` holding the lab key and certificate of
/// the simulator's PFX; returns the SoftHSM2 configuration file.
fn token_with_lab_identity(dir: &Path, pfx: &Path, password: &str) -> PathBuf {
    let tokens = dir.join("tokens");
    std::fs::create_dir_all(&tokens).unwrap();
    let conf = dir.join("softhsm2.conf");
    std::fs::write(
        &conf,
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
            tokens.display()
        ),
    )
    .unwrap();
    softhsm(
        &conf,
        &[
            "--init-token",
            "--free",
            "--label",
            TOKEN,
            "--pin",
            PIN,
            "--so-pin",
            "13579",
        ],
    );
    import_identity(&conf, dir, &std::fs::read(pfx).unwrap(), password, 1);
    conf
}

/// Puts the key and certificate of a PKCS#12 on the token under `LABEL`
/// with CKA_ID `id`, replacing the certificate object already there.
fn import_identity(conf: &Path, dir: &Path, pfx: &[u8], password: &str, id: u8) {
    let store = p12_keystore::KeyStore::from_pkcs12(
        pfx,
        password,
        p12_keystore::Pkcs12ImportPolicy::Relaxed,
    )
    .unwrap();
    let (_, chain) = store.private_key_chain().unwrap();
    let key_pem = dir.join("lab.key.pem");
    std::fs::write(&key_pem, pkcs8_pem(chain.key().as_der())).unwrap();
    let id_hex = format!("{id:02x}");
    softhsm(
        conf,
        &[
            "--import",
            key_pem.to_str().unwrap(),
            "--token",
            TOKEN,
            "--label",
            LABEL,
            "--id",
            &id_hex,
            "--pin",
            PIN,
        ],
    );
    std::fs::remove_file(&key_pem).unwrap();
    let cert_der = dir.join("lab.der");
    std::fs::write(&cert_der, chain.certs()[0].as_der()).unwrap();
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "pkcs11::import_certificate_helper",
            "--ignored",
            "--nocapture",
        ])
        .env("SOFTHSM2_CONF", conf)
        .env("RNDS_DROP_TEST_CERT_DER", &cert_der)
        .env("RNDS_DROP_TEST_CERT_ID", id.to_string())
        .output()
        .unwrap();
    assert!(out.status.success(), "certificate import: {}", text(&out));
    assert!(text(&out).contains("1 passed"), "{}", text(&out));
}

fn pkcs8_pem(der: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut b64 = String::new();
    for chunk in der.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                b64.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                b64.push('=');
            }
        }
    }
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|l| std::str::from_utf8(l).unwrap())
        .collect();
    format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        lines.join("\n")
    )
}

/// The workspace config with the certificate on the token.
fn token_config(config: &Path, pin_file: &Path, module: &str) {
    let mut table: toml::Table = toml::from_str(&std::fs::read_to_string(config).unwrap()).unwrap();
    let rnds = table
        .get_mut("rnds")
        .and_then(|r| r.as_table_mut())
        .unwrap();
    rnds.remove("certificate_password_file");
    rnds.remove("certificate_password_env");
    rnds.insert(
        "certificate".into(),
        toml::Value::String(format!("pkcs11:token={TOKEN};object=LAB%20EXEMPLO")),
    );
    rnds.insert("pkcs11_module".into(), toml::Value::String(module.into()));
    rnds.insert(
        "pin_file".into(),
        toml::Value::String(pin_file.to_string_lossy().into()),
    );
    std::fs::write(config, toml::to_string(&table).unwrap()).unwrap();
}

fn rnds_drop(conf: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_rnds-drop"));
    command.env("SOFTHSM2_CONF", conf);
    command
}

fn wait_for(what: &str, within: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !check() {
        assert!(Instant::now() < deadline, "{what}: not within {within:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

struct Service(Child);
impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_signs_the_handshake_doctor_send_run() {
    if !Path::new(MODULE).exists()
        || Command::new("softhsm2-util")
            .arg("--version")
            .output()
            .is_err()
    {
        assert!(
            std::env::var("CI").is_err(),
            "softhsm2 not installed in CI: .ci/run installs Debian's softhsm2"
        );
        return super::harness::skipped("SoftHSM2 not installed (apt-get install softhsm2)");
    }
    let tmp = tempfile::tempdir().unwrap();
    let sim = simulator::start(SimOptions {
        token_lifetime: Duration::from_secs(2),
        ..SimOptions::new(tmp.path().join("simulador"))
    })
    .await
    .unwrap();
    let password = std::fs::read_to_string(&sim.files().lab_pfx_password_file).unwrap();
    let conf = token_with_lab_identity(tmp.path(), &sim.files().lab_pfx, password.trim());
    let root = tmp.path().join("lab");
    let (ws, _) = write_workspace_config(sim.files(), &root, 200, "watch").unwrap();
    let pin_file = root.join("pin.txt");
    std::fs::write(&pin_file, format!("{PIN}\r\n")).unwrap();
    token_config(&ws.config_path, &pin_file, MODULE);
    // The PFX is out of the way: only the token can sign.
    std::fs::remove_file(&sim.files().lab_pfx).unwrap();

    // doctor: the token, its certificate and URI, and a token fetched.
    let out = rnds_drop(&conf)
        .args(["doctor", "--config"])
        .arg(&ws.config_path)
        .output()
        .unwrap();
    let shown = text(&out);
    assert_eq!(out.status.code(), Some(0), "{shown}");
    assert!(shown.contains(&format!("token \"{TOKEN}\"")), "{shown}");
    assert!(shown.contains("CNPJ 11222333000181"), "{shown}");
    assert!(
        shown.contains(&format!(
            "certificate = \"pkcs11:token={TOKEN};object=LAB%20EXEMPLO\""
        )),
        "{shown}"
    );
    assert!(!shown.contains(PIN), "{shown}");
    // SoftHSM2's free slot holds no token: it is not listed.
    assert!(!shown.contains("token \"\""), "{shown}");

    // send: the documents reach the simulator through the token's signature.
    let input = root.join("lote.csv");
    std::fs::write(&input, export("TOKEN")).unwrap();
    let out = rnds_drop(&conf)
        .args(["send", "--config"])
        .arg(&ws.config_path)
        .arg("--out")
        .arg(root.join("relatorios"))
        .arg(&input)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(sim.documents().len(), 2);
    let subjects = sim.stats()["tokens_by_subject"].to_string();
    assert!(
        subjects.contains("LABORATORIO EXEMPLO LTDA:11222333000181"),
        "{subjects}"
    );

    // A wrong PIN: exit 3, said in pt-BR, nothing sent, the PIN not shown.
    std::fs::write(&pin_file, "999999\n").unwrap();
    let input = root.join("pin-errado.csv");
    std::fs::write(&input, export("PINERRADO")).unwrap();
    let out = rnds_drop(&conf)
        .args(["send", "--config"])
        .arg(&ws.config_path)
        .arg("--out")
        .arg(root.join("relatorios"))
        .arg(&input)
        .output()
        .unwrap();
    let shown = text(&out);
    assert_eq!(out.status.code(), Some(3), "{shown}");
    assert!(shown.contains("PIN incorreto para o token"), "{shown}");
    assert!(!shown.contains("999999"), "{shown}");
    assert_eq!(sim.documents().len(), 2);
    std::fs::write(&pin_file, format!("{PIN}\n")).unwrap();

    // A module that is not a PKCS#11 library.
    let not_a_module = root.join("nao-e-modulo.so");
    std::fs::write(&not_a_module, "isto não é uma biblioteca").unwrap();
    let broken = root.join("modulo-quebrado.toml");
    std::fs::copy(&ws.config_path, &broken).unwrap();
    token_config(&broken, &pin_file, not_a_module.to_str().unwrap());
    let out = rnds_drop(&conf)
        .args(["doctor", "--config"])
        .arg(&broken)
        .output()
        .unwrap();
    let shown = text(&out);
    assert_eq!(out.status.code(), Some(3), "{shown}");
    assert!(
        shown.contains("não foi possível carregar o módulo PKCS#11"),
        "{shown}"
    );

    // run with the token unplugged at start (a reboot before the USB token
    // is enumerated): not a configuration error (systemd does not restart
    // after exit 3) but a temporary one, restarted, with what to do.
    let tokens = tmp.path().join("tokens");
    let away = tmp.path().join("tokens-fora");
    std::fs::rename(&tokens, &away).unwrap();
    std::fs::create_dir(&tokens).unwrap();
    let mut unplugged = rnds_drop(&conf)
        .args(["run", "--config"])
        .arg(&ws.config_path)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while unplugged.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = unplugged.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = unplugged.wait_with_output().unwrap();
    let shown = text(&out);
    assert_eq!(out.status.code(), Some(4), "{shown}");
    assert!(
        shown.contains(&format!("o token \"{TOKEN}\" não está conectado"))
            && shown.contains("conecte o token"),
        "{shown}"
    );
    assert!(!shown.contains(PIN), "{shown}");
    // send, the same: pending (4), not a configuration error.
    let input = root.join("token-fora.csv");
    std::fs::write(&input, export("TOKENFORA")).unwrap();
    let out = rnds_drop(&conf)
        .args(["send", "--config"])
        .arg(&ws.config_path)
        .arg("--out")
        .arg(root.join("relatorios"))
        .arg(&input)
        .output()
        .unwrap();
    let shown = text(&out);
    assert_eq!(out.status.code(), Some(4), "{shown}");
    assert!(shown.contains("conecte o token"), "{shown}");
    std::fs::remove_dir(&tokens).unwrap();
    std::fs::rename(&away, &tokens).unwrap();
    assert_eq!(sim.documents().len(), 2, "{shown}");

    // run: the token goes away mid-run; rows wait, and go when it is back.
    let log = root.join("servico.log");
    let _service = Service(
        rnds_drop(&conf)
            .args(["run", "--config"])
            .arg(&ws.config_path)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap(),
    );
    drop_file(&ws.inbox, "antes.csv", export("ANTES").as_bytes()).unwrap();
    wait_for("antes.csv stored", Duration::from_secs(60), || {
        sim.documents().len() == 4
    });
    std::fs::rename(&tokens, &away).unwrap();
    std::fs::create_dir(&tokens).unwrap();
    std::thread::sleep(Duration::from_secs(3));
    drop_file(&ws.inbox, "sem-token.csv", export("SEMTOKEN").as_bytes()).unwrap();
    std::thread::sleep(Duration::from_secs(6));
    assert_eq!(
        sim.documents().len(),
        4,
        "sent without the token: {}",
        std::fs::read_to_string(&log).unwrap()
    );
    std::fs::remove_dir(&tokens).unwrap();
    std::fs::rename(&away, &tokens).unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while sim.documents().len() < 6 {
        assert!(
            Instant::now() < deadline,
            "sem-token.csv not stored once the token is back: {}",
            std::fs::read_to_string(&log).unwrap()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let log_text = std::fs::read_to_string(&log).unwrap();
    assert!(!log_text.contains(PIN), "{log_text}");
    // The log names the token, not RNDS, and says when it signs again.
    assert!(
        log_text.contains(&format!("o token \"{TOKEN}\" não está conectado"))
            && log_text.contains("o token voltou a assinar"),
        "{log_text}"
    );
    assert!(
        !log_text.contains("A RNDS não está respondendo"),
        "{log_text}"
    );

    // The certificate renewed on the token (a new key and certificate
    // object added under the same label, the old pair left beside it):
    // the next token presents the newest valid one (the lab's first
    // certificate is valid until 4096, rcgen's default; the renewal later).
    let renewed = simulator::renewed_lab_pfx(sim.files(), RENEWED, 4200, "renovado").unwrap();
    import_identity(&conf, tmp.path(), &renewed, "renovado", 2);
    std::thread::sleep(Duration::from_secs(3));
    drop_file(&ws.inbox, "renovado.csv", export("RENOVADO").as_bytes()).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while sim.documents().len() < 8 {
        assert!(
            Instant::now() < deadline,
            "renovado.csv not stored: {}",
            std::fs::read_to_string(&log).unwrap()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let subjects = sim.stats()["tokens_by_subject"].to_string();
    assert!(
        subjects.contains(RENEWED),
        "{subjects}\n{}",
        std::fs::read_to_string(&log).unwrap()
    );
}
