//! Multi-core batches: `Transform::apply_parallel` on 1 and 2 threads, 16384 x 768 features,
//! f16 weights (issue 8: >= 1.8x for the kernel alone on a 2-core machine), plus the fused
//! L2 normalisation on one thread to show its cost.
//!
//! `cargo bench -p glocal-benches --bench parallel`. Ids: `parallel/<kernel>/t<threads>` and
//! `parallel/<kernel>/t1_l2norm`. Needs a quiet machine: another busy process on either core
//! takes directly from the 2-thread number.

// criterion_group! generates an undocumented public function.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use glocal::pack;
use glocal::{PostOp, Transform, WeightDtype};
use std::hint::black_box;
use std::time::Duration;

const ROWS: usize = 16384;
const D: usize = 768;

mod common;
use common::{rand_vec, square_transform};

fn bench(c: &mut Criterion) {
    let (source, _, _) = square_transform(D);
    let blob = pack::pack(&source, WeightDtype::F16, "bench", "bench").expect("pack");
    let t = Transform::new(blob.as_bytes()).expect("blob");
    let x: Vec<f32> = rand_vec(ROWS * D, 11, 1.0).iter().map(|&v| v as f32).collect();
    let mut y = vec![0f32; ROWS * D];
    let mut g = c.benchmark_group(format!("parallel/{}", t.kernel().name));
    g.throughput(Throughput::Elements((ROWS * D * D) as u64))
        .sample_size(10)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(8));
    for threads in [1usize, 2] {
        g.bench_function(format!("t{threads}"), |b| {
            b.iter(|| t.apply_parallel(black_box(&x), black_box(&mut y), threads).expect("apply"))
        });
    }
    g.bench_function("t1_l2norm", |b| {
        b.iter(|| t.apply_with(black_box(&x), black_box(&mut y), PostOp::L2Normalize).expect("apply"))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
