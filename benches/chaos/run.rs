//! One seed from start to verdict, and the command line around seeds.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::thread::{self, sleep, JoinHandle};
use std::time::{Duration, Instant};

use crate::checker::{self, Violation};
use crate::faults::{self, Plan, Trigger};
use crate::procs::{self, Service, Simulator};
use crate::rng::Rng;
use crate::scenario::{self, InputFile};
use crate::writers;

const SETTLE_MS: u64 = 200;
/// After the last fault, how long a seed may take to reach its end state.
const HEAL_DEADLINE: Duration = Duration::from_secs(90);
/// A kill whose instant never comes (no file to resume, say) lands this
/// long after the start instead (the service then idles or settles).
const KILL_ARM_LIMIT_MS: u64 = 4_000;

struct Args {
    seeds: Vec<u64>,
    faults: String,
    keep: bool,
    /// Seeds run at once (each with its own folder, simulator port and
    /// processes); the output stays in seed order.
    jobs: usize,
}

fn args() -> Result<Args, String> {
    let mut seeds = None;
    let mut first = 1;
    let mut faults = faults::DEFAULT.to_string();
    let mut keep = false;
    let mut jobs = 1;
    let mut list = std::env::args().skip(1);
    while let Some(arg) = list.next() {
        let mut value = |name: &str| list.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--seeds" => seeds = Some(parse(&value("--seeds")?)?),
            "--first" => first = parse(&value("--first")?)?,
            "--seed" => {
                let seed = parse(&value("--seed")?)?;
                first = seed;
                seeds = Some(1);
            }
            "--faults" => faults = value("--faults")?,
            "--keep" => keep = true,
            "--jobs" => jobs = parse(&value("--jobs")?)?.max(1) as usize,
            // `cargo bench` adds it; a filter word is ignored too.
            "--bench" => {}
            other if other.starts_with("--") => return Err(format!("unknown option {other}")),
            _ => {}
        }
    }
    let count = seeds.unwrap_or(20);
    Ok(Args {
        seeds: (first..first + count).collect(),
        faults,
        keep,
        jobs,
    })
}

fn parse(text: &str) -> Result<u64, String> {
    text.parse()
        .map_err(|_| format!("{text:?} is not a number"))
}

pub(crate) fn main() -> i32 {
    let args = match args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("chaos: {e}");
            return 2;
        }
    };
    let enabled = match faults::parse(&args.faults) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("chaos: {e}");
            return 2;
        }
    };
    let fault_list: Vec<&str> = enabled.iter().copied().collect();
    let fault_list = fault_list.join(",");
    println!(
        "chaos: {} seed(s) from {}, {} at once, fault classes {fault_list}, binary {}",
        args.seeds.len(),
        args.seeds[0],
        args.jobs,
        procs::binary()
    );
    let started = Instant::now();
    let mut totals = Totals::default();
    let mut failing = Vec::new();
    let (sender, finished) = std::sync::mpsc::channel();
    let next = std::sync::atomic::AtomicUsize::new(0);
    thread::scope(|scope| {
        for _ in 0..args.jobs.min(args.seeds.len()) {
            let sender = sender.clone();
            let (next, seeds, enabled) = (&next, &args.seeds, &enabled);
            scope.spawn(move || loop {
                let k = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let Some(&seed) = seeds.get(k) else { break };
                let outcome = run_seed(seed, enabled, args.keep);
                if sender.send((k, outcome)).is_err() {
                    break;
                }
            });
        }
        drop(sender);
        // Printed in seed order, whichever finishes first.
        let mut done: BTreeMap<usize, Outcome> = BTreeMap::new();
        let mut printed = 0;
        for (k, outcome) in finished {
            done.insert(k, outcome);
            while let Some(outcome) = done.remove(&printed) {
                let seed = args.seeds[printed];
                printed += 1;
                report_seed(seed, &outcome, &fault_list, &mut totals, &mut failing);
            }
        }
    });
    summarize(&args, &started, &totals, failing)
}

fn report_seed(
    seed: u64,
    outcome: &Outcome,
    fault_list: &str,
    totals: &mut Totals,
    failing: &mut Vec<(u64, Vec<Violation>)>,
) {
    totals.add(outcome);
    let classes: Vec<&str> = outcome.classes.iter().copied().collect();
    let verdict = if outcome.violations.is_empty() {
        "ok"
    } else {
        "FAILED"
    };
    println!(
        "seed {seed} [{}] {verdict}: {} files, {} rows, {} kills, {} documents, {:.1} s",
        classes.join(","),
        outcome.files,
        outcome.rows,
        outcome.kills,
        outcome.documents,
        outcome.seconds
    );
    if !outcome.violations.is_empty() {
        for line in &outcome.plan {
            println!("    plan: {line}");
        }
        for v in outcome.violations.iter().take(12) {
            println!("    {v}");
        }
        if outcome.violations.len() > 12 {
            println!("    … {} more", outcome.violations.len() - 12);
        }
        println!("    folder: {}", outcome.dir.display());
        println!("    replay: cargo bench --bench chaos -- --seed {seed} --faults {fault_list}");
        failing.push((seed, outcome.violations.clone()));
    }
}

