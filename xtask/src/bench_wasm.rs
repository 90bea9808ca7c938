//! `cargo xtask bench-wasm`: wdnn's npm package against onnxruntime-web's wasm execution provider, in Node 20, on
//! the same ONNX files and inputs: ResNet-50 and SqueezeNet 1.0 (zoo graphs with seeded random weights) and
//! MobileNetV2 (real weights, chelsea.png).
//!
//! Every (engine, module build, threads, model) runs in a fresh Node process (`web/bench/bench.mjs`), so cold start (compile the
//! module, load the model, first run) is real and each engine picks its threads before its module starts. Steady
//! latency is the median of `--runs` runs after `--warmup` runs. GFLOP/s counts the Conv and MatMul multiply-adds
//! (× 2) of the model, read from its reference descriptor; the peak is the measured wasm SIMD128 peak of this
//! machine, 56 GFLOP/s per core (runner-wasm/bench/RESULTS.md). Download size is what a page fetches for the
//! engine's CPU path (JS + `.wasm`), gzip -9. Needs `npm ci` in `web/` (onnxruntime-web).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use clap::Args;
use serde_json::Value;
use wdnn_runner_core::Bundle;
use wdnn_runner_core::spec::{Graph, Op};
use wdnn_transpiler::ConvertOptions;

use crate::node::{node, node_flags, package};
use crate::repo_root;
use crate::web::target_dir;

/// The package's threaded module, timed at each thread count above 1.
const THREADED: &str = "simd128-threads";

/// The measured single-core wasm SIMD128 peak of this machine (GFLOP/s).
const PEAK_PER_CORE: f64 = 56.0;

/// Benchmark wdnn's wasm package against onnxruntime-web (wasm EP) in Node.
#[derive(Args)]
pub struct BenchWasmArgs {
    /// Timed runs per configuration (the median is reported).
    #[arg(long, default_value_t = 20)]
    runs: usize,
    /// Untimed runs after the first.
    #[arg(long, default_value_t = 3)]
    warmup: usize,
    /// Thread counts: onnxruntime-web at each, wdnn's threaded module at each above 1.
    #[arg(long, value_delimiter = ',', default_value = "1,2")]
    threads: Vec<usize>,
    /// The wdnn backend to time (`wasm`; `fallback` for comparison).
    #[arg(long, default_value = "wasm")]
    backend: String,
    /// Only these models (resnet50, mobilenetv2, squeezenet).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// wdnn single-thread module builds to time, each in its own rows (Node 20 picks `simd128`, Chromium
    /// `relaxed-simd`).
    #[arg(long, value_delimiter = ',', default_value = "relaxed-simd,simd128")]
    flavors: Vec<String>,
}

struct Model {
    name: &'static str,
    onnx: PathBuf,
    input: PathBuf,
}

fn models() -> Vec<Model> {
    let cache = std::env::var_os("WDNN_CACHE").map(PathBuf::from).unwrap_or_else(|| repo_root().join(".cache"));
    let fixtures = repo_root().join("fixtures");
    vec![
        Model {
            name: "resnet50",
            onnx: cache.join("zoo-random/resnet50.onnx"),
            input: cache.join("zoo-random/resnet50.input.npy"),
        },
        Model {
            name: "mobilenetv2",
            onnx: fixtures.join("models/mobilenetv2-imagenet.onnx"),
            input: fixtures.join("expected/mobilenetv2/chelsea.input.npy"),
        },
        Model {
            name: "squeezenet",
            onnx: cache.join("zoo-random/squeezenet.onnx"),
            input: cache.join("zoo-random/squeezenet.input.npy"),
        },
    ]
}

/// Floating-point operations of the Conv and MatMul kernels of a reference (NCHW) graph: 2 per multiply-add.
pub fn flops(graph: &Graph) -> f64 {
    let numel = |t: u32| graph.tensors.get(t as usize).map_or(0.0, |t| t.shape.iter().product::<u64>() as f64);
    let shape = |t: u32| graph.tensors.get(t as usize).map(|t| t.shape.clone()).unwrap_or_default();
    let mut total = 0.0;
    for k in &graph.kernels {
        let (Some(&out), Some(&a)) = (k.outputs.first(), k.inputs.first()) else { continue };
        match &k.op {
            Op::Conv { .. } => {
                let Some(&w) = k.inputs.get(1) else { continue };
                let cout = shape(w).first().copied().unwrap_or(1).max(1) as f64;
                total += 2.0 * numel(out) * numel(w) / cout;
            }
            Op::MatMul { transpose_a, .. } => {
                let s = shape(a);
                let depth = if *transpose_a { s.iter().rev().nth(1) } else { s.last() };
                total += 2.0 * numel(out) * depth.copied().unwrap_or(1) as f64;
            }
            _ => {}
        }
    }
    total
}

