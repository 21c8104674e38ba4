//! `make test`'s fuzz smoke: every target replays its seeds and the saved regression inputs
//! (`regressions/<target>/*`), then runs mutations for CUSTOS_FUZZ_SECONDS (default 2) each.
//! A failing input is saved under target/fuzz-failures/ and its bytes printed.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use custos_fuzz::mutate::{env_or, mutate, seed, Rng};
use custos_fuzz::{Target, TARGETS};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn regressions(t: &Target) -> Vec<Vec<u8>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("regressions")
        .join(t.name);
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for e in entries.flatten() {
            out.push(std::fs::read(e.path()).unwrap());
        }
    }
    out
}

fn fails(t: &Target, input: &[u8]) -> Option<String> {
    catch_unwind(AssertUnwindSafe(|| (t.run)(input)))
        .err()
        .map(|e| {
            e.downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default()
        })
}

fn save(t: &Target, input: &[u8]) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../target/fuzz-failures")
        .join(t.name);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{:016x}", fnv(input)));
    std::fs::write(&path, input).unwrap();
    path
}

fn fnv(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[test]
fn every_target_keeps_its_invariants() {
    let seconds: f64 = env_or("CUSTOS_FUZZ_SECONDS", 2.0);
    let seed = seed("CUSTOS_FUZZ_SEED");
    // Panics are expected while looking; their messages are reported below instead.
    std::panic::set_hook(Box::new(|_| {}));
    let mut failures = Vec::new();
    let mut summary = Vec::new();
    for t in TARGETS {
        let mut corpus: Vec<Vec<u8>> = t.seeds.iter().map(|s| s.to_vec()).collect();
        corpus.extend(regressions(t));
        corpus.push(Vec::new());
        for input in corpus.clone() {
            if let Some(msg) = fails(t, &input) {
                failures.push(format!(
                    "{}: seed/regression {:?}: {msg}",
                    t.name,
                    String::from_utf8_lossy(&input)
                ));
            }
        }
        let mut rng = Rng::new(seed ^ fnv(t.name.as_bytes()));
        let end = Instant::now() + Duration::from_secs_f64(seconds);
        let mut execs = 0u64;
        while Instant::now() < end {
            let a = &corpus[rng.below(corpus.len())];
            let b = &corpus[rng.below(corpus.len())];
            let input = mutate(&mut rng, a, b);
            execs += 1;
            if let Some(msg) = fails(t, &input) {
                let path = save(t, &input);
                failures.push(format!(
                    "{}: {msg}\n  input {:?} (saved as {})",
                    t.name,
                    String::from_utf8_lossy(&input),
                    path.display()
                ));
                break;
            }
            // Keep some mutants as parents: deeper inputs over time.
            if corpus.len() < 256 && rng.below(8) == 0 {
                corpus.push(input);
            }
        }
        summary.push(format!("{} {execs}", t.name));
    }
    let _ = std::panic::take_hook();
    eprintln!(
        "fuzz smoke (seed {seed}, {seconds} s each): {}",
        summary.join(", ")
    );
    assert!(failures.is_empty(), "seed {seed}:\n{}", failures.join("\n"));
}

#[test]
fn every_target_has_a_cargo_fuzz_binary() {
    let manifest = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/Cargo.toml"),
    )
    .unwrap();
    for t in TARGETS {
        assert!(
            manifest.contains(&format!("name = \"{}\"", t.name)),
            "fuzz/Cargo.toml has no [[bin]] for {}",
            t.name
        );
    }
}
