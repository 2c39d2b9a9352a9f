use chrono::TimeZone;

use super::*;

fn day(year: i32, month: u32, day: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(year, month, day, 0, 0, 0).unwrap()
}

fn uri() -> StoreUri {
    StoreUri {
        location: StoreLocation::LocalMachine,
        name: "My".into(),
    }
}

fn candidate(fill: u8, number: &str, from: DateTime<Utc>, to: DateTime<Utc>) -> Candidate {
    Candidate {
        thumbprint: [fill; 20],
        subject: format!("CN=LAB EXEMPLO LTDA:{number}"),
        cnpj_or_cpf: Some(number.into()),
        not_before: from,
        not_after: to,
        has_key: true,
    }
}

fn by_cnpj(number: &str) -> StoreSelector {
    StoreSelector {
        thumbprint: None,
        cnpj_or_cpf: Some(number.into()),
    }
}

const CNPJ: &str = "12345678000195";

#[test]
fn store_uris_as_a_lab_writes_them() {
    for (text, location) in [
        ("store:CurrentUser\\My", StoreLocation::CurrentUser),
        ("store:LocalMachine\\My", StoreLocation::LocalMachine),
        ("store:localmachine/My", StoreLocation::LocalMachine),
        ("STORE:CurrentUser/My", StoreLocation::CurrentUser),
    ] {
        let parsed = parse_store_uri(text).unwrap();
        assert_eq!(parsed.location, location, "{text}");
        assert_eq!(parsed.name, "My");
    }
    assert_eq!(
        parse_store_uri("store:LocalMachine\\My")
            .unwrap()
            .to_string(),
        "LocalMachine\\My"
    );
    assert!(is_store(Path::new("store:LocalMachine\\My")));
    assert!(!is_store(Path::new("C:\\certs\\lab.pfx")));
    assert!(!is_store(Path::new("store.pfx")));
}

#[test]
fn bad_store_uris_say_how_to_write_them() {
    for text in [
        "store:LocalMachine",
        "store:Maquina\\My",
        "store:LocalMachine\\",
        "store:LocalMachine\\My\\x",
    ] {
        let message = parse_store_uri(text).unwrap_err();
        assert!(
            message.contains("store:LocalMachine\\My") && message.contains(text),
            "{text}: {message}"
        );
    }
}

#[test]
fn thumbprints_as_windows_shows_them() {
    let expected = [
        0x3b, 0x1f, 0x0c, 0x9a, 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa,
        0xbb, 0xcc, 0xdd, 0xee, 0xff,
    ];
    for text in [
        "3b1f0c9a00112233445566778899aabbccddeeff",
        "3B1F0C9A00112233445566778899AABBCCDDEEFF",
        "3b 1f 0c 9a 00 11 22 33 44 55 66 77 88 99 aa bb cc dd ee ff",
        // Copied from the certificate dialog: an invisible mark in front.
        "\u{200E}3b 1f 0c 9a 00 11 22 33 44 55 66 77 88 99 aa bb cc dd ee ff",
        "3B:1F:0C:9A:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF",
    ] {
        assert_eq!(parse_thumbprint(text).unwrap(), expected, "{text:?}");
    }
    assert_eq!(
        thumbprint_text(&expected),
        "3B1F0C9A00112233445566778899AABBCCDDEEFF"
    );
    for bad in ["3b1f", "zz1f0c9a00112233445566778899aabbccddeeff", ""] {
        let message = parse_thumbprint(bad).unwrap_err();
        assert!(message.contains("40"), "{message}");
    }
}

#[test]
fn cnpj_and_cpf_with_or_without_punctuation() {
    assert_eq!(parse_cnpj_or_cpf("12.345.678/0001-95").unwrap(), CNPJ);
    assert_eq!(parse_cnpj_or_cpf(CNPJ).unwrap(), CNPJ);
    assert_eq!(parse_cnpj_or_cpf("123.456.789-09").unwrap(), "12345678909");
    assert!(parse_cnpj_or_cpf("1234567800019").is_err());
    assert!(parse_cnpj_or_cpf("12.345.678/0001-9X").is_err());
}