fn run_config(script: &Path, flavor: &str, args: &[String]) -> Result<Value> {
    let output = Command::new(node())
        .args(node_flags(flavor))
        .arg(script)
        .args(args)
        .current_dir(repo_root().join("web"))
        .output()?;
    if !output.status.success() {
        bail!("{}", String::from_utf8_lossy(&output.stderr).trim());
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout.lines().rev().find(|l| l.starts_with('{')).context("no result line")?;
    Ok(serde_json::from_str(line)?)
}

pub fn bench_wasm(args: BenchWasmArgs) -> Result<()> {
    if !repo_root().join("web/node_modules/onnxruntime-web").exists() {
        bail!("onnxruntime-web is not installed: run `npm ci` in web/");
    }
    let package = package()?;
    let script = repo_root().join("web/bench/bench.mjs");
    let scratch = target_dir().join("bench-wasm");
    let mut rows = Vec::new();
    let mut sizes: Vec<(String, Value)> = Vec::new();
    for model in models().into_iter().filter(|m| args.only.is_empty() || args.only.iter().any(|o| o == m.name)) {
        let bundle = scratch.join(model.name);
        let mut backends = vec!["fallback".to_string()];
        if args.backend != "fallback" {
            backends.push(args.backend.clone());
        }
        let options = ConvertOptions { backends, ..ConvertOptions::default() };
        let _ = std::fs::remove_dir_all(&bundle);
        wdnn_transpiler::convert(&model.onnx, &bundle, &options, |_| {})
            .with_context(|| format!("converting {}", model.onnx.display()))?;
        let (graph, _) = Bundle::open(&bundle)?.load_backend("fallback", |_, _| {})?;
        let gflop = flops(&graph) / 1e9;
        let common = |engine: &str, threads: usize, flavor: &str| -> Vec<String> {
            let mut a = vec![
                "--engine".into(),
                engine.into(),
                "--threads".into(),
                threads.to_string(),
                "--runs".into(),
                args.runs.to_string(),
                "--warmup".into(),
                args.warmup.to_string(),
                "--input".into(),
                model.input.display().to_string(),
            ];
            if engine == "wdnn" {
                a.extend(["--bundle".into(), bundle.display().to_string(), "--package".into()]);
                a.push(package.display().to_string());
                a.extend(["--backend".into(), args.backend.clone(), "--flavor".into(), flavor.into()]);
            } else {
                a.extend(["--onnx".into(), model.onnx.display().to_string()]);
            }
            a
        };
        let mut configs: Vec<(String, usize, &str)> =
            args.flavors.iter().map(|f| ("wdnn".to_string(), 1, f.as_str())).collect();
        if package.join(THREADED).is_dir() {
            configs.extend(args.threads.iter().filter(|&&t| t > 1).map(|&t| ("wdnn".to_string(), t, THREADED)));
        } else if args.threads.iter().any(|&t| t > 1) {
            eprintln!("bench-wasm: the package has no threaded module (see `cargo xtask web`): wdnn on 1 thread only");
        }
        configs.extend(args.threads.iter().map(|&t| ("ort".to_string(), t, "")));
        let mut ort_at: Vec<(usize, f64)> = Vec::new();
        let mut results = Vec::new();
        for (engine, threads, flavor) in configs {
            eprintln!("bench-wasm: {} {engine} {flavor} {threads} thread(s)", model.name);
            match run_config(&script, flavor, &common(&engine, threads, flavor)) {
                Ok(r) => {
                    if engine == "ort"
                        && let Some(m) = r["median_ms"].as_f64()
                    {
                        ort_at.push((threads, m));
                    }
                    let key = format!("{engine} {flavor}");
                    if !sizes.iter().any(|(e, _)| *e == key) {
                        sizes.push((key, r["download_bytes"].clone()));
                    }
                    results.push((engine, threads, flavor, Ok(r)));
                }
                Err(e) => results.push((engine, threads, flavor, Err(e))),
            }
        }
        for (engine, threads, flavor, r) in results {
            let label = if engine == "wdnn" {
                format!("wdnn {} ({flavor})", args.backend)
            } else {
                "onnxruntime-web wasm".into()
            };
            match r {
                Ok(r) => {
                    let median = r["median_ms"].as_f64().unwrap_or(f64::NAN);
                    let first = r["cold_ms"]["first_run"].as_f64().unwrap_or(f64::NAN);
                    let load = r["cold_ms"]["compile_load"].as_f64().unwrap_or(f64::NAN);
                    let cold = r["cold_ms"]["total"].as_f64().unwrap_or(f64::NAN);
                    let gflops = gflop / (median / 1e3);
                    let ort = ort_at.iter().find(|(t, _)| *t == threads).map(|&(_, m)| m);
                    let ratio = ort.map(|o| format!("{:.2}×", median / o)).unwrap_or_else(|| "—".into());
                    rows.push(format!(
                        "| {} | {gflop:.2} | {label} | {threads} | {median:.1} | {gflops:.1} | {:.0}% | {load:.0} | {first:.1} ({:.2}×) | {cold:.0} | {ratio} |",
                        model.name,
                        100.0 * gflops / (PEAK_PER_CORE * threads as f64),
                        first / median,
                    ));
                }
                Err(e) => rows
                    .push(format!("| {} | {gflop:.2} | {label} | {threads} | failed: {e:#} | | | | | | |", model.name)),
            }
        }
    }
    println!(
        "| model | GFLOP | engine | threads | median ms | GFLOP/s | of peak | cold: compile + load ms | first run ms (× steady) | cold start ms (compile + load + first run) | time vs ORT, same threads |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for row in rows {
        println!("{row}");
    }
    println!();
    for (engine, s) in sizes {
        let kib = |v: &Value| v.as_f64().unwrap_or(f64::NAN) / 1024.0;
        let flavor = s["flavor"].as_str().map(|f| format!(" ({f} module)")).unwrap_or_default();
        let engine = engine.split_whitespace().next().unwrap_or_default();
        println!("download {engine}{flavor}: {:.0} KiB raw, {:.0} KiB gzip", kib(&s["raw"]), kib(&s["gzip"]));
    }
    Ok(())
}
