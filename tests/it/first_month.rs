//! Issue 19, "a lab's first month", as the lab's staff meet it through the
//! real binary: the fix loop through Excel, what `enviados.csv` says, the
//! day-one wording.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use calamine::{Data, Reader, Xlsx};
use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};

use crate::harness;

fn rnds_drop() -> Command {
    Command::new(env!("CARGO_BIN_EXE_rnds-drop"))
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `rnds-drop demo --dir <dir>`: the example files through the simulator.
fn demo(dir: &Path) -> Output {
    let out = rnds_drop()
        .args(["demo", "--dir"])
        .arg(dir)
        .output()
        .expect("binary runs");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    out
}

/// The one report of `stem` ending in `kind` in `outbox`.
fn report(outbox: &Path, stem: &str, kind: &str) -> PathBuf {
    let found: Vec<PathBuf> = std::fs::read_dir(outbox)
        .expect("outbox")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            name.starts_with(&format!("{stem}.")) && name.ends_with(kind)
        })
        .collect();
    assert_eq!(
        found.len(),
        1,
        "{stem} *{kind} in {}: {found:?}",
        outbox.display()
    );
    found[0].clone()
}

fn sheet_rows(path: &Path) -> Vec<Vec<Data>> {
    let mut book: Xlsx<_> = calamine::open_workbook(path).expect("xlsx opens");
    let range = book
        .worksheet_range_at(0)
        .expect("a sheet")
        .expect("readable");
    range.rows().map(<[Data]>::to_vec).collect()
}

