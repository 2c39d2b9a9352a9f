//! A TOML or serde error → one pt-BR sentence naming the line, the section
//! and the key, and saying how to fix it. The line's text is never copied
//! into the message (toml's own rendering does that, password included, when
//! someone writes `certificate_password = "…"`), and the value of a key that
//! looks like a secret is never repeated.
//!
//! Invariant: pure text work over the file's contents; no I/O.

/// Where a problem is and what to say about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Rendered {
    /// 1-based line of the mistake, when one line is to blame.
    pub line: Option<usize>,
    pub message: String,
}

/// Keys whose value must never be repeated (nor live in this file).
pub(super) fn is_secret_key(key: &str) -> bool {
    let key = key.trim().trim_matches('"').to_ascii_lowercase();
    names_a_secret(&key) && !key.ends_with("_env") && !key.ends_with("_file")
}

/// Keys about a secret, `*_password_file` and `*_password_env` included:
/// their value is never repeated either (the password may have been
/// typed where its file or variable belongs).
fn names_a_secret(key: &str) -> bool {
    let key = key.trim().trim_matches('"').to_ascii_lowercase();
    [
        "password",
        "senha",
        "secret",
        "segredo",
        "token",
        "pin",
        "passphrase",
    ]
    .iter()
    .any(|word| key.contains(word))
}

/// A key serde does not know: a password gets its own safe advice.
fn unknown_field_message(within: &str, rest: &str) -> String {
    let (field, accepted) = split_expected(rest);
    if is_secret_key(&field) {
        return format!(
            "{within}{field}: a senha do certificado não pode ficar no arquivo de \
                 configuração. Apague esta linha e informe a senha numa variável de ambiente \
                 (certificate_password_env = \"RNDS_PFX_SENHA\") ou num arquivo legível só \
                 pela conta do serviço (certificate_password_file = \"/etc/rnds-drop/pfx.senha\")"
        );
    }
    format!(
        "{within}a chave `{field}` não existe{}. Confira a grafia ou apague a linha \
             (examples/rnds-drop.toml tem todas as chaves comentadas)",
        if accepted.is_empty() {
            String::new()
        } else {
            format!(" (chaves aceitas aqui: {})", accepted.join(", "))
        }
    )
}

/// A value of the wrong type, with how to write it right (never echoing a
/// secret's value).
fn invalid_type_message(within: &str, key: Option<&str>, key_shown: &str, rest: &str) -> String {
    let (found, expected) = rest.split_once(", expected ").unwrap_or((rest, ""));
    let secret = key.is_some_and(names_a_secret);
    let value = if secret {
        None
    } else {
        found
            .split_once(' ')
            .map(|(_, v)| v.trim_matches(['`', '"']).to_string())
    };
    let fix = match (expected.trim(), value) {
        (e, Some(v)) if e.contains("string") || e.contains("path") => {
            format!("escreva o valor entre aspas: {key_shown} = \"{v}\"")
        }
        (e, _) if e.contains("string") || e.contains("path") => {
            "escreva o valor entre aspas".to_string()
        }
        (e, _) if e.starts_with('u') || e.starts_with('i') || e.contains("integer") => {
            format!("use um número inteiro, sem aspas (ex.: {key_shown} = 30)")
        }
        (e, _) if e.contains("bool") => "use true ou false, sem aspas".to_string(),
        (e, _) if e.contains("sequence") => "use uma lista entre colchetes".to_string(),
        (e, _) if e.contains("map") || e.contains("struct") => {
            format!("{key_shown} é uma seção: escreva [{key_shown}] numa linha e as chaves abaixo")
        }
        _ => "confira o valor em examples/rnds-drop.toml".to_string(),
    };
    format!("{within}{key_shown}: valor do tipo errado; {fix}")
}

