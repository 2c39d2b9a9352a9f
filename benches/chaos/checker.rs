//! The verdict of a seed, from what a person could look at afterwards: the
//! simulator's stored documents (its `documents.jsonl`, read here as plain
//! JSON), the reports in the outbox and where each input file ended. It
//! knows the rows because the harness wrote them; it uses no code of the
//! service (no parser, no mapping, no ledger).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;

use serde_json::Value;

use crate::scenario::{InputFile, Row};

#[derive(Debug, Clone)]
pub(crate) struct Violation {
    pub(crate) kind: &'static str,
    pub(crate) detail: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.detail)
    }
}

/// A stored document, reduced to the fields a row decides.
#[derive(Debug, Clone)]
struct Document {
    lab_id: String,
    rnds_id: String,
    replaces: Option<String>,
    content: Content,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Content {
    cns: String,
    loinc: String,
    result: String,
    effective: String,
    method: String,
}

impl Content {
    fn of(row: &Row) -> Content {
        Content {
            cns: row.cns.clone(),
            loinc: row.exam.loinc().into(),
            result: row.result_code().into(),
            effective: row.effective(),
            method: row.exam.method().into(),
        }
    }

    fn same_result_of(&self, other: &Content) -> bool {
        self.cns == other.cns && self.loinc == other.loinc
    }
}

fn documents(path: &Path) -> Vec<Document> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .map(|d| {
            let text = |v: &Value| v.as_str().unwrap_or("").to_string();
            let entries = d["bundle"]["entry"].as_array().cloned().unwrap_or_default();
            let resource = |kind: &str| {
                entries
                    .iter()
                    .map(|e| e["resource"].clone())
                    .find(|r| r["resourceType"] == kind)
                    .unwrap_or(Value::Null)
            };
            let composition = resource("Composition");
            let observation = resource("Observation");
            let subject = text(&observation["subject"]["identifier"]["value"]);
            let cns = if subject == text(&composition["subject"]["identifier"]["value"]) {
                subject
            } else {
                format!("(Composition and Observation disagree: {subject})")
            };
            Document {
                lab_id: text(&d["lab_id"]),
                rnds_id: text(&d["rnds_id"]),
                replaces: d["replaces"].as_str().map(str::to_string),
                content: Content {
                    cns,
                    loinc: text(&observation["code"]["coding"][0]["code"]),
                    result: text(&observation["valueCodeableConcept"]["coding"][0]["code"]),
                    effective: text(&observation["effectiveDateTime"]),
                    method: text(&observation["method"]["text"]),
                },
            }
        })
        .collect()
}

/// Every version of one lab id the writers wrote, in writing order.
#[derive(Default)]
struct Versions {
    /// `(file index, row, required)`: required rows are in a readable
    /// file's final content; others may or may not reach RNDS.
    written: Vec<(usize, Row, bool)>,
}

/// One report set: `resumo.json` and its `enviados.csv` lines.
struct ReportSet {
    name: String,
    summary: Value,
    /// `(lab_id, rnds_id, status)`.
    sent: Vec<(String, String, String)>,
    sent_csv_present: bool,
}

fn report_sets(outbox: &Path, stem: &str) -> Vec<ReportSet> {
    let mut names: Vec<String> = std::fs::read_dir(outbox)
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
        .into_iter()
        .filter_map(|name| {
            let base = name.strip_suffix(".resumo.json")?;
            let (file_stem, _instant) = base.rsplit_once('.')?;
            (file_stem == stem).then(|| base.to_string())
        })
        .map(|base| {
            let summary = std::fs::read(outbox.join(format!("{base}.resumo.json")))
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok())
                .unwrap_or(Value::Null);
            let sent_path = outbox.join(format!("{base}.enviados.csv"));
            let sent_csv_present = sent_path.exists();
            let sent = std::fs::read(&sent_path)
                .map(|bytes| {
                    let bytes = bytes.strip_prefix("\u{feff}".as_bytes()).unwrap_or(&bytes);
                    csv::ReaderBuilder::new()
                        .delimiter(b';')
                        .from_reader(bytes)
                        .records()
                        .filter_map(Result::ok)
                        .map(|r| {
                            let cell = |i: usize| r.get(i).unwrap_or("").to_string();
                            (cell(1), cell(2), cell(3))
                        })
                        .collect()
                })
                .unwrap_or_default();
            ReportSet {
                name: format!("{base}.resumo.json"),
                summary,
                sent,
                sent_csv_present,
            }
        })
        .collect()
}

fn count(summary: &Value, key: &str) -> u64 {
    summary[key].as_u64().unwrap_or(0)
}

fn is_sent(status: &str) -> bool {
    status == "enviado" || status == "substituído"
}

