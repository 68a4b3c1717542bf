//! Fuzzing of the event-stream reader (target `sse`, seeds in
//! fuzz/corpus/sse): whatever the bytes, the events, the last event id and
//! the retry time must not depend on how the bytes were cut into pieces.

use super::tests::parse_in_pieces;

/// Inputs up to this long are checked split at every position; longer
/// ones at about this many positions, spread over the input, plus every
/// position next to a line ending.
const ALL_SPLITS_UP_TO: usize = 600;

/// The positions to split `input` at in two.
fn cuts(input: &[u8]) -> Vec<usize> {
    if input.len() <= ALL_SPLITS_UP_TO {
        return (0..=input.len()).collect();
    }
    let step = input.len() / ALL_SPLITS_UP_TO + 1;
    let near_line_ends = input
        .iter()
        .enumerate()
        .filter(|(_, b)| matches!(b, b'\r' | b'\n'))
        .flat_map(|(i, _)| [i, i + 1])
        .take(ALL_SPLITS_UP_TO);
    let mut cuts: Vec<usize> = (0..=input.len())
        .step_by(step)
        .chain(near_line_ends)
        .collect();
    cuts.sort_unstable();
    cuts.dedup();
    cuts
}

#[test]
fn fuzz_sse() {
    openpista_fuzz::run("sse", |input| {
        let (expected, whole) = parse_in_pieces(input, &[]);
        let same = |cut_at: &[usize]| {
            let (events, parser) = parse_in_pieces(input, cut_at);
            assert_eq!(events, expected, "cut at {cut_at:?}");
            assert_eq!(parser.retry_ms(), whole.retry_ms(), "cut at {cut_at:?}");
            assert_eq!(parser.last_event_id(), whole.last_event_id());
        };
        for cut in cuts(input) {
            same(&[cut]);
        }
        let every: Vec<usize> = (1..input.len()).collect();
        same(&every);
        // A few three-way splits, at positions the input itself chooses.
        let n = input.len();
        for k in 1..4 {
            let a = (n * k / 7 + usize::from(input.first().copied().unwrap_or(0))) % (n + 1);
            let b = a + (n - a) / (k + 1);
            same(&[a, b]);
        }
        for e in &expected {
            // Line endings only separate lines: none is left in a value
            // but the `\n` that joins `data:` lines.
            assert!(!e.data.contains('\r'), "{e:?}");
            let one_line =
                |s: &Option<String>| s.as_deref().is_none_or(|s| !s.contains(['\r', '\n']));
            assert!(one_line(&e.event) && one_line(&e.id), "{e:?}");
            assert!(e.id.as_deref().is_none_or(|id| !id.contains('\0')));
            assert_ne!(e.event.as_deref(), Some(""));
        }
    });
}
