//! `entrybench report` over 1,000 result files must stay under 5 s: this
//! times the whole path the command takes (read + validate every file,
//! group, render the text tables) and, separately, the SVG plots.
//! The files are synthetic (`report::model::synth::many`), written to a temporary
//! directory once.

use criterion::{criterion_group, criterion_main, Criterion};
use std::path::PathBuf;
use std::time::Duration;

const FILES: usize = 1000;

fn setup() -> (tempfile::TempDir, Vec<PathBuf>) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let paths = report::model::synth::many(FILES)
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let p = dir.join(format!("r{i:04}.json"));
            report::model::load::write_result(&p, f).unwrap();
            p
        })
        .collect();
    (tmp, paths)
}

fn bench(c: &mut Criterion) {
    // Removed when dropped at the end.
    let (_dir, paths) = setup();
    let mut g = c.benchmark_group("report_1000_files");
    g.sample_size(10).measurement_time(Duration::from_secs(20));
    g.bench_function("read+text", |b| {
        b.iter(|| {
            let files: Vec<_> = paths
                .iter()
                .map(|p| report::model::load::read_result(p).unwrap())
                .collect();
            std::hint::black_box(report::render_text(&files))
        })
    });
    let files: Vec<_> = paths
        .iter()
        .map(|p| report::model::load::read_result(p).unwrap())
        .collect();
    g.bench_function("plots", |b| {
        b.iter(|| {
            std::hint::black_box(
                report::output::plot::render_all(&files, &Default::default()).unwrap(),
            )
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
