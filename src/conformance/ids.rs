//! Identifier check digits as the contract states them, written here
//! independently from `validate`, so a bug there cannot hide behind the same
//! bug in the checker.
//!
//! Invariant: pure functions on strings.

fn digits(value: &str, len: usize) -> Option<Vec<u32>> {
    if value.len() != len {
        return None;
    }
    value.chars().map(|c| c.to_digit(10)).collect()
}

/// CNS: 15 digits; definitive (1, 2) with `000`/`001` at positions 12–14,
/// or provisional (7, 8, 9); weighted sum (15..1) divisible by 11.
pub(crate) fn cns_is_valid(value: &str) -> bool {
    let Some(d) = digits(value, 15) else {
        return false;
    };
    let sum: u32 = d.iter().zip((1..=15).rev()).map(|(a, w)| a * w).sum();
    let sum_ok = sum.is_multiple_of(11);
    match d[0] {
        1 | 2 => matches!(&value[11..14], "000" | "001") && sum_ok,
        7..=9 => sum_ok,
        _ => false,
    }
}

fn mod11(values: &[u32], weights: &[u32]) -> u32 {
    let r = values.iter().zip(weights).map(|(a, w)| a * w).sum::<u32>() % 11;
    if r < 2 {
        0
    } else {
        11 - r
    }
}

/// CPF: 11 digits, two mod-11 check digits, not all equal.
pub(crate) fn cpf_is_valid(value: &str) -> bool {
    let Some(d) = digits(value, 11) else {
        return false;
    };
    if d.iter().all(|&x| x == d[0]) {
        return false;
    }
    let w: Vec<u32> = (2..=11).rev().collect();
    mod11(&d[..9], &w[1..]) == d[9] && mod11(&d[..10], &w) == d[10]
}

/// CNPJ: 14 characters; the first 12 may be `0-9`/`A-Z` (value = ASCII − 48),
/// check digits numeric.
pub(crate) fn cnpj_is_valid(value: &str) -> bool {
    let b = value.as_bytes();
    if b.len() != 14 || !b[12..].iter().all(u8::is_ascii_digit) {
        return false;
    }
    if !b[..12]
        .iter()
        .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
    {
        return false;
    }
    let v: Vec<u32> = b.iter().map(|&c| u32::from(c) - 48).collect();
    const W2: [u32; 13] = [6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2];
    mod11(&v[..12], &W2[1..]) == v[12] && mod11(&v[..13], &W2) == v[13]
}

/// CNES: exactly 7 digits in a bundle (padding is the sender's job).
pub(crate) fn cnes_is_valid(value: &str) -> bool {
    digits(value, 7).is_some()
}

/// A FHIR `instant`: `YYYY-MM-DDThh:mm:ss[.fff](Z|±hh:mm)`.
pub(super) fn is_instant(value: &str) -> bool {
    value.len() >= 20
        && value.as_bytes()[10] == b'T'
        && chrono::DateTime::parse_from_rfc3339(value).is_ok()
}

/// A FHIR `dateTime`: `YYYY`, `YYYY-MM`, `YYYY-MM-DD`, or a date-time with
/// seconds and its UTC offset.
pub(super) fn is_date_time(value: &str) -> bool {
    let b = value.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    match b.len() {
        4 => digits(0..4),
        7 => {
            digits(0..4)
                && b[4] == b'-'
                && chrono::NaiveDate::parse_from_str(&format!("{value}-01"), "%Y-%m-%d").is_ok()
        }
        10 => chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d").is_ok(),
        _ => is_instant(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cns_rules_of_the_contract() {
        assert!(cns_is_valid("123456789010000"));
        assert!(cns_is_valid("162534432180007"));
        assert!(cns_is_valid("700000000000005"));
        assert!(!cns_is_valid("123456789010001"));
        assert!(!cns_is_valid("300000000000003"));
        assert!(!cns_is_valid("12345678901000"));
    }

    #[test]
    fn fhir_date_times() {
        assert!(is_date_time("2021-06-08T09:23:00-03:00"));
        assert!(is_date_time("2021-06-08T09:23:00.123Z"));
        assert!(is_date_time("2021-06-08"));
        assert!(is_date_time("2021-06"));
        assert!(is_date_time("2021"));
        assert!(!is_date_time("2021-06-08T09:23:00"), "no offset");
        assert!(!is_date_time("2021-13"));
        assert!(!is_date_time("08/06/2021"));
        assert!(!is_date_time("2021-06-08 09:23:00-03:00"));
        assert!(is_instant("2021-06-08T09:23:00-03:00"));
        assert!(!is_instant("2021-06-08"));
    }

    #[test]
    fn cpf_and_cnpj_check_digits() {
        assert!(cnpj_is_valid("11222333000181"));
        assert!(!cnpj_is_valid("11222333000182"));
        assert!(cpf_is_valid("52998224725"));
        assert!(!cpf_is_valid("52998224724"));
        assert!(!cpf_is_valid("11111111111"));
        assert!(cnes_is_valid("2337991"));
        assert!(!cnes_is_valid("233799"));
    }
}