fn text(cell: &Data) -> String {
    match cell {
        Data::Empty => String::new(),
        Data::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Saves `rows` as Excel would after a person edited them: text stays
/// text, dates stay dates (with a date format), numbers stay numbers.
fn save_as_excel_would(path: &Path, rows: &[Vec<Data>]) {
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    let date = Format::new().set_num_format("dd/mm/yyyy hh:mm");
    for (r, row) in rows.iter().enumerate() {
        for (c, cell) in row.iter().enumerate() {
            let (r, c) = (r as u32, c as u16);
            let written = match cell {
                Data::Empty => continue,
                Data::Float(f) => sheet.write_number(r, c, *f),
                Data::Int(i) => sheet.write_number(r, c, *i as f64),
                Data::DateTime(d) => {
                    let moment = ExcelDateTime::from_serial_datetime(d.as_f64()).unwrap();
                    sheet.write_datetime_with_format(r, c, &moment, &date)
                }
                other => sheet.write_string(r, c, text(other)),
            };
            written.expect("cell written");
        }
    }
    book.save(path).expect("workbook saved");
}

/// Item 2: a CSV input gets an `erros.xlsx` whose CNS is a text cell and
/// whose dates are real dates; fixed in "Excel" and dropped again, every
/// row passes. `enviados.csv` names each result the way staff look it up.
#[test]
fn the_fix_loop_goes_through_excel_and_enviados_names_each_result() {
    let dir = tempfile::tempdir().expect("tempdir");
    demo(dir.path());
    let outbox = dir.path().join("saida");

    let errors = report(&outbox, "exames", ".erros.xlsx");
    let rows = sheet_rows(&errors);
    let header: Vec<String> = rows[0].iter().map(text).collect();
    let at = |name: &str| header.iter().position(|h| h == name).unwrap();
    let (cns, collected, result) = (at("Cartão SUS"), at("Data da Coleta"), at("Resultado"));
    assert_eq!(rows.len(), 3, "header and the two invalid rows: {rows:?}");
    assert_eq!(rows[1][cns], Data::String("123456789012345".into()));
    match &rows[1][collected] {
        Data::DateTime(d) => {
            let (y, m, day, h, min, ..) = d.to_ymd_hms_milli();
            assert_eq!((y, m, day, h, min), (2026, 11, 3, 9, 10));
        }
        other => panic!("collection date is not an Excel date: {other:?}"),
    }

    // Staff fix the two rows in Excel and save.
    let mut fixed = rows.clone();
    fixed[1][cns] = Data::String("759010928159013".into());
    fixed[2][result] = Data::String("NAO DETECTADO".into());
    let again = dir.path().join("exames-corrigido.xlsx");
    save_as_excel_would(&again, &fixed);
    let out = rnds_drop()
        .args(["check", "--config"])
        .arg(harness::fixtures().join("lab.toml"))
        .arg("--out")
        .arg(dir.path().join("conferido"))
        .arg(&again)
        .output()
        .expect("binary runs");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );

    let sent = std::fs::read_to_string(report(&outbox, "exames", ".enviados.csv")).unwrap();
    let lines: Vec<&str> = sent.trim_start_matches('\u{feff}').lines().collect();
    assert_eq!(
        lines[0],
        "linha;id_exame;id_rnds;situacao;paciente;exame;resultado;data_coleta"
    );
    let maria = lines
        .iter()
        .find(|l| l.contains("2026-000101"))
        .expect("MARIA's row");
    assert!(
        maria.ends_with(";enviado;MARIA DA SILVA;94309-2;Não detectável;03/11/2026 08:15"),
        "{maria}"
    );
}

/// `rnds-drop check --config <config> --out <out> <input>`; its exit code
/// and the `resumo.json` it wrote.
fn check(config: &Path, out: &Path, input: &Path) -> (Option<i32>, serde_json::Value, String) {
    let run = rnds_drop()
        .args(["check", "--config"])
        .arg(config)
        .arg("--out")
        .arg(out)
        .arg(input)
        .output()
        .expect("binary runs");
    let stem = input.file_stem().unwrap().to_string_lossy().into_owned();
    let summary = std::fs::read(out.join(format!("{stem}.resumo.json"))).expect("resumo.json");
    (
        run.status.code(),
        serde_json::from_slice(&summary).expect("JSON"),
        stdout(&run),
    )
}

/// The test lab plus the `[[inbox]]` of a layout fixture case, and `extra`.
fn layout_config(dir: &Path, case: &str, extra: &str) -> PathBuf {
    let fixtures = harness::fixtures();
    let text = format!(
        "{}\n{}\n{extra}",
        std::fs::read_to_string(fixtures.join("lab.toml")).unwrap(),
        std::fs::read_to_string(fixtures.join("layouts").join(case).join("inbox.toml")).unwrap()
    );
    let path = dir.join(format!("{case}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

/// Item 8: a GAL batch export without the preset's optional columns
/// (`valorReferencia`, `observacao`) maps exactly as the full one; a
/// configured column the file lacks lists the file's own headers.
#[test]
fn a_preset_maps_an_export_that_lacks_its_optional_columns() {
    let dir = tempfile::tempdir().expect("tempdir");
    let full = harness::fixtures().join("layouts/gal_lote/input.csv");
    let text = std::fs::read_to_string(&full).unwrap();
    let header: Vec<&str> = text.lines().next().unwrap().split(',').collect();
    let dropped: Vec<usize> = ["valorReferencia", "observacao"]
        .iter()
        .map(|name| header.iter().position(|h| h == name).unwrap())
        .collect();
    let mut lean = String::new();
    for line in text.lines() {
        let cells: Vec<&str> = line
            .split(',')
            .enumerate()
            .filter(|(i, _)| !dropped.contains(i))
            .map(|(_, c)| c)
            .collect();
        lean.push_str(&cells.join(","));
        lean.push('\n');
    }
    let lean_path = dir.path().join("lote_sem_opcionais.csv");
    std::fs::write(&lean_path, lean).unwrap();

    let config = layout_config(dir.path(), "gal_lote", "");
    let (full_code, full_summary, _) = check(&config, &dir.path().join("1"), &full);
    let (code, summary, out) = check(&config, &dir.path().join("2"), &lean_path);
    assert_eq!(code, full_code, "{out}");
    assert!(summary["rows_valid"].as_u64().unwrap() > 0, "{summary}");
    for key in ["rows_valid", "rows_invalid", "rows_skipped"] {
        assert_eq!(summary[key], full_summary[key], "{key}: {summary}");
    }

    // A column the lab itself names is still required, and the message
    // lists the file's headers, once each, not the layout's inner names.
    let config = layout_config(dir.path(), "gal_lote", "");
    let own = std::fs::read_to_string(&config)
        .unwrap()
        .replace("patient_cns = \"cns\"", "patient_cns = \"cartao_sus\"");
    std::fs::write(&config, own).unwrap();
    let (_, summary, _) = check(&config, &dir.path().join("3"), &lean_path);
    let message = summary["issues"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["code"] == "coluna_configurada_ausente")
        .unwrap_or_else(|| panic!("{summary}"))["message"]
        .as_str()
        .unwrap()
        .to_owned();
    let listed = message.split("Colunas do arquivo: ").nth(1).unwrap();
    assert!(!listed.contains("(exam_code)"), "{message}");
    assert_eq!(listed.matches("\"codigoAmostra\"").count(), 1, "{message}");
    assert!(listed.contains("\"coronavirusncov\""), "{message}");
}

/// Item 10: `--help` and usage mistakes in Portuguese, exit 64 for a
/// mistake, 0 for help.
#[test]
fn help_and_usage_mistakes_speak_portuguese() {
    let help = rnds_drop().arg("--help").output().expect("binary runs");
    assert_eq!(help.status.code(), Some(0));
    let text = stdout(&help);
    for wanted in [
        "Uso: rnds-drop <COMANDO>",
        "Comandos:",
        "Opções:",
        "Mostra esta ajuda",
        "Confere arquivos",
        "Códigos de saída",
    ] {
        assert!(text.contains(wanted), "{wanted:?} missing:\n{text}");
    }
    for english in [
        "Usage:",
        "Commands:",
        "Options:",
        "Print help",
        "Validate files",
    ] {
        assert!(!text.contains(english), "{english:?} in:\n{text}");
    }

    let check_help = rnds_drop().args(["check", "--help"]).output().unwrap();
    let text = stdout(&check_help);
    for wanted in [
        "Uso: rnds-drop check [OPÇÕES] <ARQUIVOS>...",
        "Argumentos:",
        "(padrão: rnds-drop.toml)",
    ] {
        assert!(text.contains(wanted), "{wanted:?} missing:\n{text}");
    }
    assert!(!text.contains("[default:"), "{text}");
    assert!(!text.contains('{'), "a template tag left: {text}");

    for (args, wanted) in [
        (
            &["chek"][..],
            "comando desconhecido: chek (você quis dizer check?)",
        ),
        (&["check"][..], "falta <ARQUIVOS>"),
        (
            &["check", "--saida", "x", "a.csv"][..],
            "opção desconhecida: --saida",
        ),
    ] {
        let out = rnds_drop().args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(64), "{args:?}");
        let err = stderr(&out);
        assert!(err.contains(wanted), "{args:?}: {wanted:?} missing:\n{err}");
        for english in ["error:", "tip:", "For more information", "Usage:"] {
            assert!(!err.contains(english), "{args:?}: {english:?} in:\n{err}");
        }
    }
}

/// Item 10: what `demo` prints once it is over: no folder to "drop files
/// into" (nothing watches it any more), counts in correct Portuguese.
#[test]
fn demo_says_what_to_do_after_it_has_stopped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = stdout(&demo(dir.path()));
    assert!(!text.contains("solte aqui"), "{text}");
    assert!(text.contains("erros.xlsx"), "{text}");
    assert!(text.contains("rnds-drop run --config"), "{text}");
}

/// Item 10: one valid row is "1 válida"; an issue without a column (here
/// a category the configuration lacks for the row's exam) shows an empty
/// `erro_coluna` entry, not " | ".
#[test]
fn counts_agree_in_number_and_columnless_issues_leave_no_bar() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("lab.toml");
    let lab = std::fs::read_to_string(harness::fixtures().join("lab.toml")).unwrap();
    std::fs::write(&config, lab.replacen("category = \"0202\"\n", "", 1)).unwrap();
    let example =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/exames.csv"))
            .unwrap();
    let lines: Vec<&str> = example.lines().collect();
    // ANA (94558-4, its own category: valid), CARLOS (94309-2: bad CNS
    // and no category).
    let input = dir.path().join("um.csv");
    std::fs::write(
        &input,
        format!("{}\n{}\n{}\n", lines[0], lines[3], lines[4]),
    )
    .unwrap();
    let out = rnds_drop()
        .args(["check", "--config"])
        .arg(&config)
        .arg("--out")
        .arg(dir.path().join("saida"))
        .arg(&input)
        .output()
        .unwrap();
    let text = stdout(&out);
    assert!(
        text.contains("2 linhas, 1 válida, 1 com problema"),
        "{text}"
    );
    let errors = std::fs::read_to_string(dir.path().join("saida/um.erros.csv")).unwrap();
    let carlos = errors.lines().find(|l| l.contains("CARLOS")).unwrap();
    assert!(carlos.contains("categoria"), "{carlos}");
    assert!(carlos.contains(";Cartão SUS;"), "{carlos}");
}

/// Item 10: the progress bar on a terminal counts the Brazilian way
/// (`30.000`, `12.345/s`, never `30,000` or `12,345.6789/s`).
#[test]
fn the_progress_bar_writes_numbers_the_brazilian_way() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("lote.csv");
    let example =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/exames.csv"))
            .unwrap();
    let mut lines = example.lines();
    let mut text = format!("{}\n", lines.next().unwrap());
    let row = lines.next().unwrap();
    for i in 0..30_000 {
        text.push_str(&row.replacen("2026-000101", &format!("X-{i:06}"), 1));
        text.push('\n');
    }
    std::fs::write(&file, text).unwrap();
    let command = format!(
        "{} check --config {} --out {} {}",
        env!("CARGO_BIN_EXE_rnds-drop"),
        harness::fixtures().join("lab.toml").display(),
        tmp.path().join("saida").display(),
        file.display()
    );
    let on_pty = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env_remove("CI")
        .output();
    let Ok(on_pty) = on_pty else {
        assert!(std::env::var("CI").is_err(), "script(1) missing in CI");
        return harness::skipped("script(1) from util-linux is not installed");
    };
    let tty = String::from_utf8_lossy(&on_pty.stdout).into_owned();
    assert!(tty.contains("lote.csv: 30.000 linhas"), "{tty}");
    assert!(tty.contains("linhas ·"), "no bar:\n{tty}");
    let frames: Vec<&str> = tty
        .split(['\r', '\n'])
        .filter(|f| f.contains("linhas ·"))
        .collect();
    for frame in &frames {
        let english = frame.as_bytes().windows(5).any(|w| {
            w[0].is_ascii_digit() && w[1] == b',' && w[2..].iter().all(u8::is_ascii_digit)
        });
        assert!(!english, "English thousands in {frame:?}");
        let rate = frame
            .split(" · ")
            .find(|part| part.ends_with("/s"))
            .unwrap_or_else(|| panic!("no rate in {frame:?}"));
        assert!(
            rate.trim_end_matches("/s")
                .chars()
                .all(|c| c.is_ascii_digit() || c == '.'),
            "{rate:?} in {frame:?}"
        );
    }
    assert!(!frames.is_empty());
}

