//! A small fuzzing harness on stable Rust: proptest drives mutations of a
//! committed seed corpus, so a parser's test can fuzz it in CI for a
//! bounded time without a nightly toolchain or cargo-fuzz.
//!
//! A target is a name (the corpus folder `fuzz/corpus/<target>/`, one seed
//! per file) and a check, a closure that parses one input and asserts what
//! must hold of any input (no panic, and properties such as a round trip).
//! [`run`] first checks every seed as it is, then random inputs: a seed
//! with a few [`Mutation`]s (byte flips, dictionary tokens, truncation,
//! splicing two seeds, duplication, and JSON-aware changes of a value's
//! type or nesting depth), or random bytes, or a random string of
//! [`mutate::DICTIONARY`] tokens.
//!
//! ```no_run
//! // In the crate that owns the parser, with `openpista-fuzz` as a
//! // dev-dependency:
//! #[test]
//! fn fuzz_my_parser() {
//!     openpista_fuzz::run_str("my_parser", |text| {
//!         if let Ok(value) = my_parser(text) {
//!             assert_eq!(my_parser(&my_writer(&value)), Ok(value));
//!         }
//!     });
//! }
//! # fn my_parser(_: &str) -> Result<u8, ()> { Ok(0) }
//! # fn my_writer(_: &u8) -> String { String::new() }
//! ```
//!
//! How long: at most [`Limits::cases`] random cases and at most
//! [`Limits::secs`] seconds (environment variables `OPENPISTA_FUZZ_CASES`
//! and `OPENPISTA_FUZZ_SECS`; setting only the seconds lifts the case
//! limit, so `OPENPISTA_FUZZ_SECS=600` fuzzes for ten minutes).
//!
//! A failure panics with the target's name and the input shrunk to a
//! small one, written as a Rust byte-string literal to paste into a
//! regression test; proptest also records the failing case's seed in
//! `fuzz/proptest-regressions/<target>.txt` and replays it first from then
//! on (commit that file). See fuzz/README.md.

pub mod mutate;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence, Reason, TestError, TestRunner};

pub use mutate::Mutation;

/// Random cases per target when `OPENPISTA_FUZZ_CASES` is not set: enough
/// to find the shallow bugs on every CI run in a few seconds of a debug
/// build.
pub const DEFAULT_CASES: u64 = 1_000;
/// The time limit per target when `OPENPISTA_FUZZ_SECS` is not set.
pub const DEFAULT_SECS: u64 = 4;
/// Cases per proptest run; [`run`] runs rounds of this many until a
/// limit is reached, each with a fresh random seed.
const ROUND: u32 = 100;
/// How long shrinking a failure may take.
const SHRINK_MS: u32 = 30_000;

/// How long a target runs: whichever limit is reached first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Random cases (the seeds themselves are checked in addition).
    pub cases: u64,
    /// Wall-clock seconds.
    pub secs: u64,
}

impl Limits {
    /// The limits from `OPENPISTA_FUZZ_CASES` and `OPENPISTA_FUZZ_SECS`
    /// (the defaults otherwise; unreadable values are ignored). Only the
    /// seconds given means no case limit.
    pub fn from_env() -> Limits {
        let read = |name: &str| {
            std::env::var(name)
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
        };
        Limits::from_values(read("OPENPISTA_FUZZ_CASES"), read("OPENPISTA_FUZZ_SECS"))
    }

    fn from_values(cases: Option<u64>, secs: Option<u64>) -> Limits {
        match (cases, secs) {
            (Some(cases), secs) => Limits {
                cases,
                secs: secs.unwrap_or(DEFAULT_SECS),
            },
            (None, Some(secs)) => Limits {
                cases: u64::MAX,
                secs,
            },
            (None, None) => Limits {
                cases: DEFAULT_CASES,
                secs: DEFAULT_SECS,
            },
        }
    }
}

/// The folder of `target`'s seeds: `fuzz/corpus/<target>`.
pub fn corpus_dir(target: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target)
}

