//! Fault classes (`--faults kill,lost,...`) and the fault plan a seed
//! draws from the enabled ones: simulator phases (each a restart of
//! `rnds-drop simulate` with its own fault flags), service kills with the
//! instant that arms them, and which writer behaviours scenarios may use.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use crate::rng::Rng;

/// Every class, in the order `--faults all` lists them.
pub(crate) const ALL: &[&str] = &[
    "kill", "term", "lost", "5xx", "429", "timeout", "redirect", "outage", "pause", "quotes",
    "truncate", "reopen", "corrupt", "reuse",
];

/// What a seed may use unless told otherwise: every class. `kill`,
/// `quotes`, `reuse`, `truncate` and `reopen` were left out while issue
/// 17's items 1, 5, 4 and 9 and the resumed-file replacement of seed 5 were
/// open (BENCHMARKS.md); each held 10 seeds on its own once fixed.
pub(crate) const DEFAULT: &str =
    "kill,term,lost,5xx,429,timeout,redirect,outage,pause,quotes,truncate,reopen,corrupt,reuse";

/// Parses `kill,lost` or `all`; an unknown class is an error naming the known ones.
pub(crate) fn parse(list: &str) -> Result<BTreeSet<&'static str>, String> {
    if list == "all" {
        return Ok(ALL.iter().copied().collect());
    }
    let mut classes = BTreeSet::new();
    for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        match ALL.iter().find(|c| **c == name) {
            Some(c) => {
                classes.insert(*c);
            }
            None => {
                return Err(format!(
                    "unknown fault class {name:?}; known: {}",
                    ALL.join(",")
                ))
            }
        }
    }
    Ok(classes)
}

/// The simulator's fault flags for one phase.
#[derive(Debug, Clone, Default)]
pub(crate) struct SimFaults {
    pub(crate) lost: f64,
    pub(crate) error_5xx: f64,
    pub(crate) rate_429: f64,
    pub(crate) stall: f64,
    pub(crate) redirect: f64,
}

impl SimFaults {
    pub(crate) fn args(&self) -> Vec<String> {
        let mut args = vec![
            "--latency-ms".into(),
            "3".into(),
            "--jitter-ms".into(),
            "5".into(),
        ];
        let mut flag = |name: &str, value: f64| {
            if value > 0.0 {
                args.push(name.into());
                args.push(format!("{value}"));
            }
        };
        flag("--lost-answer-rate", self.lost);
        flag("--error-5xx-rate", self.error_5xx);
        flag("--rate-429", self.rate_429);
        flag("--redirect-rate", self.redirect);
        if self.stall > 0.0 {
            flag("--stall-rate", self.stall);
            // Longer than the service's 1 s time-out.
            args.extend(["--stall-ms".into(), "1500".into()]);
        }
        args.extend(["--retry-after-s".into(), "1".into()]);
        args
    }

    pub(crate) fn describe(&self) -> String {
        let mut out = String::new();
        for (name, v) in [
            ("lost", self.lost),
            ("5xx", self.error_5xx),
            ("429", self.rate_429),
            ("stall", self.stall),
            ("redirect", self.redirect),
        ] {
            if v > 0.0 {
                let _ = write!(out, "{name}={v} ");
            }
        }
        if out.is_empty() {
            out.push_str("none");
        }
        out.trim_end().to_string()
    }
}

/// One simulator phase: its faults for `duration_ms`, then a restart
/// after `gap_ms` without a listener (an outage when long).
#[derive(Debug, Clone)]
pub(crate) struct Phase {
    pub(crate) duration_ms: u64,
    pub(crate) faults: SimFaults,
    pub(crate) gap_ms: u64,
}