/// Item 10: the README's quick start, walked with the built binary: its
/// steps are numbered 1, 2, 3… without a gap or repeat, every `rnds-drop`
/// command it cites exists (`--help` answers 0), and the offline steps
/// (demo, inspecionar, check) run on the files of `examples/`.
#[test]
fn the_quick_start_is_numbered_and_its_commands_run() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let start = readme
        .find("## Início rápido (pt-BR)")
        .expect("quick start");
    let section = &readme[start..];
    let section = &section[..section[3..].find("\n## ").map_or(section.len(), |e| e + 3)];
    let numbers: Vec<u32> = section
        .lines()
        .filter_map(|l| l.split_once(". **").and_then(|(n, _)| n.parse().ok()))
        .collect();
    let expected: Vec<u32> = (1..=numbers.len() as u32).collect();
    assert_eq!(numbers, expected, "quick start numbering");
    assert!(
        section.contains("cargo install --path . --locked"),
        "how it gets on the PATH"
    );

    let commands: Vec<&str> = section
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|code| code.starts_with("rnds-drop "))
        .collect();
    assert!(commands.len() >= 6, "{commands:?}");
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        root.join("examples/exames.csv"),
        dir.path().join("exames.csv"),
    )
    .unwrap();
    std::fs::copy(
        root.join("examples/exames.csv"),
        dir.path().join("exportacao.csv"),
    )
    .unwrap();
    std::fs::copy(
        harness::fixtures().join("lab.toml"),
        dir.path().join("rnds-drop.toml"),
    )
    .unwrap();
    for command in commands {
        let words: Vec<&str> = command.split_whitespace().skip(1).collect();
        let Some(sub) = words
            .first()
            .filter(|w| !w.starts_with('-') && !w.starts_with('<'))
        else {
            continue;
        };
        let help = rnds_drop().args([sub, &"--help"]).output().unwrap();
        assert_eq!(help.status.code(), Some(0), "{command}: {}", stderr(&help));
        let mut run = rnds_drop();
        run.current_dir(dir.path());
        match *sub {
            "demo" => run.args(["demo", "--dir"]).arg(dir.path().join("demo")),
            "inspecionar" | "check" => run.args(&words),
            _ => continue,
        };
        let out = run.output().unwrap();
        // check and inspecionar say 1 for the example's deliberate errors.
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "{command}: {}{}",
            stdout(&out),
            stderr(&out)
        );
    }
    assert!(dir.path().join("saida/exames.erros.xlsx").is_file());
}

