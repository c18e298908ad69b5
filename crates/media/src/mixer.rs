//! Mixing PCM16 frames for a room (conference bridge, whisper/barge-in).
//!
//! Sums are taken in `i32` and clamped once at the end, so the result is the saturating sum
//! of the exact total: order-independent, and a loud participant cancelled by the mix-minus
//! subtraction never leaves a clipped residue. Neither function allocates, except
//! [`mix_minus`] growing an output `Vec` the first time (callers reuse them).
//!
//! Inputs normally have the same length (one 20 ms frame each); a shorter input counts as
//! silence past its end.

/// Mix-minus for a room: each participant hears the sum of everyone else.
///
/// `inputs[i]` is participant i's frame (same length); writes `outputs[i]` = saturating sum
/// of all inputs except i. Each `outputs[i]` is resized to the longest input's length.
///
/// # Panics
///
/// If `outputs.len() != inputs.len()`.
pub fn mix_minus(inputs: &[&[i16]], outputs: &mut [Vec<i16>]) {
    assert_eq!(
        inputs.len(),
        outputs.len(),
        "mix_minus needs one output per input"
    );
    let len = inputs.iter().map(|input| input.len()).max().unwrap_or(0);
    for out in outputs.iter_mut() {
        out.clear();
        out.resize(len, 0);
    }
    for s in 0..len {
        let total: i32 = inputs.iter().map(|input| sample(input, s)).sum();
        for (input, out) in inputs.iter().zip(outputs.iter_mut()) {
            out[s] = saturate(total - sample(input, s));
        }
    }
}

/// Saturating sum of all inputs into `out` (`out.len()` samples; no inputs → silence).
pub fn mix_all(inputs: &[&[i16]], out: &mut [i16]) {
    for (s, o) in out.iter_mut().enumerate() {
        *o = saturate(inputs.iter().map(|input| sample(input, s)).sum());
    }
}

#[inline]
fn sample(input: &[i16], s: usize) -> i32 {
    input.get(s).copied().map_or(0, i32::from)
}

#[inline]
fn saturate(total: i32) -> i16 {
    total.clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn minus(inputs: &[&[i16]]) -> Vec<Vec<i16>> {
        let mut outputs = vec![Vec::new(); inputs.len()];
        mix_minus(inputs, &mut outputs);
        outputs
    }

    #[test]
    fn mix_all_saturates() {
        let mut out = [0i16; 4];
        mix_all(
            &[&[30000, -30000, 32767, 100], &[30000, -30000, 1, -100]],
            &mut out,
        );
        assert_eq!(out, [32767, -32768, 32767, 0]);
        mix_all(&[&[i16::MIN; 4], &[i16::MIN; 4], &[i16::MIN; 4]], &mut out);
        assert_eq!(out, [-32768; 4]);
        // Clamped once at the end: +30000 + 30000 - 30000 = 30000, not 32767 - 30000.
        mix_all(&[&[30000], &[30000], &[-30000]], &mut out[..1]);
        assert_eq!(out[0], 30000);
        mix_all(&[], &mut out);
        assert_eq!(out, [0; 4]);
    }

    #[test]
    fn mix_minus_one_participant_hears_silence() {
        assert_eq!(minus(&[&[1, -2, 32767]]), vec![vec![0, 0, 0]]);
    }

    #[test]
    fn mix_minus_two_participants_hear_each_other() {
        let a = [1i16, 2, 3];
        let b = [-10i16, 20, i16::MIN];
        assert_eq!(minus(&[&a, &b]), vec![b.to_vec(), a.to_vec()]);
    }

    #[test]
    fn mix_minus_three_participants() {
        let a = [1000i16, 30000, -30000];
        let b = [2000i16, 30000, -30000];
        let c = [4000i16, -30000, -30000];
        assert_eq!(
            minus(&[&a, &b, &c]),
            vec![
                vec![6000, 0, -32768],
                vec![5000, 0, -32768],
                vec![3000, 32767, -32768],
            ]
        );
    }

    #[test]
    fn mix_minus_reuses_outputs_and_pads_short_inputs() {
        let mut outputs = vec![vec![9; 10], Vec::new()];
        mix_minus(&[&[1, 2, 3], &[5]], &mut outputs);
        assert_eq!(outputs, vec![vec![5, 0, 0], vec![1, 2, 3]]);
    }

    #[test]
    fn mix_minus_empty_room() {
        mix_minus(&[], &mut []);
    }

    #[test]
    #[should_panic(expected = "one output per input")]
    fn mix_minus_output_count_mismatch_panics() {
        mix_minus(&[&[1], &[2]], &mut [Vec::new()]);
    }

    proptest! {
        #[test]
        fn mix_minus_is_mix_all_of_the_others(
            frames in (1usize..40).prop_flat_map(|len| {
                prop::collection::vec(prop::collection::vec(any::<i16>(), len), 1..8)
            }),
        ) {
            let inputs: Vec<&[i16]> = frames.iter().map(Vec::as_slice).collect();
            let outputs = minus(&inputs);
            for (i, out) in outputs.iter().enumerate() {
                let others: Vec<&[i16]> = inputs
                    .iter()
                    .enumerate()
                    .filter(|&(j, _)| j != i)
                    .map(|(_, input)| *input)
                    .collect();
                let mut expected = vec![0i16; frames[0].len()];
                mix_all(&others, &mut expected);
                prop_assert_eq!(out, &expected);
            }
        }

        #[test]
        fn mix_all_is_the_clamped_exact_sum(
            frames in prop::collection::vec(prop::collection::vec(any::<i16>(), 16), 0..6),
        ) {
            let inputs: Vec<&[i16]> = frames.iter().map(Vec::as_slice).collect();
            let mut out = [0i16; 16];
            mix_all(&inputs, &mut out);
            for (s, &o) in out.iter().enumerate() {
                let exact: i64 = frames.iter().map(|f| i64::from(f[s])).sum();
                prop_assert_eq!(i64::from(o), exact.clamp(-32768, 32767));
            }
        }
    }
}