fn summarize(
    args: &Args,
    started: &Instant,
    totals: &Totals,
    failing: Vec<(u64, Vec<Violation>)>,
) -> i32 {
    println!(
        "chaos: {} seeds, {} kills ({} SIGKILL, {} SIGTERM), {} files, {} rows, {} documents in {:.0} s; {} failing seed(s)",
        args.seeds.len(),
        totals.kills,
        totals.sigkills,
        totals.kills - totals.sigkills,
        totals.files,
        totals.rows,
        totals.documents,
        started.elapsed().as_secs_f64(),
        failing.len()
    );
    if failing.is_empty() {
        println!("chaos: 0 missing, 0 duplicated, 0 wrong field, 0 cross-patient replacement, every file one true report set");
        return 0;
    }
    let mut by_kind: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    for (seed, violations) in &failing {
        for v in violations {
            let seeds = by_kind.entry(v.kind).or_default();
            if seeds.last() != Some(seed) {
                seeds.push(*seed);
            }
        }
    }
    for (kind, seeds) in by_kind {
        let list: Vec<String> = seeds.iter().map(u64::to_string).collect();
        println!("chaos: {kind}: seeds {}", list.join(" "));
    }
    1
}

#[derive(Default)]
struct Totals {
    kills: u64,
    sigkills: u64,
    files: u64,
    rows: u64,
    documents: u64,
}

impl Totals {
    fn add(&mut self, o: &Outcome) {
        self.kills += o.kills;
        self.sigkills += o.sigkills;
        self.files += o.files;
        self.rows += o.rows;
        self.documents += o.documents;
    }
}

struct Outcome {
    classes: BTreeSet<&'static str>,
    plan: Vec<String>,
    violations: Vec<Violation>,
    files: u64,
    rows: u64,
    kills: u64,
    sigkills: u64,
    documents: u64,
    seconds: f64,
    dir: PathBuf,
}

fn spawn_writer(file: &InputFile, bytes: Vec<u8>, inbox: &Path, mut rng: Rng) -> JoinHandle<()> {
    let file = file.clone();
    let inbox = inbox.to_path_buf();
    thread::spawn(move || {
        sleep(Duration::from_millis(file.start_ms));
        if let Err(e) = writers::write(&file, &bytes, &inbox, SETTLE_MS, &mut rng) {
            // The writer's own failure (its file was claimed): what a real
            // program would see; the checker judges the outcome.
            eprintln!("    writer of {}: {e}", file.name);
        }
    })
}

