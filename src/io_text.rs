//! pt-BR words for operating-system errors. `std::io::Error`'s own text is
//! English ("No such file or directory (os error 2)") and, under Wine or on
//! Windows, sometimes only a number; lab staff read these sentences.
//!
//! Invariant: pure; knows no paths, no files, no configuration.

use std::io::{Error, ErrorKind};

/// What went wrong, in pt-BR, without the raw English text. The system's
/// error number is kept (in words) only when no kind explains it.
pub(crate) fn reason(error: &Error) -> String {
    let text = match error.kind() {
        ErrorKind::NotFound => "o arquivo ou a pasta não existe",
        ErrorKind::PermissionDenied => {
            "sem permissão de acesso (confira o dono e as permissões do arquivo ou da pasta)"
        }
        ErrorKind::AlreadyExists => "já existe um arquivo com esse nome",
        ErrorKind::NotADirectory => "o caminho aponta para um arquivo, não para uma pasta",
        ErrorKind::IsADirectory => "o caminho aponta para uma pasta, não para um arquivo",
        ErrorKind::StorageFull => "o disco está cheio",
        ErrorKind::ReadOnlyFilesystem => "o disco ou compartilhamento está somente para leitura",
        ErrorKind::InvalidData => "o conteúdo não é texto UTF-8 válido",
        ErrorKind::UnexpectedEof => "o arquivo terminou antes do esperado (incompleto?)",
        ErrorKind::DirectoryNotEmpty => "a pasta não está vazia",
        ErrorKind::ResourceBusy => "o arquivo está em uso por outro programa",
        ErrorKind::CrossesDevices => "origem e destino estão em discos diferentes",
        ErrorKind::TimedOut => "o tempo de espera acabou",
        ErrorKind::Interrupted => "a operação foi interrompida",
        _ => {
            return match error.raw_os_error() {
                Some(code) => format!("erro do sistema operacional número {code}"),
                None => "erro de entrada e saída do sistema operacional".to_string(),
            }
        }
    };
    text.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_errors_read_in_portuguese_without_the_os_text() {
        let missing = std::fs::read("/nao/existe/rnds-drop.toml").unwrap_err();
        let text = reason(&missing);
        assert_eq!(text, "o arquivo ou a pasta não existe");
        assert!(!text.contains("os error"));
        assert_eq!(
            reason(&Error::from(ErrorKind::StorageFull)),
            "o disco está cheio"
        );
        // An unexplained code keeps its number, in words.
        assert_eq!(
            reason(&Error::from_raw_os_error(1_234_567)),
            "erro do sistema operacional número 1234567"
        );
    }
}

/// `name` when it has at most `max_bytes` bytes; otherwise its start (cut
/// on a character boundary) and `~` with 16 hex digits of the whole name's
/// SHA-256, `max_bytes` long at most, so two long names that share a start
/// stay apart. For file names built from a lab's file name: most file
/// systems refuse names over 255 bytes, and 110 accented characters are
/// already 220.
pub(crate) fn bounded_name(name: &str, max_bytes: usize) -> String {
    use sha2::{Digest, Sha256};
    use std::fmt::Write;
    const TAIL: usize = 17;
    if name.len() <= max_bytes {
        return name.to_owned();
    }
    let mut cut = max_bytes.saturating_sub(TAIL);
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    let mut out = String::with_capacity(max_bytes);
    out.push_str(&name[..cut]);
    out.push('~');
    for byte in &Sha256::digest(name.as_bytes())[..8] {
        let _ = write!(out, "{byte:02x}");
    }
    out
}

#[cfg(test)]
mod bounded_name_tests {
    use super::bounded_name;

    #[test]
    fn long_names_are_cut_on_a_character_and_kept_apart() {
        let a = format!("{}a", "ã".repeat(110));
        let b = format!("{}b", "ã".repeat(110));
        let (short_a, short_b) = (bounded_name(&a, 120), bounded_name(&b, 120));
        assert!(short_a.len() <= 120, "{}", short_a.len());
        assert!(short_a.starts_with("ããã"));
        assert_ne!(short_a, short_b);
        assert_eq!(bounded_name("exames", 120), "exames");
    }
}
