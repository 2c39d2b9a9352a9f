//! Brazilian identifier check digits: CNS, CPF, CNPJ (numeric and the
//! alphanumeric form valid from July 2026) and CNES, as the RNDS contract
//! states them. Formatted input (`100.096.867-70`, spaces) is accepted:
//! punctuation and spaces are stripped first.
//!
//! Invariant: pure arithmetic on text; knows no row, column or message.

/// Why an identifier was refused, for the message shown to the lab.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IdProblem {
    /// Not the expected number of digits/characters (after stripping).
    Length { expected: usize, found: usize },
    /// A character that is not allowed (a letter in a CNS, say).
    Character,
    /// A CNS that starts with neither 1, 2, 7, 8 nor 9.
    FirstDigit,
    /// A definitive CNS (1/2) whose digits 12–14 are not `000` or `001`.
    DefinitiveCnsMiddle,
    /// All digits equal (CPF `111.111.111-11`).
    Repeated,
    /// The check digits do not match.
    CheckDigit,
    /// Excel showed the number in scientific notation (`7,85957E+14`) and
    /// the export kept that text: the last digits are lost for good.
    ExcelScientific,
}

/// `7,85957E+14`, `7.85957e+14`, `1E+15`: what Excel writes for a long
/// number in a "Geral" column. The digits it dropped cannot be recovered.
pub(crate) fn is_excel_scientific(text: &str) -> bool {
    let t = text.trim();
    let Some((mantissa, exponent)) = t.split_once(['E', 'e']) else {
        return false;
    };
    let exponent = exponent.strip_prefix('+').unwrap_or(exponent);
    let (whole, fraction) = mantissa.split_once([',', '.']).unwrap_or((mantissa, "0"));
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    all_digits(whole) && all_digits(fraction) && all_digits(exponent)
}

/// `text` without the separators people type: `.`, `-`, `/`, spaces.
pub(crate) fn strip_formatting(text: &str) -> String {
    text.chars().filter(|&c| !is_separator(c)).collect()
}

fn is_separator(c: char) -> bool {
    matches!(c, '.' | '-' | '/' | ' ' | '\u{a0}' | '\t' | '_')
}

/// The digits of `text` once separators are dropped, exactly `N` of them.
fn digits<const N: usize>(text: &str) -> Result<[u32; N], IdProblem> {
    if is_excel_scientific(text) {
        return Err(IdProblem::ExcelScientific);
    }
    let mut values = [0; N];
    let mut found = 0;
    for c in text.chars() {
        if is_separator(c) {
            continue;
        }
        let digit = c.to_digit(10).ok_or(IdProblem::Character)?;
        if let Some(slot) = values.get_mut(found) {
            *slot = digit;
        }
        found += 1;
    }
    if found != N {
        return Err(IdProblem::Length { expected: N, found });
    }
    Ok(values)
}

/// A CNS: 15 digits; 1/2 definitive (digits 12–14 `000` or `001`), 7/8/9
/// provisional; the weighted sum (weights 15..1) divisible by 11.
pub(crate) fn check_cns(text: &str) -> Result<String, IdProblem> {
    let d = digits::<15>(text)?;
    match d[0] {
        1 | 2 => {
            if !(d[11] == 0 && d[12] == 0 && d[13] <= 1) {
                return Err(IdProblem::DefinitiveCnsMiddle);
            }
        }
        7..=9 => {}
        _ => return Err(IdProblem::FirstDigit),
    }
    let sum: u32 = d.iter().zip((1..=15).rev()).map(|(x, w)| x * w).sum();
    if !sum.is_multiple_of(11) {
        return Err(IdProblem::CheckDigit);
    }
    Ok(to_text(&d))
}

#[cfg(test)]
pub(crate) fn is_valid_cns(text: &str) -> bool {
    check_cns(text).is_ok()
}

fn mod11_digit(values: &[u32], weights: &[u32]) -> u32 {
    let sum: u32 = values.iter().zip(weights).map(|(v, w)| v * w).sum();
    let r = sum % 11;
    if r < 2 {
        0
    } else {
        11 - r
    }
}

fn to_text(d: &[u32]) -> String {
    let mut text = String::with_capacity(d.len());
    text.extend(d.iter().filter_map(|&x| char::from_digit(x, 10)));
    text
}