/// `examples/exames.csv` with the exam cell of each data row replaced by
/// `exams[i]` (the rows repeat as needed, each with its own lab id).
fn exams_file(path: &Path, exams: &[&str]) {
    let example =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/exames.csv"))
            .unwrap();
    let mut lines = example.lines();
    let mut text = format!("{}\n", lines.next().unwrap());
    let row = lines.next().unwrap();
    for (i, exam) in exams.iter().enumerate() {
        let line = row
            .replacen("2026-000101", &format!("X-{i:04}"), 1)
            .replacen(";94309-2;", &format!(";{exam};"), 1);
        text.push_str(&line);
        text.push('\n');
    }
    std::fs::write(path, text).unwrap();
}

/// Item 7: `inspecionar` lists every distinct unknown exam with its count,
/// so a lab maps them all at once; when most of them are other exams it
/// suggests skipping other exams (after mapping the SARS-CoV-2 ones).
#[test]
fn inspecionar_lists_every_unknown_value_and_suggests_skipping_other_exams() {
    let dir = tempfile::tempdir().unwrap();
    let mixed = dir.path().join("lis.csv");
    exams_file(
        &mixed,
        &[
            "COVID-19 RT-PCR",
            "COVID-19 RT-PCR",
            "Antígeno SARS-CoV-2",
            "COVID PCR",
            "TSH",
            "TSH",
            "TSH",
            "HEMOGRAMA",
            "HEMOGRAMA",
            "GLICOSE",
            "CREATININA",
            "94309-2",
        ],
    );
    let out = rnds_drop().arg("inspecionar").arg(&mixed).output().unwrap();
    let text = stdout(&out);
    for wanted in [
        "\"COVID-19 RT-PCR\" (2)",
        "\"Antígeno SARS-CoV-2\" (1)",
        "\"COVID PCR\" (1)",
        "\"TSH\" (3)",
        "\"HEMOGRAMA\" (2)",
        "\"GLICOSE\" (1)",
        "other_exams = \"skip\"",
    ] {
        assert!(text.contains(wanted), "{wanted:?} missing:\n{text}");
    }

    let covid_only = dir.path().join("covid.csv");
    exams_file(&covid_only, &["COVID-19 RT-PCR", "COVID PCR", "94309-2"]);
    let text = stdout(
        &rnds_drop()
            .arg("inspecionar")
            .arg(&covid_only)
            .output()
            .unwrap(),
    );
    assert!(text.contains("\"COVID PCR\" (1)"), "{text}");
    assert!(!text.contains("other_exams"), "{text}");
}

