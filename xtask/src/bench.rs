//! `cargo xtask bench`: CPU latency of the fallback backend with and without the optimizer passes, side by side
//! with tract and onnxruntime (single-threaded) in the same run, measured with criterion.

use std::path::{Path, PathBuf};
use std::process::Command as Process;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use criterion::Criterion;
use tract_onnx::prelude::*;
use wdnn_runner_core::{Backend, Bundle, Tensor};
use wdnn_transpiler::pipeline::PassSelection;
use wdnn_transpiler::{ConvertOptions, ConvertSummary};

use crate::npy;

/// A model to time: its ONNX file and an input.
struct Case {
    name: &'static str,
    model: PathBuf,
    input: PathBuf,
}

fn cases(root: &Path) -> Vec<Case> {
    let cache = std::env::var_os("WDNN_CACHE").map(PathBuf::from).unwrap_or_else(|| root.join(".cache"));
    vec![
        Case {
            name: "resnet50",
            model: cache.join("zoo-random/resnet50.onnx"),
            input: cache.join("zoo-random/resnet50.input.npy"),
        },
        Case {
            name: "mobilenetv2",
            model: root.join("fixtures/models/mobilenetv2-imagenet.onnx"),
            input: root.join("fixtures/expected/mobilenetv2/chelsea.input.npy"),
        },
    ]
}

fn convert(case: &Case, dir: &Path, optimize: bool) -> Result<ConvertSummary> {
    let options = ConvertOptions {
        passes: PassSelection { no_optimize: !optimize, skip: vec![] },
        zstd_level: 3,
        ..ConvertOptions::default()
    };
    Ok(wdnn_transpiler::convert(&case.model, dir, &options, |_| {})?)
}

/// Median from criterion's estimates of `group/function`, in milliseconds.
fn median_ms(root: &Path, group: &str, function: &str) -> Option<f64> {
    let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root.join("target"));
    let path = target.join("criterion").join(group).join(function).join("new/estimates.json");
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
    Some(json["median"]["point_estimate"].as_f64()? / 1e6)
}

pub fn bench(root: &Path, samples: usize) -> Result<()> {
    let mut criterion =
        Criterion::default().sample_size(samples.max(10)).warm_up_time(Duration::from_secs(2)).without_plots();
    let mut rows = Vec::new();
    for case in cases(root) {
        if !case.model.exists() {
            bail!("{} is missing: run `cargo xtask fixtures` first", case.model.display());
        }
        let input = npy::read(&case.input)?;
        let group = format!("cpu-{}", case.name);
        let mut kernels = Vec::new();
        let mut timings = criterion.benchmark_group(&group);
        timings.measurement_time(Duration::from_secs(20));
        for (label, optimize) in [("wdnn-fallback-optimized", true), ("wdnn-fallback-unoptimized", false)] {
            let dir = root.join("target/bench").join(format!("{}-{label}", case.name));
            let summary = convert(&case, &dir, optimize)?;
            kernels.push(summary.backends[0].kernels);
            let bundle = Bundle::open(&dir)?;
            let backend = wdnn_runner_fallback::FallbackBackend;
            let order: [&dyn Backend; 1] = [&backend];
            let mut session = wdnn_runner_core::load(&bundle, &order, |_, _| {})?;
            let name = session.inputs()[0].name.clone();
            let inputs = [(name.as_str(), input.clone())];
            timings.bench_function(label, |b| b.iter(|| session.run(&inputs).expect("fallback run")));
        }
        let plan = tract_onnx::onnx().model_for_path(&case.model)?.into_optimized()?.into_runnable()?;
        let tract_input = to_tract(&input)?;
        timings.bench_function("tract", |b| b.iter(|| plan.run(tvec!(tract_input.clone().into())).expect("tract run")));
        timings.finish();
        let ort = ort_median(root, &case);
        rows.push((case.name, kernels, group, ort));
    }
    println!(
        "\n| model | wdnn fallback, optimized | wdnn fallback, unoptimized | tract 0.23 | onnxruntime (1 thread) |"
    );
    println!("|---|---:|---:|---:|---:|");
    for (name, kernels, group, ort) in rows {
        let ms = |f: &str| median_ms(root, &group, f).map_or("?".to_string(), |v| format!("{v:.1} ms"));
        println!(
            "| {name} | {} ({} kernels) | {} ({} kernels) | {} | {} |",
            ms("wdnn-fallback-optimized"),
            kernels[0],
            ms("wdnn-fallback-unoptimized"),
            kernels[1],
            ms("tract"),
            ort.map_or("not run (no .cache/venv)".to_string(), |v| format!("{v:.1} ms"))
        );
    }
    Ok(())
}

fn to_tract(t: &Tensor) -> Result<tract_onnx::prelude::Tensor> {
    let shape: Vec<usize> = t.shape().iter().map(|&d| d as usize).collect();
    let values = t.to_vec::<f32>()?;
    tract_onnx::prelude::Tensor::from_shape(&shape, &values)
}

/// onnxruntime's median through the fixtures' Python venv, when it exists.
fn ort_median(root: &Path, case: &Case) -> Option<f64> {
    let python = root.join(".cache/venv/bin/python");
    let output = Process::new(python)
        .arg(root.join("bench/ort_cpu.py"))
        .arg(&case.model)
        .arg(&case.input)
        .output()
        .context("running bench/ort_cpu.py")
        .ok()?;
    let text = String::from_utf8_lossy(&output.stdout);
    text.split_whitespace().nth(1)?.parse().ok()
}
