//! The command line in Portuguese: clap's help laid out with pt-BR
//! headings (templates, our own `-h`/`-V` flags, defaults written into each
//! option's text) and its usage errors reworded from their kind and
//! context, so lab staff never meet "Usage:" or "error: unexpected
//! argument".
//!
//! Invariant: wording only; which arguments exist is `cli.rs`.

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{Arg, ArgAction, Command};

/// `cmd` and every subcommand with pt-BR help; `path` is how a person
/// types the command (`rnds-drop check`).
pub(crate) fn localize(cmd: Command) -> Command {
    let path = cmd.get_name().to_string();
    localize_at(cmd, &path, true)
}

fn localize_at(cmd: Command, path: &str, root: bool) -> Command {
    let mut cmd = cmd
        .disable_help_flag(true)
        .disable_help_subcommand(true)
        .arg(
            Arg::new("ajuda")
                .short('h')
                .long("help")
                .action(ArgAction::Help)
                .help("Mostra esta ajuda"),
        )
        .mut_args(with_default_in_text);
    if root {
        cmd = cmd.disable_version_flag(true).arg(
            Arg::new("versao")
                .short('V')
                .long("version")
                .action(ArgAction::Version)
                .help("Mostra a versão"),
        );
    }
    let usage = usage(&cmd, path);
    let mut template = String::from("{about-with-newline}\nUso: ");
    template.push_str(&usage);
    template.push('\n');
    if cmd.has_subcommands() {
        template.push_str("\nComandos:\n{subcommands}\n");
    }
    if cmd.get_positionals().next().is_some() {
        template.push_str("\nArgumentos:\n{positionals}\n");
    }
    template.push_str("\nOpções:\n{options}");
    if cmd.get_after_help().is_some() {
        template.push_str("\n\n{after-help}");
    }
    let cmd = cmd.override_usage(usage).help_template(template);
    cmd.mut_subcommands(|sub| {
        let sub_path = format!("{path} {}", sub.get_name());
        localize_at(sub, &sub_path, false)
    })
}

/// `rnds-drop check [OPÇÕES] <ARQUIVOS>...`.
fn usage(cmd: &Command, path: &str) -> String {
    let mut out = path.to_string();
    if cmd.has_subcommands() {
        out.push_str(" <COMANDO>");
        return out;
    }
    out.push_str(" [OPÇÕES]");
    for arg in cmd.get_positionals() {
        let name = arg.get_value_names().and_then(|n| n.first()).map_or_else(
            || arg.get_id().to_string().to_uppercase(),
            ToString::to_string,
        );
        let many = matches!(arg.get_action(), ArgAction::Append)
            || arg.get_num_args().is_some_and(|n| n.max_values() > 1);
        let dots = if many { "..." } else { "" };
        if arg.is_required_set() {
            out.push_str(&format!(" <{name}>{dots}"));
        } else {
            out.push_str(&format!(" [{name}]{dots}"));
        }
    }
    out
}

/// The default value and the accepted values said in the option's own
/// text, in Portuguese, instead of clap's `[default: …]`.
fn with_default_in_text(arg: Arg) -> Arg {
    // Placeholders in Portuguese (`--config <ARQUIVO>`, not `<CONFIG>`).
    let placeholder = match arg.get_id().as_str() {
        "config" => Some("ARQUIVO"),
        "out" | "dir" => Some("PASTA"),
        "log_format" => Some("FORMATO"),
        "listen" => Some("ENDEREÇO"),
        _ => None,
    };
    let arg = match placeholder {
        Some(name) if !arg.is_positional() => arg.value_name(name),
        _ => arg,
    };
    let mut notes = Vec::new();
    let possible: Vec<String> = arg
        .get_possible_values()
        .iter()
        .filter(|v| !v.is_hide_set())
        .map(|v| v.get_name().to_string())
        .collect();
    if !possible.is_empty() && !matches!(arg.get_action(), ArgAction::SetTrue) {
        notes.push(format!("valores: {}", possible.join(", ")));
    }
    let defaults: Vec<String> = arg
        .get_default_values()
        .iter()
        .map(|v| v.to_string_lossy().into_owned())
        .collect();
    if !defaults.is_empty() && !matches!(arg.get_action(), ArgAction::SetTrue) {
        notes.push(format!("padrão: {}", defaults.join(", ")));
    }
    if notes.is_empty() {
        return arg;
    }
    let help = arg.get_help().map(ToString::to_string).unwrap_or_default();
    arg.hide_default_value(true)
        .hide_possible_values(true)
        .help(format!("{help} ({})", notes.join("; ")))
}

/// A usage mistake in Portuguese (clap's own words are English).
pub(crate) fn usage_error(e: &clap::Error) -> String {
    let text = |kind| e.get(kind).map(value_text).unwrap_or_default();
    let suggestion = |kind| {
        let s = text(kind);
        if s.is_empty() {
            String::new()
        } else {
            format!(" (você quis dizer {s}?)")
        }
    };
    match e.kind() {
        ErrorKind::InvalidSubcommand => format!(
            "comando desconhecido: {}{}",
            text(ContextKind::InvalidSubcommand),
            suggestion(ContextKind::SuggestedSubcommand)
        ),
        ErrorKind::UnknownArgument => format!(
            "opção desconhecida: {}{}",
            text(ContextKind::InvalidArg),
            suggestion(ContextKind::SuggestedArg)
        ),
        ErrorKind::MissingRequiredArgument => {
            format!("falta {}", text(ContextKind::InvalidArg))
        }
        ErrorKind::MissingSubcommand | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            "falta o comando".to_string()
        }
        ErrorKind::InvalidValue | ErrorKind::ValueValidation => {
            let valid = text(ContextKind::ValidValue);
            format!(
                "valor inválido {} para {}{}",
                text(ContextKind::InvalidValue),
                text(ContextKind::InvalidArg),
                if valid.is_empty() {
                    String::new()
                } else {
                    format!(" (valores aceitos: {valid})")
                }
            )
        }
        ErrorKind::ArgumentConflict => format!(
            "{} não pode ser usado junto com {}",
            text(ContextKind::InvalidArg),
            text(ContextKind::PriorArg)
        ),
        ErrorKind::TooManyValues | ErrorKind::WrongNumberOfValues | ErrorKind::TooFewValues => {
            format!(
                "número errado de valores para {}",
                text(ContextKind::InvalidArg)
            )
        }
        _ => "linha de comando inválida".to_string(),
    }
}

fn value_text(value: &ContextValue) -> String {
    match value {
        ContextValue::String(s) => s.clone(),
        ContextValue::Strings(list) => list.join(", "),
        ContextValue::StyledStr(s) => s.to_string(),
        ContextValue::StyledStrs(list) => list
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", "),
        other => other.to_string(),
    }
}