/// A CPF: 11 digits, two mod-11 check digits, not all digits equal.
pub(crate) fn check_cpf(text: &str) -> Result<String, IdProblem> {
    let d = digits::<11>(text)?;
    if d.iter().all(|&x| x == d[0]) {
        return Err(IdProblem::Repeated);
    }
    let w1: Vec<u32> = (2..=10).rev().collect();
    let w2: Vec<u32> = (2..=11).rev().collect();
    if mod11_digit(&d[..9], &w1) != d[9] || mod11_digit(&d[..10], &w2) != d[10] {
        return Err(IdProblem::CheckDigit);
    }
    Ok(to_text(&d))
}

#[cfg(test)]
pub(crate) fn is_valid_cpf(text: &str) -> bool {
    check_cpf(text).is_ok()
}

const CNPJ_W1: [u32; 12] = [5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2];
const CNPJ_W2: [u32; 13] = [6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2];

/// A CNPJ: 14 characters; the first 12 are `0-9` or (from July 2026)
/// `A-Z`, valued ASCII − 48; the last two are numeric mod-11 check digits.
/// Returns the CNPJ uppercased without formatting.
pub(crate) fn check_cnpj(text: &str) -> Result<String, IdProblem> {
    let stripped = strip_formatting(text).to_ascii_uppercase();
    let chars: Vec<char> = stripped.chars().collect();
    if chars.len() != 14 {
        return Err(IdProblem::Length {
            expected: 14,
            found: chars.len(),
        });
    }
    let mut values = Vec::with_capacity(14);
    for (i, &c) in chars.iter().enumerate() {
        let ok = if i < 12 {
            c.is_ascii_digit() || c.is_ascii_uppercase()
        } else {
            c.is_ascii_digit()
        };
        if !ok {
            return Err(IdProblem::Character);
        }
        values.push(c as u32 - 48);
    }
    if values.iter().all(|&v| v == values[0]) {
        return Err(IdProblem::Repeated);
    }
    if mod11_digit(&values[..12], &CNPJ_W1) != values[12]
        || mod11_digit(&values[..13], &CNPJ_W2) != values[13]
    {
        return Err(IdProblem::CheckDigit);
    }
    Ok(stripped)
}