/// A minimal OpenDocument spreadsheet (what LibreOffice saves), one sheet
/// of text cells.
fn write_ods(path: &Path, rows: &[Vec<&str>]) {
    write_ods_table(path, &ods_rows(rows, ""), "");
}

/// `rows` as ODS table rows of text cells, each row ending in `filler`.
fn ods_rows(rows: &[Vec<&str>], filler: &str) -> String {
    let mut table = String::new();
    for row in rows {
        table.push_str("<table:table-row>");
        for cell in row {
            table.push_str(&format!(
                "<table:table-cell office:value-type=\"string\"><text:p>{cell}</text:p></table:table-cell>"
            ));
        }
        table.push_str(filler);
        table.push_str("</table:table-row>");
    }
    table
}

/// An `.ods` whose one sheet holds the table rows `table` then `tail`.
fn write_ods_table(path: &Path, table: &str, tail: &str) {
    use std::io::Write;
    let table = format!("{table}{tail}");
    let content = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
         <office:document-content \
         xmlns:office=\"urn:oasis:names:tc:opendocument:xmlns:office:1.0\" \
         xmlns:table=\"urn:oasis:names:tc:opendocument:xmlns:table:1.0\" \
         xmlns:text=\"urn:oasis:names:tc:opendocument:xmlns:text:1.0\" office:version=\"1.2\">\
         <office:body><office:spreadsheet><table:table table:name=\"Resultados\">{table}\
         </table:table></office:spreadsheet></office:body></office:document-content>"
    );
    let manifest = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
        <manifest:manifest xmlns:manifest=\"urn:oasis:names:tc:opendocument:xmlns:manifest:1.0\" manifest:version=\"1.2\">\
        <manifest:file-entry manifest:full-path=\"/\" manifest:media-type=\"application/vnd.oasis.opendocument.spreadsheet\"/>\
        <manifest:file-entry manifest:full-path=\"content.xml\" manifest:media-type=\"text/xml\"/>\
        </manifest:manifest>";
    let mut zip = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let stored =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    zip.start_file("mimetype", stored).unwrap();
    zip.write_all(b"application/vnd.oasis.opendocument.spreadsheet")
        .unwrap();
    zip.start_file("META-INF/manifest.xml", stored).unwrap();
    zip.write_all(manifest.as_bytes()).unwrap();
    zip.start_file("content.xml", stored).unwrap();
    zip.write_all(content.as_bytes()).unwrap();
    zip.finish().unwrap();
}

