//! The folders of `[[inbox]]`: each inbox must exist (the service refuses
//! to start otherwise) and each outbox must be a folder or creatable.
//!
//! Invariant: reads metadata only; creates nothing.

use std::path::Path;

use super::CheckStatus;
use crate::config::Config;

pub(super) fn check_folders(config: &Config) -> (CheckStatus, String) {
    if config.inbox.is_empty() {
        return (
            CheckStatus::Warning,
            "nenhuma pasta de entrada ([[inbox]]): check e send funcionam, mas o serviço (run) \
             não inicia sem pelo menos uma; veja examples/rnds-drop.toml"
                .into(),
        );
    }
    let mut problems = Vec::new();
    for inbox in &config.inbox {
        if let Some(problem) = not_a_folder(&inbox.path, "a pasta de entrada (path)", false) {
            problems.push(problem);
        }
        if let Some(problem) = not_a_folder(&inbox.outbox, "a pasta de relatórios (outbox)", true)
        {
            problems.push(problem);
        }
    }
    if problems.is_empty() {
        let names: Vec<String> = config
            .inbox
            .iter()
            .map(|i| i.path.display().to_string())
            .collect();
        (
            CheckStatus::Passed,
            format!("entrada em {}", names.join(", ")),
        )
    } else {
        (CheckStatus::ConfigurationProblem, problems.join("; "))
    }
}

/// Why `path` cannot serve as `what`, if it cannot. A missing outbox is
/// fine when its parent exists (the service creates it).
fn not_a_folder(path: &Path, what: &str, may_create: bool) -> Option<String> {
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_dir() => None,
        Ok(_) => Some(format!(
            "{what} {} é um arquivo, não uma pasta: aponte [[inbox]] para uma pasta",
            path.display()
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let parent_exists = path
                .parent()
                .is_some_and(|p| p.as_os_str().is_empty() || p.is_dir());
            if may_create && parent_exists {
                None
            } else {
                Some(format!(
                    "{what} {} não existe: crie-a (ex.: mkdir) ou corrija o caminho em [[inbox]]",
                    path.display()
                ))
            }
        }
        Err(e) => Some(format!(
            "{what} {}: {}",
            path.display(),
            crate::io_text::reason(&e)
        )),
    }
}