/// `target`'s seeds, by file name. Panics when there are none: a target
/// without seeds would only fuzz random bytes, which rarely get past a
/// parser's first check.
pub fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = corpus_dir(target);
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| {
        panic!(
            "fuzz target `{target}`: no corpus at {}: {e}",
            dir.display()
        )
    });
    let mut seeds: Vec<(String, Vec<u8>)> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let bytes = std::fs::read(e.path())
                .unwrap_or_else(|err| panic!("fuzz target `{target}`: seed {name}: {err}"));
            (name, bytes)
        })
        .collect();
    assert!(
        !seeds.is_empty(),
        "fuzz target `{target}`: {} holds no seeds",
        dir.display()
    );
    seeds.sort();
    seeds
}

/// The inputs [`run`] tries: mostly mutated `seeds`, sometimes random
/// bytes or random dictionary tokens. Shrinks towards fewer mutations of
/// the first seed, or shorter random inputs.
pub fn inputs(seeds: Vec<Vec<u8>>) -> impl Strategy<Value = Vec<u8>> {
    let seeds = std::sync::Arc::new(seeds);
    let mutated = (any::<u32>(), vec(mutation(), 1..8)).prop_map(move |(seed, mutations)| {
        let mut input = seeds[mutate::pick(seed, seeds.len())].clone();
        for m in &mutations {
            m.apply(&mut input, &seeds);
        }
        input
    });
    let tokens = vec(any::<u32>(), 0..48).prop_map(|picks| {
        picks
            .iter()
            .flat_map(|p| mutate::DICTIONARY[mutate::pick(*p, mutate::DICTIONARY.len())])
            .copied()
            .collect()
    });
    prop_oneof![
        8 => mutated,
        1 => vec(any::<u8>(), 0..512),
        1 => tokens,
    ]
}

/// One [`Mutation`], byte-level ones more often than JSON ones.
fn mutation() -> impl Strategy<Value = Mutation> {
    let n = any::<u32>;
    prop_oneof![
        2 => (n(), any::<u8>()).prop_map(|(at, bit)| Mutation::FlipBit { at, bit }),
        2 => (n(), any::<u8>()).prop_map(|(at, byte)| Mutation::SetByte { at, byte }),
        4 => (n(), n()).prop_map(|(at, token)| Mutation::Insert { at, token }),
        2 => (n(), any::<u8>()).prop_map(|(at, len)| Mutation::Delete { at, len }),
        1 => n().prop_map(|at| Mutation::Truncate { at }),
        1 => (n(), n(), n()).prop_map(|(at, other, from)| Mutation::Splice { at, other, from }),
        1 => (n(), any::<u8>(), 0u8..16)
            .prop_map(|(at, len, times)| Mutation::Duplicate { at, len, times }),
        3 => (n(), n()).prop_map(|(which, with)| Mutation::JsonRetype { which, with }),
        1 => (n(), 1u16..300, any::<bool>())
            .prop_map(|(which, depth, object)| Mutation::JsonNest { which, depth, object }),
        1 => n().prop_map(|which| Mutation::JsonDrop { which }),
    ]
}

/// Fuzzes `check` with the inputs of `target` (see the [crate docs](self))
/// within [`Limits::from_env`]; panics, naming the target and the shrunk
/// input, when `check` panics for some input.
pub fn run(target: &str, check: impl Fn(&[u8])) {
    run_with(target, Limits::from_env(), check);
}

/// [`run`] for a parser of text: the input as UTF-8, invalid sequences
/// replaced by U+FFFD.
pub fn run_str(target: &str, check: impl Fn(&str)) {
    run(target, |bytes| check(&String::from_utf8_lossy(bytes)));
}

/// [`run`] with explicit limits.
pub fn run_with(target: &str, limits: Limits, check: impl Fn(&[u8])) {
    fuzz(target, limits, true, check);
}