/// Item 9: an `.ods` (LibreOffice) is read like an `.xlsx`; an HTML page
/// saved as `.xls` is told what it is.
#[test]
fn files_as_labs_have_them_ods_and_a_web_page_named_xls() {
    let dir = tempfile::tempdir().unwrap();
    let example =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/exames.csv"))
            .unwrap();
    let rows: Vec<Vec<&str>> = example.lines().map(|l| l.split(';').collect()).collect();
    let ods = dir.path().join("exames.ods");
    write_ods(&ods, &rows);
    let config = harness::fixtures().join("lab.toml");
    let (code, summary, out) = check(&config, &dir.path().join("1"), &ods);
    assert_eq!(code, Some(1), "{out}");
    assert_eq!(summary["rows_total"], 6, "{summary}");
    assert_eq!(summary["rows_valid"], 4, "{summary}");

    let page = dir.path().join("exames.xls");
    std::fs::write(
        &page,
        "<html><head><meta charset=\"utf-8\"></head><body><table>\
         <tr><td>Nº Pedido</td><td>Paciente</td></tr><tr><td>1</td><td>ANA</td></tr>\
         </table></body></html>",
    )
    .unwrap();
    let (code, summary, out) = check(&config, &dir.path().join("2"), &page);
    assert_eq!(code, Some(2), "{out}");
    let error = summary["error"].as_str().unwrap_or_default();
    assert!(error.contains("página da web"), "{summary}");
    assert!(!out.contains("tabela de apoio"), "{out}");
}