fn run_seed(seed: u64, enabled: &BTreeSet<&'static str>, keep: bool) -> Outcome {
    let started = Instant::now();
    let mut rng = Rng::new(seed);
    let plan = Plan::draw(&mut rng.fork(1), enabled);
    let files = scenario::draw(&mut rng.fork(2), seed, &plan);
    let mut byte_rng = rng.fork(3);
    let contents: Vec<Vec<u8>> = files
        .iter()
        .map(|f| writers::final_bytes(f, &mut byte_rng))
        .collect();

    let dir = std::env::temp_dir().join(format!(
        "rnds-drop-chaos-{}/seed-{seed}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let ws = dir.join("laboratorio");
    let inbox = ws.join("entrada");
    let outbox = ws.join("saida");
    std::fs::create_dir_all(&inbox).expect("inbox");
    std::fs::create_dir_all(&outbox).expect("outbox");

    let mut describe = vec![format!(
        "files: {}",
        files
            .iter()
            .map(|f| format!("{} ({} rows, {:?})", f.name, f.rows.len(), f.behaviour))
            .collect::<Vec<_>>()
            .join("; ")
    )];
    for (i, p) in plan.phases.iter().enumerate() {
        describe.push(format!(
            "simulator phase {}: {} for {} ms, then down {} ms",
            i + 1,
            p.faults.describe(),
            p.duration_ms,
            p.gap_ms
        ));
    }
    for k in &plan.kills {
        describe.push(format!("kill: {}", k.describe()));
    }

    let mut sim = Simulator::new(dir.join("simulador"), procs::free_port());
    sim.start(&plan.phases[0].faults);
    let config = ws.join("rnds-drop.toml");
    procs::write_config(&config, &sim.dir, sim.port, SETTLE_MS);
    let mut service = Service::new(config, dir.clone());
    service.start();

    let mut violations = Vec::new();
    let mut writers_running: Vec<JoinHandle<()>> = Vec::new();
    for (i, f) in files.iter().enumerate().filter(|(_, f)| f.phase == 0) {
        writers_running.push(spawn_writer(
            f,
            contents[i].clone(),
            &inbox,
            rng.fork(100 + i as u64),
        ));
    }
    let mut later_started = !files.iter().any(|f| f.phase == 1);
    let mut phase = 0;
    let mut phase_started = Instant::now();
    let mut healed_at: Option<Instant> = None;
    let mut kills = plan.kills.iter();
    let mut next_kill = kills.next();
    let mut armed_at: Option<Instant> = None;
    let mut docs_at_start = sim.document_count();
    let (mut done_kills, mut done_sigkills) = (0, 0);
    let mut settled_since: Option<Instant> = None;

    loop {
        sleep(Duration::from_millis(10));
        // Simulator phases, then the healing phase (no faults) to the end.
        if healed_at.is_none()
            && phase_started.elapsed().as_millis() as u64 >= plan.phases[phase].duration_ms
        {
            sim.stop();
            sleep(Duration::from_millis(plan.phases[phase].gap_ms));
            phase += 1;
            if let Some(next) = plan.phases.get(phase) {
                sim.start(&next.faults);
            } else {
                sim.start(&faults::SimFaults::default());
                healed_at = Some(Instant::now());
            }
            phase_started = Instant::now();
        }
        // The service stopping by itself is a finding; it is restarted.
        if let Some(status) = service.exited() {
            let log = service.log();
            let tail: Vec<&str> = log.lines().rev().take(3).collect();
            violations.push(Violation {
                kind: "service exited",
                detail: format!("{status}: {}", tail.join(" | ")),
            });
            service.start();
            docs_at_start = sim.document_count();
        }
        // Kills.
        if let Some(kill) = next_kill {
            if armed_at.is_none() {
                let fired = match &kill.trigger {
                    Trigger::Log(text) => service.log().contains(text),
                    Trigger::Documents(n) => sim.document_count() >= docs_at_start + n,
                    Trigger::Uptime(ms) => service.uptime_ms() >= *ms,
                };
                if fired || service.uptime_ms() > KILL_ARM_LIMIT_MS {
                    armed_at = Some(Instant::now());
                }
            }
            if armed_at.is_some_and(|at| at.elapsed().as_millis() as u64 >= kill.delay_ms) {
                let status = service.stop(kill.sigkill);
                if !kill.sigkill && !status.is_some_and(|s| s.success()) {
                    violations.push(Violation {
                        kind: "unclean stop",
                        detail: format!("SIGTERM ended the service with {status:?}"),
                    });
                }
                done_kills += 1;
                done_sigkills += u64::from(kill.sigkill);
                sleep(Duration::from_millis(kill.down_ms));
                service.start();
                docs_at_start = sim.document_count();
                armed_at = None;
                next_kill = kills.next();
            }
        }
        // The next day's file, once the first day's files are reported.
        writers_running.retain(|w| !w.is_finished());
        if !later_started && writers_running.is_empty() && checker::reported(&files, 0, &outbox) {
            for (i, f) in files.iter().enumerate().filter(|(_, f)| f.phase == 1) {
                writers_running.push(spawn_writer(
                    f,
                    contents[i].clone(),
                    &inbox,
                    rng.fork(100 + i as u64),
                ));
            }
            later_started = true;
        }
        let Some(healed) = healed_at else { continue };
        let quiet = next_kill.is_none() && writers_running.is_empty() && later_started;
        if quiet && checker::settled(&files, &inbox, &outbox) {
            let since = *settled_since.get_or_insert_with(Instant::now);
            // Settled for a while: nothing more is coming.
            if since.elapsed() > Duration::from_millis(1_500) {
                break;
            }
        } else {
            settled_since = None;
        }
        if healed.elapsed() > HEAL_DEADLINE {
            violations.push(Violation {
                kind: "stuck",
                detail: format!(
                    "not settled {} s after the last fault (a file without its final report, or still in the inbox)",
                    HEAL_DEADLINE.as_secs()
                ),
            });
            break;
        }
    }
    if let Some(status) = service.stop(false) {
        if !status.success() {
            violations.push(Violation {
                kind: "unclean stop",
                detail: format!("final SIGTERM: {status}"),
            });
        }
    }
    sim.stop();
    violations.extend(checker::check(
        &files,
        &sim.documents_file(),
        &inbox,
        &outbox,
    ));
    let documents = sim.document_count();
    if violations.is_empty() && !keep {
        let _ = std::fs::remove_dir_all(&dir);
    }
    Outcome {
        classes: plan.classes.clone(),
        plan: describe,
        violations,
        files: files.len() as u64,
        rows: files.iter().map(|f| f.rows.len() as u64).sum(),
        kills: done_kills,
        sigkills: done_sigkills,
        documents,
        seconds: started.elapsed().as_secs_f64(),
        dir,
    }
}