#[test]
fn after_a_renewal_the_valid_one_that_expires_last_is_chosen() {
    let now = day(2026, 6, 1);
    let candidates = [
        candidate(1, CNPJ, day(2025, 1, 1), day(2026, 1, 1)), // expired
        candidate(2, CNPJ, day(2025, 6, 1), day(2026, 7, 1)), // about to expire
        candidate(3, CNPJ, day(2026, 5, 1), day(2027, 5, 1)), // the renewal
        candidate(4, "98765432000110", day(2026, 5, 1), day(2028, 1, 1)), // another lab
        candidate(5, CNPJ, day(2026, 7, 1), day(2028, 7, 1)), // not valid yet
    ];
    assert_eq!(choose(&uri(), &by_cnpj(CNPJ), &candidates, now), Ok(2));
}

#[test]
fn a_thumbprint_picks_exactly_that_certificate() {
    let now = day(2026, 6, 1);
    let candidates = [
        candidate(2, CNPJ, day(2025, 6, 1), day(2026, 7, 1)),
        candidate(3, CNPJ, day(2026, 5, 1), day(2027, 5, 1)),
    ];
    let selector = StoreSelector {
        thumbprint: Some([2; 20]),
        cnpj_or_cpf: None,
    };
    assert_eq!(choose(&uri(), &selector, &candidates, now), Ok(0));
    let both_must_match = StoreSelector {
        thumbprint: Some([2; 20]),
        cnpj_or_cpf: Some("98765432000110".into()),
    };
    let message = choose(&uri(), &both_must_match, &candidates, now).unwrap_err();
    assert!(message.contains("nenhum certificado"), "{message}");
}

#[test]
fn two_certificates_valid_until_the_same_instant_are_refused() {
    let now = day(2026, 6, 1);
    let candidates = [
        candidate(2, CNPJ, day(2026, 1, 1), day(2027, 1, 1)),
        candidate(3, CNPJ, day(2026, 2, 1), day(2027, 1, 1)),
    ];
    let message = choose(&uri(), &by_cnpj(CNPJ), &candidates, now).unwrap_err();
    assert!(
        message.contains("não escolhe ao acaso")
            && message.contains("certificate_thumbprint")
            && message.contains(&thumbprint_text(&[2; 20]))
            && message.contains(&thumbprint_text(&[3; 20])),
        "{message}"
    );
    // The same certificate listed twice is no ambiguity.
    let twice = [candidates[0].clone(), candidates[0].clone()];
    assert_eq!(choose(&uri(), &by_cnpj(CNPJ), &twice, now), Ok(0));
}

#[test]
fn nothing_usable_says_why() {
    let now = day(2026, 6, 1);
    let empty = choose(&uri(), &by_cnpj(CNPJ), &[], now).unwrap_err();
    assert!(empty.contains("não tem nenhum certificado"), "{empty}");

    let other = [candidate(
        4,
        "98765432000110",
        day(2026, 1, 1),
        day(2027, 1, 1),
    )];
    let message = choose(&uri(), &by_cnpj(CNPJ), &other, now).unwrap_err();
    assert!(
        message.contains("CNPJ 12345678000195") && message.contains("98765432000110"),
        "{message}"
    );

    let mut without_key = candidate(2, CNPJ, day(2026, 1, 1), day(2027, 1, 1));
    without_key.has_key = false;
    let message = choose(&uri(), &by_cnpj(CNPJ), &[without_key], now).unwrap_err();
    assert!(message.contains("Gerenciar Chaves Privadas"), "{message}");

    let expired = [candidate(1, CNPJ, day(2025, 1, 1), day(2026, 1, 1))];
    let message = choose(&uri(), &by_cnpj(CNPJ), &expired, now).unwrap_err();
    assert!(
        message.contains("nenhum certificado") && message.contains("válido agora"),
        "{message}"
    );
}

#[test]
fn the_number_in_an_icp_brasil_common_name() {
    assert_eq!(
        cnpj_or_cpf_in_common_name("LAB EXEMPLO LTDA:12345678000195").as_deref(),
        Some(CNPJ)
    );
    assert_eq!(
        cnpj_or_cpf_in_common_name("MARIA DA SILVA:12345678909").as_deref(),
        Some("12345678909")
    );
    assert_eq!(cnpj_or_cpf_in_common_name("LAB EXEMPLO LTDA"), None);
    assert_eq!(cnpj_or_cpf_in_common_name("LAB:1234"), None);
}