/// A CNES: up to 7 digits, left-padded with zeros (no public check digit).
pub(crate) fn normalize_cnes(text: &str) -> Result<String, IdProblem> {
    let stripped = strip_formatting(text);
    if stripped.is_empty() || !stripped.bytes().all(|b| b.is_ascii_digit()) {
        return Err(IdProblem::Character);
    }
    if stripped.len() > 7 {
        return Err(IdProblem::Length {
            expected: 7,
            found: stripped.len(),
        });
    }
    if stripped.len() == 7 {
        // Nearly every CNES: no padding to do (`format!` cost ~500
        // instructions a row).
        return Ok(stripped);
    }
    Ok(format!("{stripped:0>7}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Completes 14 digits into a valid CNS by solving for the last digit
    /// when possible (for provisional numbers), or returns None.
    fn complete_cns(prefix14: &str) -> Option<String> {
        (0..10).find_map(|last| {
            let candidate = format!("{prefix14}{last}");
            is_valid_cns(&candidate).then_some(candidate)
        })
    }

    /// A definitive CNS the way it is issued: 11 base digits, then `000`
    /// and a check digit, or `001` when the check digit would be 10.
    fn definitive_cns(base11: &str) -> String {
        let d: Vec<u32> = base11.chars().filter_map(|c| c.to_digit(10)).collect();
        let sum: u32 = d.iter().zip((5..=15).rev()).map(|(x, w)| x * w).sum();
        let mut dv = 11 - sum % 11;
        if dv == 11 {
            dv = 0;
        }
        if dv == 10 {
            let sum2 = sum + 2;
            let dv2 = (11 - sum2 % 11) % 11;
            format!("{base11}001{dv2}")
        } else {
            format!("{base11}000{dv}")
        }
    }

    #[test]
    fn definitive_cns_built_like_the_issuer_is_valid() {
        let mut checked = 0;
        for base in [
            "12345678901",
            "20000000001",
            "16532004823",
            "29876543210",
            "10000000000",
        ] {
            let cns = definitive_cns(base);
            assert_eq!(check_cns(&cns), Ok(cns.clone()), "{cns}");
            checked += 1;
        }
        assert_eq!(checked, 5);
        // One that needs the 001 branch: find one among a few bases.
        let with_001 = (0..200)
            .map(|i| definitive_cns(&format!("1{:010}", i * 7919)))
            .find(|c| &c[11..14] == "001")
            .unwrap();
        assert!(is_valid_cns(&with_001), "{with_001}");
    }

    #[test]
    fn literal_cns_numbers() {
        // Provisional numbers produced by /work/shared/perf/gen_exames.py's rule.
        let provisional = complete_cns("89800000000000").unwrap();
        assert!(is_valid_cns(&provisional));
        assert!(is_valid_cns("700000000000005")); // 7*15 = 105, +5 = 110 = 11*10
                                                  // The first rows of gen_exames.py's output (random.seed(1)).
        assert!(is_valid_cns("786570704999622"));
        assert!(is_valid_cns("841224824475771"));
        assert!(!is_valid_cns("841224824475772"));
        // Definitive numbers (base + 000 + check digit), computed by hand.
        assert!(is_valid_cns("123456789010000"));
        assert!(is_valid_cns("270519991130003"));
        assert!(is_valid_cns("165320048230004"));
        assert!(!is_valid_cns("165320048230005"));
        assert_eq!(
            check_cns("123456789012345"),
            Err(IdProblem::DefinitiveCnsMiddle)
        );
        assert_eq!(check_cns("700000000000006"), Err(IdProblem::CheckDigit));
        assert_eq!(check_cns("300000000000000"), Err(IdProblem::FirstDigit));
        assert_eq!(
            check_cns("34719948"),
            Err(IdProblem::Length {
                expected: 15,
                found: 8
            })
        );
        assert_eq!(check_cns("70000000000000A"), Err(IdProblem::Character));
        assert_eq!(check_cns("7,85957E+14"), Err(IdProblem::ExcelScientific));
        assert_eq!(check_cns("7.85957e+14"), Err(IdProblem::ExcelScientific));
        assert_eq!(check_cpf("1,23457E+10"), Err(IdProblem::ExcelScientific));
        assert_eq!(
            check_cns("700 0000 0000 0005"),
            Ok("700000000000005".into())
        );
    }

    #[test]
    fn cns_with_a_definitive_prefix_needs_000_or_001() {
        assert_eq!(
            check_cns("100000000001230"),
            Err(IdProblem::DefinitiveCnsMiddle)
        );
        assert_eq!(
            check_cns("200000000000020"),
            Err(IdProblem::DefinitiveCnsMiddle)
        );
    }

    #[test]
    fn cpf_rules() {
        assert_eq!(check_cpf("529.982.247-25"), Ok("52998224725".into()));
        assert!(is_valid_cpf("52998224725"));
        assert_eq!(check_cpf("529.982.247-26"), Err(IdProblem::CheckDigit));
        assert_eq!(check_cpf("111.111.111-11"), Err(IdProblem::Repeated));
        assert_eq!(check_cpf("000.000.000-00"), Err(IdProblem::Repeated));
        assert_eq!(
            check_cpf("5299822472"),
            Err(IdProblem::Length {
                expected: 11,
                found: 10
            })
        );
        // The e-SUS sample's formatted CPF: accepted as input, judged by digits.
        assert_eq!(
            check_cpf("100.096.867-70").is_ok(),
            check_cpf("10009686770").is_ok()
        );
    }

    #[test]
    fn cnpj_numeric_and_alphanumeric() {
        assert_eq!(
            check_cnpj("11.222.333/0001-81"),
            Ok("11222333000181".into())
        );
        assert_eq!(check_cnpj("11.222.333/0001-82"), Err(IdProblem::CheckDigit));
        // Receita Federal's published example of the alphanumeric CNPJ.
        assert_eq!(
            check_cnpj("12.ABC.345/01DE-35"),
            Ok("12ABC34501DE35".into())
        );
        assert_eq!(check_cnpj("12abc34501de35"), Ok("12ABC34501DE35".into()));
        assert_eq!(check_cnpj("12.ABC.345/01DE-36"), Err(IdProblem::CheckDigit));
        assert_eq!(check_cnpj("12.ABC.345/01DE-3A"), Err(IdProblem::Character));
        assert_eq!(check_cnpj("00.000.000/0000-00"), Err(IdProblem::Repeated));
    }

    #[test]
    fn cnes_is_padded_to_seven_digits() {
        assert_eq!(normalize_cnes("2337991"), Ok("2337991".into()));
        assert_eq!(normalize_cnes("200933"), Ok("0200933".into()));
        assert_eq!(
            normalize_cnes("170570523300002"),
            Err(IdProblem::Length {
                expected: 7,
                found: 15
            })
        );
        assert_eq!(normalize_cnes("23A7991"), Err(IdProblem::Character));
        assert_eq!(normalize_cnes(""), Err(IdProblem::Character));
    }
}
