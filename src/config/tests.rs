//! Configuration mistakes a lab's IT makes, and the sentence each gets:
//! pt-BR, with the file, the line and the key, the fix, no English from
//! the parser, and never a password.

use std::path::Path;

use super::{Config, ConfigError, Purpose};

const LAB: &str = r#"# Laboratório de exemplo
# (comentários no topo, como no exemplo)

[lab]
cnes = "2337991"
requester_id = "5000001"
requester_cns = "980016287385192"
timezone = "America/Sao_Paulo"
uf = "SP"

[rnds]
environment = "homologacao"
certificate = "lab.pfx"
certificate_password_env = "RNDS_PFX_SENHA"

[[inbox]]
path = "entrada"
outbox = "saida"
"#;

fn error_for(text: &str, purpose: Purpose) -> String {
    match Config::parse_for(
        text,
        Path::new("/etc/rnds-drop/rnds-drop.toml"),
        Path::new("/etc/rnds-drop"),
        purpose,
    ) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e.to_string(),
    }
}

fn error(text: &str) -> String {
    error_for(text, Purpose::Network)
}

/// No fragment of toml's or serde's English reaches the lab.
fn assert_portuguese(message: &str) {
    for english in [
        "invalid type",
        "expected",
        "unknown field",
        "missing field",
        "TOML parse error",
        "unknown variant",
        "os error",
        "line ",
    ] {
        assert!(!message.contains(english), "{english:?} in: {message}");
    }
    assert!(
        message.starts_with("configuração inválida em /etc/rnds-drop/rnds-drop.toml"),
        "{message}"
    );
}

#[test]
fn the_example_lab_parses() {
    let config = Config::parse(LAB, Path::new("t.toml"), Path::new("/etc/rnds-drop")).unwrap();
    assert_eq!(config.lab.uf, "sp");
    assert!(config.rnds.is_configured());
}

#[test]
fn a_number_where_text_is_expected_says_to_quote_it() {
    let message = error(&LAB.replace("cnes = \"2337991\"", "cnes = 2337991"));
    assert_portuguese(&message);
    assert!(
        message.contains(", linha 5: [lab] cnes: valor do tipo errado"),
        "{message}"
    );
    assert!(message.contains("cnes = \"2337991\""), "{message}");
}

#[test]
fn an_unknown_key_names_its_line_and_the_keys_accepted() {
    let message = error(&LAB.replace("uf = \"SP\"", "uf = \"SP\"\nfuso = \"America/Manaus\""));
    assert_portuguese(&message);
    assert!(
        message.contains(", linha 10: [lab] a chave `fuso` não existe"),
        "{message}"
    );
    assert!(message.contains("timezone"), "{message}");
}

#[test]
fn a_password_written_in_the_file_is_never_repeated() {
    let secret = "S3nh@-Do-Lab!";
    for line in [
        format!("certificate_password = \"{secret}\""),
        format!("senha = \"{secret}\""),
        // Unquoted: a syntax error on the very line that holds it.
        format!("certificate_password = {secret}"),
    ] {
        let text = LAB.replace(
            "certificate_password_env = \"RNDS_PFX_SENHA\"",
            &format!("certificate_password_env = \"RNDS_PFX_SENHA\"\n{line}"),
        );
        let message = error(&text);
        assert!(!message.contains(secret), "{message}");
        assert!(!message.contains("S3nh"), "{message}");
        assert!(message.contains("linha 15"), "{message}");
        assert_portuguese(&message);
    }
    let message = error(&LAB.replace(
        "certificate_password_env = \"RNDS_PFX_SENHA\"",
        &format!("certificate_password = \"{secret}\""),
    ));
    assert!(
        message.contains("a senha do certificado não pode ficar no arquivo"),
        "{message}"
    );
    assert!(message.contains("certificate_password_file"), "{message}");
}

#[test]
fn a_numeric_password_written_where_its_file_or_variable_belongs_is_never_repeated() {
    for key in ["certificate_password_file", "certificate_password_env"] {
        let text = LAB.replace(
            "certificate_password_env = \"RNDS_PFX_SENHA\"",
            &format!("{key} = 90817263"),
        );
        let message = error(&text);
        assert!(!message.contains("90817263"), "{message}");
        assert!(message.contains(key), "{message}");
        assert!(message.contains("entre aspas"), "{message}");
    }
}