/// Item 11: `examples/modelo.csv` and `examples/modelo.xlsx` are what
/// `rnds_drop::template` builds from `schemas/` today (UPDATE_EXPECT=1
/// rewrites them), and a template filled in with one row is sent as is.
#[test]
fn the_template_is_in_step_with_the_schemas_and_a_filled_row_passes() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let csv = rnds_drop::template::template_csv();
    let xlsx = rnds_drop::template::template_xlsx().expect("template builds");
    assert_eq!(
        xlsx,
        rnds_drop::template::template_xlsx().unwrap(),
        "deterministic"
    );
    if harness::updating() {
        std::fs::write(examples.join("modelo.csv"), &csv).unwrap();
        std::fs::write(examples.join("modelo.xlsx"), &xlsx).unwrap();
    }
    assert!(
        std::fs::read(examples.join("modelo.csv")).ok() == Some(csv.clone()),
        "examples/modelo.csv is stale: run the tests with UPDATE_EXPECT=1"
    );
    assert!(
        std::fs::read(examples.join("modelo.xlsx")).ok() == Some(xlsx),
        "examples/modelo.xlsx is stale: run the tests with UPDATE_EXPECT=1"
    );

    let mut book: Xlsx<_> = calamine::open_workbook(examples.join("modelo.xlsx")).unwrap();
    assert_eq!(book.sheet_names(), ["Exames", "Valores aceitos"]);
    let accepted = book.worksheet_range("Valores aceitos").unwrap();
    let codes: Vec<String> = accepted.rows().map(|r| text(&r[1])).collect();
    for code in ["94309-2", "94558-4", "1", "2", "3", "SWNAFA"] {
        assert!(codes.iter().any(|c| c == code), "{code} not listed");
    }

    // The CSV template with one row typed in by the lab.
    let dir = tempfile::tempdir().unwrap();
    let header = String::from_utf8(csv).unwrap();
    let filled = format!(
        "{header}2026-000900;MARIA DA SILVA;759010928159013;03/11/2026 08:15;03/11/2026 16:40;\
         94309-2;Não detectável;;;SWNAFA;RT-PCR;Não detectável;\r\n"
    );
    let input = dir.path().join("modelo-preenchido.csv");
    std::fs::write(&input, filled).unwrap();
    let (code, summary, out) = check(&harness::fixtures().join("lab.toml"), dir.path(), &input);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(summary["rows_valid"], 1, "{summary}");
}

/// Item 10: `relatorio.xlsx` of `homologacao` shows times as a Brazilian
/// reads them (`07/12/2026 19:10:03`, not `2026-12-07T19:10:03.123-03:00`)
/// and gives every column of the evidence table a width.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_homologation_workbook_reads_like_a_brazilian_document() {
    let tmp = tempfile::tempdir().unwrap();
    let sim = rnds_drop::simulator::start(rnds_drop::simulator::SimOptions::new(
        tmp.path().join("simulador"),
    ))
    .await
    .unwrap();
    let (_, config) =
        rnds_drop::demo::write_workspace_config(sim.files(), &tmp.path().join("lab"), 200, "watch")
            .unwrap();
    let report = rnds_drop::homologation::run(&config, &tmp.path().join("evidencias"))
        .await
        .unwrap();
    sim.shutdown().await;
    let path = report.folder.join("relatorio.xlsx");
    let rows = sheet_rows(&path);
    let value_of = |label: &str| {
        rows.iter()
            .find(|r| text(&r[0]) == label)
            .map(|r| text(&r[1]))
            .unwrap_or_else(|| panic!("no {label} row"))
    };
    let brazilian = |t: &str| {
        let b = t.as_bytes();
        t.len() == 19 && b[2] == b'/' && b[5] == b'/' && b[10] == b' ' && b[13] == b':'
    };
    for label in ["Início", "Fim"] {
        let value = value_of(label);
        assert!(brazilian(&value), "{label}: {value:?}");
    }
    let header = rows
        .iter()
        .position(|r| text(&r[0]) == "Cenário")
        .expect("evidence table");
    let sent = rows[header]
        .iter()
        .position(|c| text(c) == "Enviado")
        .unwrap();
    for row in &rows[header + 1..] {
        assert!(brazilian(&text(&row[sent])), "{:?}", row[sent]);
    }
    let mut zip = zip::ZipArchive::new(std::fs::File::open(&path).unwrap()).unwrap();
    let mut xml = String::new();
    std::io::Read::read_to_string(
        &mut zip.by_name("xl/worksheets/sheet1.xml").unwrap(),
        &mut xml,
    )
    .unwrap();
    // Adjacent columns of one width share a `<col>`: the last one given a
    // width must be the 13th.
    let cols = xml
        .split("<cols>")
        .nth(1)
        .and_then(|c| c.split("</cols>").next());
    assert!(
        cols.is_some_and(|c| c.contains("max=\"13\"")),
        "not every column has a width: {cols:?}"
    );
}