/// [`run_with`]; `persist` says whether failures are recorded in (and
/// replayed from) `fuzz/proptest-regressions/<target>.txt`.
fn fuzz(target: &str, limits: Limits, persist: bool, check: impl Fn(&[u8])) {
    let seeds = corpus(target);
    for (name, seed) in &seeds {
        if let Err(panic) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(seed))) {
            panic!(
                "fuzz target `{target}` fails on its seed {name} ({}): {}",
                bytes_literal(seed),
                panic_message(&panic)
            );
        }
    }
    let strategy = inputs(seeds.into_iter().map(|(_, seed)| seed).collect());
    // Leaked once per target: proptest keeps the path as `&'static str`.
    let persistence: &'static str = Box::leak(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("proptest-regressions")
            .join(format!("{target}.txt"))
            .to_string_lossy()
            .into_owned()
            .into_boxed_str(),
    );
    let deadline = Instant::now() + Duration::from_secs(limits.secs);
    let mut done = 0u64;
    while done < limits.cases && Instant::now() < deadline {
        let cases = u32::try_from(limits.cases - done).map_or(ROUND, |left| left.min(ROUND));
        let config = Config {
            cases,
            failure_persistence: Some(Box::new(if persist {
                FileFailurePersistence::Direct(persistence)
            } else {
                FileFailurePersistence::Off
            })),
            max_shrink_time: SHRINK_MS,
            ..Config::default()
        };
        let mut runner = TestRunner::new(config);
        let result = runner.run(&strategy, |input| {
            check(&input);
            Ok(())
        });
        match result {
            Ok(()) => done += u64::from(cases),
            Err(TestError::Fail(why, input)) => panic!("{}", report(target, &why, &input)),
            Err(TestError::Abort(why)) => panic!("fuzz target `{target}`: aborted: {why}"),
        }
    }
}

/// The failure message: what failed, the input, how to keep it.
fn report(target: &str, why: &Reason, input: &[u8]) -> String {
    format!(
        "fuzz target `{target}` failed: {why}\n\
         minimal input ({} bytes): {}\n\
         as text: {:?}\n\
         Add it as a unit test next to the parser (see fuzz/README.md), fix \
         the parser, and commit fuzz/proptest-regressions/{target}.txt.",
        input.len(),
        bytes_literal(input),
        String::from_utf8_lossy(input),
    )
}

/// `bytes` as a Rust byte-string literal (`b"..."`).
pub fn bytes_literal(bytes: &[u8]) -> String {
    let escaped: String = bytes
        .iter()
        .flat_map(|b| b.escape_ascii())
        .map(char::from)
        .collect();
    format!("b\"{escaped}\"")
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "a panic without a message".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_come_from_the_environment_values() {
        let defaults = Limits {
            cases: DEFAULT_CASES,
            secs: DEFAULT_SECS,
        };
        assert_eq!(Limits::from_values(None, None), defaults);
        assert_eq!(
            Limits::from_values(None, Some(600)),
            Limits {
                cases: u64::MAX,
                secs: 600
            }
        );
        assert_eq!(
            Limits::from_values(Some(50), None),
            Limits {
                cases: 50,
                secs: DEFAULT_SECS
            }
        );
    }

    #[test]
    fn byte_literals_escape_what_is_not_printable() {
        assert_eq!(bytes_literal(b"a\"\n\xff"), r#"b"a\"\n\xff""#);
    }

    #[test]
    fn runs_the_seeds_and_mutations_of_a_target() {
        let seen = std::sync::atomic::AtomicU64::new(0);
        let limits = Limits {
            cases: 150,
            secs: 60,
        };
        run_with("harness_self_test", limits, |_| {
            seen.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        });
        // Two seeds, then two rounds (100 and 50 cases).
        assert_eq!(seen.into_inner(), 152);
    }

    #[test]
    fn a_failure_names_the_target_and_a_shrunk_input() {
        let limits = Limits {
            cases: 2_000,
            secs: 60,
        };
        let failure = std::panic::catch_unwind(|| {
            fuzz("harness_self_test", limits, false, |input| {
                assert!(!input.contains(&b'<'), "found a <");
            })
        })
        .expect_err("some input has a <");
        let message = panic_message(&failure);
        assert!(message.contains("`harness_self_test` failed"), "{message}");
        let input = message.split("minimal input").nth(1).expect(&message);
        assert!(input.contains('<'), "{message}");
    }
}
