//! Chaos harness: the real release binary (`rnds-drop run`) against the
//! real simulator (`rnds-drop simulate`), with random kills, writers,
//! answer faults, corrupt files and reused lab ids, all drawn from a seed;
//! then an independent check of what RNDS stored and what the reports say.
//!
//!     cargo bench --bench chaos -- --seeds 20            # CI: seeds 1..=20
//!     cargo bench --bench chaos -- --seeds 500 --jobs 2  # long mode, 2 seeds at once
//!     cargo bench --bench chaos -- --seed 1234           # replay one seed
//!     cargo bench --bench chaos -- --seeds 20 --faults kill,lost,5xx
//!
//! `--faults` lists the classes a seed may draw from (`all`, or see
//! `faults::ALL`); each seed uses about half of them. A failing seed
//! prints the command that replays it and keeps its folder.

// A harness: a failed setup step (temp dir, spawning the binary) should stop it loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]
// Test code, as tests/it: the checker's list of rules and a seed's run read
// best as one story top to bottom (too_many_lines is for the library).
#![allow(clippy::too_many_lines)]

#[cfg(unix)]
mod checker;
#[cfg(unix)]
mod faults;
#[cfg(unix)]
mod procs;
#[cfg(unix)]
mod rng;
#[cfg(unix)]
mod run;
#[cfg(unix)]
mod scenario;
#[cfg(unix)]
mod writers;

#[cfg(unix)]
fn main() {
    std::process::exit(run::main());
}

#[cfg(windows)]
fn main() {
    // Signals and open-handle writers are the unix story; the Windows
    // build is covered by its own smoke test.
    println!("chaos: runs on unix only");
}