/// `rnds-drop check` under a 3 GB address-space limit (so a reader that
/// inflates a small file aborts instead of eating the machine): exit code,
/// `resumo.json` (Null when missing) and all output.
#[cfg(unix)]
fn check_with_memory_limit(
    config: &Path,
    out: &Path,
    input: &Path,
) -> (Option<i32>, serde_json::Value, String) {
    let run = Command::new("sh")
        .arg("-c")
        .arg("ulimit -v 3000000 && exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_rnds-drop"))
        .args(["check", "--config"])
        .arg(config)
        .arg("--out")
        .arg(out)
        .arg(input)
        .output()
        .expect("binary runs");
    let stem = input.file_stem().unwrap().to_string_lossy().into_owned();
    let summary = std::fs::read(out.join(format!("{stem}.resumo.json")))
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default();
    (
        run.status.code(),
        summary,
        format!("{}{}", stdout(&run), stderr(&run)),
    )
}

/// Review finding 5: a few hundred bytes of `.ods` whose one filled row is
/// repeated 200,000 times over 1,000 columns is refused with a reason
/// (exit 2), not expanded until the process aborts; the empty rows and
/// columns LibreOffice repeats to the sheet's edge are still read.
#[cfg(unix)]
#[test]
fn an_ods_that_repeats_a_filled_row_into_millions_of_cells_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let config = harness::fixtures().join("lab.toml");
    let bomb = dir.path().join("bomba.ods");
    write_ods_table(
        &bomb,
        "<table:table-row table:number-rows-repeated=\"200000\">\
         <table:table-cell table:number-columns-repeated=\"1000\" office:value-type=\"string\">\
         <text:p>x</text:p></table:table-cell></table:table-row>",
        "",
    );
    assert!(std::fs::metadata(&bomb).unwrap().len() < 2048);
    let (code, summary, out) = check_with_memory_limit(&config, &dir.path().join("1"), &bomb);
    assert_eq!(code, Some(2), "{out}");
    let error = summary["error"].as_str().unwrap_or_default();
    assert!(error.contains("repete"), "{summary}\n{out}");
    assert!(error.contains("células"), "{summary}");

    // What LibreOffice writes: empty cells to column 1024, empty rows to
    // the last row of the sheet.
    let example =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/exames.csv"))
            .unwrap();
    let rows: Vec<Vec<&str>> = example.lines().map(|l| l.split(';').collect()).collect();
    let filler = format!(
        "<table:table-cell table:number-columns-repeated=\"{}\"/>",
        1024 - rows[0].len()
    );
    let tail = format!(
        "<table:table-row table:number-rows-repeated=\"{}\">\
         <table:table-cell table:number-columns-repeated=\"1024\"/></table:table-row>",
        1_048_576 - rows.len()
    );
    let saved = dir.path().join("salva.ods");
    write_ods_table(&saved, &ods_rows(&rows, &filler), &tail);
    let (code, summary, out) = check_with_memory_limit(&config, &dir.path().join("2"), &saved);
    assert_eq!(code, Some(1), "{out}");
    assert_eq!(summary["rows_total"], 6, "{summary}");
    assert_eq!(summary["rows_valid"], 4, "{summary}");
}