#[test]
fn a_missing_section_is_named_without_pointing_at_a_comment() {
    let without_lab = LAB.replace("[lab]", "[laboratorio]");
    let message = error(&without_lab);
    // The unknown section is the first mistake found, on its own line.
    assert!(message.contains("linha 4"), "{message}");
    assert_portuguese(&message);
    let start = LAB.find("[lab]").unwrap();
    let end = LAB.find("[rnds]").unwrap();
    let no_lab = format!("{}{}", &LAB[..start], &LAB[end..]);
    let message = error(&no_lab);
    assert_portuguese(&message);
    assert!(message.contains("falta a seção [lab]"), "{message}");
    assert!(!message.contains("linha 1"), "{message}");
}

#[test]
fn a_missing_key_points_at_its_section() {
    let message = error(&LAB.replace("requester_id = \"5000001\"\n", ""));
    assert_portuguese(&message);
    assert!(
        message.contains(", linha 4: [lab] falta a chave obrigatória `requester_id`"),
        "{message}"
    );
}

#[test]
fn an_unknown_environment_lists_the_accepted_ones() {
    let message = error(&LAB.replace("\"homologacao\"", "\"produção\""));
    assert_portuguese(&message);
    assert!(
        message.contains("[rnds] environment = \"produção\" não é um valor aceito"),
        "{message}"
    );
    assert!(message.contains("producao"), "{message}");
}

#[test]
fn a_syntax_error_is_explained_in_portuguese() {
    let message = error(&LAB.replace(
        "timezone = \"America/Sao_Paulo\"",
        "timezone = America/Sao_Paulo",
    ));
    assert_portuguese(&message);
    assert!(
        message.contains(", linha 8: erro de sintaxe TOML"),
        "{message}"
    );
    assert!(message.contains("entre aspas"), "{message}");
}

#[test]
fn an_unknown_state_is_refused_on_its_line() {
    let message = error(&LAB.replace("uf = \"SP\"", "uf = \"XX\""));
    assert_portuguese(&message);
    assert!(
        message.contains(", linha 9: [lab] uf = \"XX\" não é uma UF do Brasil"),
        "{message}"
    );
}

#[test]
fn check_needs_no_rnds_section_but_the_network_commands_do() {
    let start = LAB.find("[rnds]").unwrap();
    let end = LAB.find("[[inbox]]").unwrap();
    let offline = format!("{}{}", &LAB[..start], &LAB[end..]);
    let config = Config::parse_for(
        &offline,
        Path::new("t.toml"),
        Path::new("/x"),
        Purpose::Offline,
    )
    .unwrap();
    assert!(!config.rnds.is_configured());
    let message = error(&offline);
    assert!(message.contains("falta a seção [rnds]"), "{message}");
    assert!(message.contains("check"), "{message}");
}

#[test]
fn the_service_needs_an_inbox() {
    let end = LAB.find("[[inbox]]").unwrap();
    let message = error_for(&LAB[..end], Purpose::Service);
    assert!(message.contains("nenhuma pasta de entrada"), "{message}");
    assert!(message.contains("[[inbox]]"), "{message}");
    assert!(Config::parse(&LAB[..end], Path::new("t.toml"), Path::new("/x")).is_ok());
}

#[test]
fn an_unreadable_file_is_explained_in_portuguese() {
    let Err(e @ ConfigError::Read { .. }) = Config::load(Path::new("/nao/existe/rnds-drop.toml"))
    else {
        panic!("a missing file must be a read error");
    };
    let message = e.to_string();
    assert!(
        message.contains("o arquivo ou a pasta não existe"),
        "{message}"
    );
    assert!(!message.contains("os error"), "{message}");
}

#[test]
fn a_section_written_twice_is_named() {
    let message = error(&LAB.replace("[rnds]", "[lab]\nuf = \"SP\"\n\n[rnds]"));
    assert_portuguese(&message);
    assert!(
        message.contains("a seção [lab] aparece duas vezes"),
        "{message}"
    );
}

#[test]
fn an_unknown_column_field_lists_the_fields() {
    let text = format!("{LAB}\n[inbox.columns]\nnumero_pedido = \"Nº Pedido\"\n");
    let message = error(&text);
    assert_portuguese(&message);
    assert!(
        message.contains("[inbox.columns] `numero_pedido` não é um campo conhecido"),
        "{message}"
    );
    assert!(message.contains("lab_id"), "{message}");
}