/// Where an input file ended: `processados`, `falhas`, or still waiting.
fn location(inbox: &Path, name: &str) -> &'static str {
    let state = inbox.join(".rnds-drop");
    let found = |dir: &Path| -> bool {
        walk(dir)
            .iter()
            .any(|p| p.file_name().is_some_and(|n| n == name))
    };
    // `processando/` before `falhas/`: the rest of a file reopened by name
    // (same name, headerless) is set aside while the original may still be
    // at work (chaos seed 211 took the rest for the original).
    if found(&state.join("processados")) {
        "processados"
    } else if found(&state.join("processando")) {
        "processando"
    } else if found(&state.join("falhas")) {
        "falhas"
    } else if inbox.join(name).exists() {
        "entrada"
    } else {
        "nowhere"
    }
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.filter_map(Result::ok) {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// Whether every input file has reached its end state (used to wait).
pub(crate) fn settled(files: &[InputFile], inbox: &Path, outbox: &Path) -> bool {
    files.iter().all(|f| {
        let sets = report_sets(outbox, f.stem());
        let pending = sets
            .last()
            .is_some_and(|s| count(&s.summary, "rows_pending") > 0);
        !sets.is_empty() && !pending && matches!(location(inbox, &f.name), "processados" | "falhas")
    }) && walk(&inbox.join(".rnds-drop").join("processando")).is_empty()
}

/// Whether every file of `phase` has a report set.
pub(crate) fn reported(files: &[InputFile], phase: u8, outbox: &Path) -> bool {
    files
        .iter()
        .filter(|f| f.phase == phase)
        .all(|f| !report_sets(outbox, f.stem()).is_empty())
}

pub(crate) fn check(
    files: &[InputFile],
    documents_file: &Path,
    inbox: &Path,
    outbox: &Path,
) -> Vec<Violation> {
    let mut violations = Vec::new();
    let mut fail = |kind: &'static str, detail: String| violations.push(Violation { kind, detail });
    let documents = documents(documents_file);

    let mut versions: BTreeMap<String, Versions> = BTreeMap::new();
    let mut order: Vec<usize> = (0..files.len()).collect();
    order.sort_by_key(|i| files[*i].phase);
    for i in order {
        let file = &files[i];
        for row in &file.replaced_rows {
            versions
                .entry(row.lab_id.clone())
                .or_default()
                .written
                .push((i, row.clone(), false));
        }
        for row in &file.rows {
            // A writer reopening by name after the claim: the rows of its
            // second write are not sent (README: the rest is a new file
            // without a header); the continuation report is checked below.
            let required = file.readable() && row.valid && !file.behaviour.writes_late();
            versions
                .entry(row.lab_id.clone())
                .or_default()
                .written
                .push((i, row.clone(), required));
        }
    }

    // Documents against the rows.
    let mut by_lab_id: BTreeMap<&str, Vec<&Document>> = BTreeMap::new();
    for d in &documents {
        by_lab_id.entry(d.lab_id.as_str()).or_default().push(d);
    }
    for (lab_id, docs) in &by_lab_id {
        let Some(v) = versions.get(*lab_id) else {
            fail("unknown document", format!("{lab_id} was never written"));
            continue;
        };
        let owner = owner(v, &by_lab_id, lab_id);
        let allowed: Vec<Content> = v
            .written
            .iter()
            .filter(|(_, r, _)| r.valid)
            .map(|(_, r, _)| Content::of(r))
            .filter(|c| owner.as_ref().is_some_and(|f| c.same_result_of(f)))
            .collect();
        for (n, d) in docs.iter().enumerate() {
            if let Some(target) = &d.replaces {
                let before = documents.iter().find(|p| &p.rnds_id == target);
                if let Some(before) = before {
                    if !before.content.same_result_of(&d.content) {
                        fail(
                            "cross-patient replacement",
                            format!(
                                "{lab_id}: {} {} replaced by {} {}",
                                before.content.cns,
                                before.content.loinc,
                                d.content.cns,
                                d.content.loinc
                            ),
                        );
                    } else if before.content == d.content {
                        fail(
                            "duplicated",
                            format!("{lab_id}: replaced by the same content"),
                        );
                    }
                }
            } else if n > 0 {
                fail("duplicated", format!("{lab_id}: a second new document"));
            }
            let written_version = v
                .written
                .iter()
                .any(|(_, r, _)| r.valid && Content::of(r) == d.content);
            // A version written for another patient or exam is the
            // cross-patient finding above, not a wrong field.
            if !allowed.contains(&d.content) && written_version && d.replaces.is_none() {
                fail(
                    "reused id sent",
                    format!(
                        "{lab_id} ({}): another patient's or exam's row under this id",
                        d.rnds_id
                    ),
                );
            }
            if !allowed.contains(&d.content) && !written_version {
                let written: Vec<&Row> = v.written.iter().map(|(_, r, _)| r).collect();
                let closest = written
                    .iter()
                    .map(|r| Content::of(r))
                    .find(|c| c.cns == d.content.cns);
                let what = match closest {
                    Some(c) => differences(&c, &d.content),
                    None => format!("patient {} was never written for it", d.content.cns),
                };
                let kind = if v.written.iter().any(|(_, r, _)| !r.valid)
                    && closest_invalid(&written, &d.content)
                {
                    "invalid row sent"
                } else {
                    "wrong field"
                };
                fail(kind, format!("{lab_id} ({}): {what}", d.rnds_id));
            }
        }
    }
    for (lab_id, v) in &versions {
        let Some(owner) = owner(v, &by_lab_id, lab_id) else {
            continue;
        };
        // The rows of another patient or exam under this id: never sent,
        // and the file's final report says why (the reused-id reason).
        for (file, row, required) in &v.written {
            if !*required || Content::of(row).same_result_of(&owner) {
                continue;
            }
            let refused = report_sets(outbox, files[*file].stem())
                .last()
                .is_some_and(|set| {
                    set.sent.iter().any(|(id, _, status)| {
                        id == lab_id
                            && status.starts_with("rejeitado")
                            && status.contains("já foi usado")
                    })
                });
            if !refused {
                fail(
                    "reused id not reported",
                    format!(
                        "{lab_id} of {} (another patient or exam than the result RNDS holds) is not reported refused as a reused id",
                        files[*file].name
                    ),
                );
            }
        }
        let expected = v
            .written
            .iter()
            .filter(|(_, r, required)| *required && Content::of(r).same_result_of(&owner))
            .map(|(i, r, _)| (i, Content::of(r)))
            .next_back();
        let Some((file, expected)) = expected else {
            continue;
        };
        match by_lab_id.get(lab_id.as_str()).and_then(|d| d.last()) {
            None => fail(
                "missing",
                format!("{lab_id} of {} never reached RNDS", files[*file].name),
            ),
            Some(current) if current.content != expected => fail(
                "wrong final",
                format!(
                    "{lab_id}: RNDS keeps a version that is not the last one written ({})",
                    differences(&expected, &current.content)
                ),
            ),
            Some(_) => {}
        }
    }

    // Reports against the documents and the files.
    let mut all_sets: Vec<(usize, ReportSet)> = Vec::new();
    for (i, file) in files.iter().enumerate() {
        let sets = report_sets(outbox, file.stem());
        let place = location(inbox, &file.name);
        if sets.is_empty() {
            fail("no report", format!("{} (file in {place})", file.name));
        }
        match (file.readable(), place) {
            (true, "processados") | (false, "falhas") => {}
            (true, "falhas") => fail("good file in falhas", file.name.clone()),
            (_, place) => fail("file not finished", format!("{} is in {place}", file.name)),
        }
        let earlier_pending = sets
            .iter()
            .take(sets.len().saturating_sub(1))
            .any(|s| count(&s.summary, "rows_pending") > 0);
        if sets.len() > 1 && !earlier_pending && !file.behaviour.writes_late() {
            let names: Vec<&str> = sets.iter().map(|s| s.name.as_str()).collect();
            fail(
                "extra report set",
                format!("{}: {}", file.name, names.join(", ")),
            );
        }
        for set in &sets {
            let summary = &set.summary;
            if summary.is_null() {
                fail("unreadable report", set.name.clone());
                continue;
            }
            let listed = set.sent.iter().filter(|(_, _, s)| is_sent(s)).count() as u64;
            let counted = count(summary, "rows_sent") + count(summary, "rows_replaced");
            if listed != counted {
                fail(
                    "report counts disagree",
                    format!(
                        "{}: rows_sent + rows_replaced = {counted}, enviados.csv lists {listed}",
                        set.name
                    ),
                );
            }
            if counted > 0 && !set.sent_csv_present {
                fail(
                    "report set incomplete",
                    format!("{}: no enviados.csv", set.name),
                );
            }
            for (lab_id, rnds_id, status) in &set.sent {
                // An empty id: RNDS proved it holds the row (EHR-ERR866 to
                // a re-POST of the same content) without telling its id
                // (README "já estava na RNDS"); a document of that lab id
                // must exist.
                if is_sent(status)
                    && !documents.iter().any(|d| {
                        &d.lab_id == lab_id && (&d.rnds_id == rnds_id || rnds_id.is_empty())
                    })
                {
                    fail(
                        "reported sent, not at RNDS",
                        format!("{}: {lab_id} \"{status}\" with id {rnds_id:?}", set.name),
                    );
                }
            }
        }
        // A writer that reopened the file by name after the claim: rows
        // that did not reach RNDS are covered only by the report that says
        // the second file is the rest of this one and what to do.
        if file.behaviour.writes_late() && file.readable() {
            let unsent: Vec<&str> = file
                .rows
                .iter()
                .filter(|r| r.valid && !by_lab_id.contains_key(r.lab_id.as_str()))
                .map(|r| r.lab_id.as_str())
                .collect();
            let continuation = sets.iter().any(|s| {
                s.summary["issues"].as_array().is_some_and(|issues| {
                    issues
                        .iter()
                        .any(|i| i["code"] == "continuacao_de_arquivo_ja_recebido")
                })
            });
            if !unsent.is_empty() && !continuation {
                fail(
                    "reopened rows unexplained",
                    format!(
                        "{}: {} never reached RNDS and no report says the file was reopened",
                        file.name,
                        unsent.join(", ")
                    ),
                );
            }
        }
        if let Some(last) = sets.last() {
            if count(&last.summary, "rows_pending") > 0 {
                fail("pending at the end", last.name.clone());
            }
        }
        all_sets.extend(sets.into_iter().map(|s| (i, s)));
    }
    let mut reported_ids: BTreeSet<(&str, &str)> = BTreeSet::new();
    for (_, set) in &all_sets {
        for (lab_id, rnds_id, status) in &set.sent {
            // Also a row an earlier version of a rewritten file sent, listed
            // with its RNDS id (issue 17 item 9): reported, not counted.
            // And a row a later file's version superseded after RNDS had
            // stored it ("enviado antes: um arquivo posterior …").
            if is_sent(status)
                || status.starts_with("já enviado")
                || status.starts_with("enviado de uma versão anterior")
                || status.starts_with("enviado antes")
            {
                reported_ids.insert((lab_id, rnds_id));
            }
        }
    }
    for d in &documents {
        let mentioned = reported_ids.contains(&(d.lab_id.as_str(), d.rnds_id.as_str()))
            || reported_ids.contains(&(d.lab_id.as_str(), ""));
        if !mentioned {
            let other = all_sets
                .iter()
                .flat_map(|(_, s)| s.sent.iter().map(move |r| (s, r)))
                .find(|(_, (l, _, _))| *l == d.lab_id)
                .map(|(s, (_, _, status))| {
                    format!(" (only: \"{}\" in {})", shorten(status), s.name)
                })
                .unwrap_or_default();
            fail(
                "stored, never reported sent",
                format!("{} ({}){other}", d.lab_id, d.rnds_id),
            );
        }
    }
    violations
}

/// Whose result a lab id names: the patient and exam of the first document
/// RNDS stored under it (a lab id reused across files belongs to whichever
/// row reached RNDS first; ARCHITECTURE.md, "Versions of one result"), or, when none
/// was stored, of the first valid row written with it. Which one reached
/// RNDS first depends on outages and kills; either is a true outcome as long
/// as the other patient's or exam's row is never sent and is reported
/// refused, which the checks above verify.
fn owner(
    v: &Versions,
    by_lab_id: &BTreeMap<&str, Vec<&Document>>,
    lab_id: &str,
) -> Option<Content> {
    let stored = by_lab_id
        .get(lab_id)
        .and_then(|docs| docs.first())
        .map(|d| d.content.clone());
    // Only a row that was written can own the id (a stored content that
    // matches no row is the "wrong field" finding, judged by the first row).
    let written = |c: &Content| {
        v.written
            .iter()
            .any(|(_, r, _)| r.valid && Content::of(r).same_result_of(c))
    };
    stored.filter(written).or_else(|| {
        v.written
            .iter()
            .find(|(_, r, _)| r.valid)
            .map(|(_, r, _)| Content::of(r))
    })
}

fn closest_invalid(written: &[&Row], content: &Content) -> bool {
    written.iter().any(|r| !r.valid && r.cns == content.cns)
}

fn shorten(text: &str) -> String {
    text.chars().take(60).collect()
}

fn differences(expected: &Content, got: &Content) -> String {
    let mut out = Vec::new();
    for (name, e, g) in [
        ("CNS", &expected.cns, &got.cns),
        ("exam", &expected.loinc, &got.loinc),
        ("result", &expected.result, &got.result),
        ("collected", &expected.effective, &got.effective),
        ("method", &expected.method, &got.method),
    ] {
        if e != g {
            out.push(format!("{name} {g:?} instead of {e:?}"));
        }
    }
    out.join(", ")
}