/// What arms a kill of the service.
#[derive(Debug, Clone)]
pub(crate) enum Trigger {
    /// The service logged this text (counted from its current start).
    Log(&'static str),
    /// The simulator holds this many more documents than when the current
    /// service started.
    Documents(u64),
    /// This long after the current service started.
    Uptime(u64),
}

/// One kill: when it is armed, the delay after that, the signal, and how
/// long the service stays down.
#[derive(Debug, Clone)]
pub(crate) struct Kill {
    pub(crate) trigger: Trigger,
    pub(crate) delay_ms: u64,
    pub(crate) sigkill: bool,
    pub(crate) down_ms: u64,
}

impl Kill {
    pub(crate) fn describe(&self) -> String {
        let signal = if self.sigkill { "SIGKILL" } else { "SIGTERM" };
        let when = match &self.trigger {
            Trigger::Log(text) => format!("log \"{text}\""),
            Trigger::Documents(n) => format!("{n} more documents"),
            Trigger::Uptime(ms) => format!("{ms} ms up"),
        };
        format!("{signal} {} ms after {when}", self.delay_ms)
    }
}

/// The plan of one seed.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub(crate) classes: BTreeSet<&'static str>,
    pub(crate) phases: Vec<Phase>,
    pub(crate) kills: Vec<Kill>,
}

impl Plan {
    /// Each enabled class is used by this seed with probability 1/2 (at
    /// least one), so a failing seed names few classes.
    pub(crate) fn draw(rng: &mut Rng, enabled: &BTreeSet<&'static str>) -> Plan {
        let mut classes: BTreeSet<&'static str> = enabled
            .iter()
            .copied()
            .filter(|_| rng.chance(0.5))
            .collect();
        if classes.is_empty() && !enabled.is_empty() {
            let all: Vec<_> = enabled.iter().copied().collect();
            classes.insert(*rng.pick(&all));
        }
        let phases = (0..rng.range(1, 3))
            .map(|_| Phase {
                duration_ms: rng.range(1_500, 5_000),
                faults: SimFaults {
                    lost: on(rng, &classes, "lost", 0.05, 0.3),
                    error_5xx: on(rng, &classes, "5xx", 0.1, 0.6),
                    rate_429: on(rng, &classes, "429", 0.1, 0.5),
                    stall: on(rng, &classes, "timeout", 0.05, 0.3),
                    redirect: on(rng, &classes, "redirect", 0.05, 0.5),
                },
                gap_ms: if classes.contains("outage") {
                    rng.range(200, 4_000)
                } else {
                    0
                },
            })
            .collect();
        let mut kills = Vec::new();
        for (class, sigkill) in [("kill", true), ("term", false)] {
            if classes.contains(class) {
                for _ in 0..rng.range(1, 3) {
                    kills.push(draw_kill(rng, sigkill));
                }
            }
        }
        // Interleave SIGKILLs and SIGTERMs.
        for i in (1..kills.len()).rev() {
            let j = rng.range(0, i as u64) as usize;
            kills.swap(i, j);
        }
        Plan {
            classes,
            phases,
            kills,
        }
    }

    pub(crate) fn has(&self, class: &str) -> bool {
        self.classes.contains(class)
    }
}

fn on(rng: &mut Rng, classes: &BTreeSet<&str>, class: &str, low: f64, high: f64) -> f64 {
    // Per phase: a burst or a quiet phase.
    if classes.contains(class) && rng.chance(0.7) {
        rng.rate(low, high)
    } else {
        0.0
    }
}

/// Where the kill lands: reading (a file was just claimed), resuming a
/// file, resolving unconfirmed sends at start, sending (documents
/// arriving), or anywhere (uptime, which also hits settling and publishing).
fn draw_kill(rng: &mut Rng, sigkill: bool) -> Kill {
    let trigger = match rng.range(0, 4) {
        0 => Trigger::Log("arquivo recebido"),
        1 => Trigger::Log("retomando arquivo"),
        2 => Trigger::Log("resolvendo envios sem confirmação"),
        3 => Trigger::Documents(rng.range(1, 40)),
        _ => Trigger::Uptime(rng.range(200, 6_000)),
    };
    Kill {
        trigger,
        delay_ms: rng.range(0, 400),
        sigkill,
        down_ms: rng.range(0, 1_500),
    }
}