/// By default the number of requests in flight adapts under a ceiling of
/// 32; `fixed_in_flight` pins it (and must be at least 1).
#[test]
fn in_flight_adapts_under_a_ceiling_unless_fixed() {
    let config = Config::parse(LAB, Path::new("t.toml"), Path::new("/etc/rnds-drop")).unwrap();
    assert_eq!(
        (config.rnds.max_in_flight, config.rnds.fixed_in_flight),
        (32, None)
    );
    assert_eq!(config.rnds.in_flight_ceiling(), 32);
    let fixed = LAB.replace(
        "certificate = \"lab.pfx\"\n",
        "certificate = \"lab.pfx\"\nfixed_in_flight = 8\n",
    );
    let config = Config::parse(&fixed, Path::new("t.toml"), Path::new("/etc/rnds-drop")).unwrap();
    assert_eq!(config.rnds.in_flight_ceiling(), 8);
    let message = error(&fixed.replace("fixed_in_flight = 8", "fixed_in_flight = 0"));
    assert_portuguese(&message);
    assert!(
        message.contains("[rnds] fixed_in_flight deve ser pelo menos 1"),
        "{message}"
    );
}

#[test]
fn the_ledger_is_a_path_or_a_url_never_both() {
    let both = format!(
        "{LAB}\n[ledger]\npath = \"r.sqlite\"\nurl = \"postgres://rnds@127.0.0.1:5432/rnds\"\n"
    );
    let message = error(&both);
    assert!(message.contains("use só um"), "{message}");
    assert_portuguese(&message);
    let password_without_url = format!("{LAB}\n[ledger]\npassword_env = \"PG_SENHA\"\n");
    assert!(error(&password_without_url).contains("só com url"));
    let url = format!(
        "{LAB}\n[ledger]\nurl = \"postgres://rnds@127.0.0.1:5432/rnds\"\npassword_file = \"pg-senha\"\n"
    );
    let config = Config::parse(&url, Path::new("c.toml"), Path::new("/etc/rnds-drop")).unwrap();
    let pg = config.ledger.postgres.unwrap();
    assert_eq!(pg.url, "postgres://rnds@127.0.0.1:5432/rnds");
    assert_eq!(
        pg.password_file.unwrap(),
        Path::new("/etc/rnds-drop/pg-senha")
    );
    let path = Config::parse(LAB, Path::new("c.toml"), Path::new("/etc/rnds-drop")).unwrap();
    assert!(path.ledger.postgres.is_none());
    assert_eq!(
        path.ledger.path,
        Path::new("/etc/rnds-drop/rnds-drop.sqlite")
    );
}

#[test]
fn an_instance_name_and_its_leases_need_a_postgresql_ledger() {
    let pg = "[ledger]\nurl = \"postgres://rnds@127.0.0.1:5432/rnds\"\n";
    let parse = |text: &str| Config::parse(text, Path::new("c.toml"), Path::new("/etc/rnds-drop"));
    let defaults = parse(&format!("{LAB}\n{pg}instance = \"servidor-1\"\n")).unwrap();
    assert_eq!(
        defaults.ledger.postgres.unwrap().instance,
        Some(crate::config::InstanceSettings {
            name: "servidor-1".into(),
            heartbeat_s: 5,
            lease_s: 30,
        })
    );
    let set = parse(&format!(
        "{LAB}\n{pg}instance = \"b\"\nheartbeat_s = 1\nlease_s = 3\n"
    ))
    .unwrap();
    let instance = set.ledger.postgres.unwrap().instance.unwrap();
    assert_eq!((instance.heartbeat_s, instance.lease_s), (1, 3));
    assert!(parse(&format!("{LAB}\n{pg}"))
        .unwrap()
        .ledger
        .postgres
        .unwrap()
        .instance
        .is_none());
    for (text, expected) in [
        (
            format!("{LAB}\n[ledger]\npath = \"r.sqlite\"\ninstance = \"a\"\n"),
            "instance vale só com url",
        ),
        (
            format!("{LAB}\n{pg}lease_s = 30\n"),
            "valem só com instance",
        ),
        (
            format!("{LAB}\n{pg}instance = \"a/b\"\n"),
            "de 1 a 64 letras",
        ),
        (
            format!("{LAB}\n{pg}instance = \"Servidor-1\"\n"),
            "letras minúsculas",
        ),
        (
            format!("{LAB}\n{pg}instance = \"a\"\nheartbeat_s = 5\nlease_s = 10\n"),
            "pelo menos 3 vezes heartbeat_s",
        ),
    ] {
        let message = error(&text);
        assert!(message.contains(expected), "{message}");
        assert_portuguese(&message);
    }
}
