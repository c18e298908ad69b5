//! Audio DSP benchmarks on 20 ms frames: resampling between the call's 8 kHz and an
//! agent's 16/24/48 kHz (both directions), and mixing a 4-participant room.
//!
//! Run with `cargo bench -p switchboard-media --bench dsp`.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use switchboard_media::mixer::{mix_all, mix_minus};
use switchboard_media::resample::Resampler;

/// 20 ms of a 1 kHz sine plus a little of 3.1 kHz at `rate`.
fn frame(rate: u32) -> Vec<i16> {
    let len = rate as usize / 50;
    (0..len)
        .map(|i| {
            let t = i as f64 / f64::from(rate);
            (8000.0 * (2.0 * std::f64::consts::PI * 1000.0 * t).sin()
                + 2000.0 * (2.0 * std::f64::consts::PI * 3100.0 * t).sin()) as i16
        })
        .collect()
}

fn resample(c: &mut Criterion) {
    let mut group = c.benchmark_group("resample_20ms");
    for (from, to) in [
        (8000, 16000),
        (8000, 24000),
        (8000, 48000),
        (16000, 8000),
        (24000, 8000),
        (48000, 8000),
    ] {
        let input = frame(from);
        let mut resampler = Resampler::new(from, to).unwrap();
        let mut output = Vec::with_capacity(to as usize / 50);
        group.throughput(Throughput::Elements(input.len() as u64));
        group.bench_function(format!("{from}_to_{to}"), |b| {
            b.iter(|| {
                output.clear();
                resampler.process(black_box(&input), &mut output);
                black_box(&output);
            })
        });
    }
    group.finish();
}

fn mix(c: &mut Criterion) {
    let frames: Vec<Vec<i16>> = (0..4).map(|_| frame(8000)).collect();
    let inputs: Vec<&[i16]> = frames.iter().map(Vec::as_slice).collect();
    let mut outputs = vec![Vec::with_capacity(160); inputs.len()];
    let mut out = [0i16; 160];
    let mut group = c.benchmark_group("mix_20ms_8k");
    group.bench_function("mix_minus_4", |b| {
        b.iter(|| mix_minus(black_box(&inputs), &mut outputs))
    });
    group.bench_function("mix_all_4", |b| {
        b.iter(|| mix_all(black_box(&inputs), &mut out))
    });
    group.finish();
}

criterion_group!(benches, resample, mix);
criterion_main!(benches);