pub(super) fn render(text: &str, error: &toml::de::Error) -> Rendered {
    let message = error.message();
    let at = error.span().map(|s| s.start.min(text.len()));
    let place = at.map(|at| Place::of(text, at));
    let line = place.as_ref().map(|p| p.line);
    let section = place
        .as_ref()
        .map(|p| p.section.clone())
        .unwrap_or_default();
    let key = place.as_ref().and_then(|p| p.key.clone());
    let key_shown = key.clone().unwrap_or_default();
    let within = if section.is_empty() {
        String::new()
    } else {
        format!("{section} ")
    };

    if let Some(rest) = message.strip_prefix("unknown field ") {
        let message = unknown_field_message(&within, rest);
        return Rendered { line, message };
    }
    if let Some(rest) = message.strip_prefix("missing field ") {
        let (field, _) = split_expected(rest);
        return match place.filter(|p| p.is_header) {
            Some(p) => Rendered {
                line: Some(p.line),
                message: format!(
                    "{} falta a chave obrigatória `{field}`: acrescente `{field} = …` nesta seção \
                     (veja examples/rnds-drop.toml)",
                    p.section
                ),
            },
            None => Rendered {
                line: None,
                message: format!(
                    "falta a seção [{field}], obrigatória: copie-a de examples/rnds-drop.toml e \
                     preencha os valores do laboratório"
                ),
            },
        };
    }
    if let Some(rest) = message.strip_prefix("unknown variant ") {
        let (value, accepted) = split_expected(rest);
        let accepted = accepted.join(", ");
        // In a map keyed by an enum ([inbox.columns]) the key is the variant.
        let message = if key.as_deref().map(|k| k.trim_matches('"')) == Some(value.as_str()) {
            format!("{within}`{value}` não é um campo conhecido; use um destes: {accepted}")
        } else {
            format!("{within}{key_shown} = \"{value}\" não é um valor aceito; use um destes: {accepted}")
        };
        return Rendered { line, message };
    }
    if let Some(rest) = message.strip_prefix("invalid type: ") {
        let message = invalid_type_message(&within, key.as_deref(), &key_shown, rest);
        return Rendered { line, message };
    }
    if message.starts_with("invalid value") || message.starts_with("invalid length") {
        return Rendered {
            line,
            message: format!(
                "{within}{key_shown}: valor inválido; confira o formato em examples/rnds-drop.toml"
            ),
        };
    }
    if message.starts_with("duplicate key") {
        let message = match place.as_ref() {
            Some(p) if p.is_header => format!(
                "a seção {} aparece duas vezes: junte as chaves numa seção só e apague a outra",
                p.section
            ),
            _ => format!("{within}a chave `{key_shown}` aparece duas vezes: apague uma delas"),
        };
        return Rendered { line, message };
    }
    // Everything else comes from the TOML parser itself.
    let column = place.as_ref().map_or(1, |p| p.column);
    Rendered {
        line,
        message: format!(
            "erro de sintaxe TOML na coluna {column}{}: confira nesta linha as aspas (textos vão \
             entre aspas: cnes = \"2337991\"), o sinal = entre a chave e o valor e os colchetes \
             das seções ([lab], [[inbox]])",
            if section.is_empty() {
                String::new()
            } else {
                format!(" (seção {section})")
            }
        ),
    }
}

/// `` `name`, expected one of `a`, `b` `` → (`name`, [`a`, `b`]).
fn split_expected(rest: &str) -> (String, Vec<String>) {
    let (first, expected) = rest.split_once(", expected").unwrap_or((rest, ""));
    let name = first.trim().trim_matches('`').to_string();
    let accepted = expected
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect();
    (name, accepted)
}

/// The line, column, enclosing section and key at a byte offset.
#[derive(Debug, Clone)]
pub(super) struct Place {
    pub line: usize,
    pub column: usize,
    /// The nearest `[table]` or `[[array]]` header at or above the line.
    pub section: String,
    /// The key of a `key = value` line.
    pub key: Option<String>,
    /// The line is itself a header.
    pub is_header: bool,
}

impl Place {
    pub(super) fn of(text: &str, at: usize) -> Place {
        let at = floor_char_boundary(text, at);
        let before = &text[..at];
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let line = before.matches('\n').count() + 1;
        let column = text[line_start..at].chars().count() + 1;
        let line_text = text[line_start..].lines().next().unwrap_or("");
        let is_header = line_text.trim_start().starts_with('[');
        let section = text[..line_start + line_text.len()]
            .lines()
            .rev()
            .map(str::trim)
            .find(|l| l.starts_with('['))
            .map(header_name)
            .unwrap_or_default();
        let key = (!is_header)
            .then(|| line_text.split_once('='))
            .flatten()
            .map(|(k, _)| k.trim().to_string())
            .filter(|k| !k.is_empty() && !k.starts_with('#'));
        Place {
            line,
            column,
            section,
            key,
            is_header,
        }
    }
}

/// `[lab]  # comentário` → `[lab]`.
fn header_name(line: &str) -> String {
    let close = if line.starts_with("[[") { "]]" } else { "]" };
    match line.find(close) {
        Some(end) => line[..end + close.len()].to_string(),
        None => line.to_string(),
    }
}

/// The 1-based line of `key = …` inside the `n`-th (0-based) occurrence of
/// `header`, or of the header itself when `key` is `None`.
pub(super) fn line_of(text: &str, header: &str, n: usize, key: Option<&str>) -> Option<usize> {
    let mut seen = 0usize;
    let mut inside = false;
    for (i, raw) in text.lines().enumerate() {
        let l = raw.trim();
        if l.starts_with('[') {
            inside = header_name(l) == header && {
                seen += 1;
                seen == n + 1
            };
            if inside && key.is_none() {
                return Some(i + 1);
            }
            continue;
        }
        if inside {
            if let (Some(key), Some((k, _))) = (key, l.split_once('=')) {
                if k.trim().trim_matches('"') == key {
                    return Some(i + 1);
                }
            }
        }
    }
    None
}

fn floor_char_boundary(text: &str, mut at: usize) -> usize {
    at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}
