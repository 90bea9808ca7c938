//! `cargo xtask fuzz`: coverage-guided fuzzing of the decoders a runner applies to untrusted bundles.
//!
//! The targets live in `fuzz/` (a crate outside the workspace: libFuzzer needs a nightly toolchain and sanitizer
//! coverage, the workspace builds on stable). This command builds them the way `cargo fuzz` does, runs each one for
//! its share of `--seconds` on its committed seed corpus (`fuzz/corpus/<target>`) plus a working corpus under
//! `target/fuzz`, and sums libFuzzer's statistics. A crash, timeout or out-of-memory leaves its input under
//! `target/fuzz/artifacts/<target>/` and fails the command: add it to the hostile tests.
//! `--seeds` regenerates the seed corpus from real bundles of every backend and weight encoding.

use std::path::{Path, PathBuf};
use std::process::Command as Process;

use anyhow::{Context, Result, bail};
use clap::Args;
use wdnn_transpiler::{ConvertOptions, WeightFormat};

use crate::repo_root;

/// The targets run by default; `load_webgpu` joins them with `--webgpu`.
const TARGETS: &[&str] = &["container", "manifest", "graph", "weights", "load_fallback"];

#[derive(Args)]
pub struct FuzzArgs {
    /// Total seconds of fuzzing, shared equally by the targets.
    #[arg(long, default_value_t = 60)]
    seconds: u64,
    /// Only these targets (repeatable): container, manifest, graph, weights, load_fallback, load_webgpu.
    #[arg(long = "target")]
    targets: Vec<String>,
    /// Also fuzz the whole load on the WebGPU backend (builds wgpu for the fuzzer).
    #[arg(long)]
    webgpu: bool,
    /// Parallel fuzzing jobs per target (libFuzzer `-fork`).
    #[arg(long, default_value_t = 1)]
    jobs: u32,
    /// Regenerate the seed corpus from freshly converted bundles, then stop.
    #[arg(long)]
    seeds: bool,
}

/// What one target's run reported.
struct Stats {
    target: String,
    executions: u64,
    per_second: u64,
    peak_rss_mb: u64,
}

pub fn fuzz(args: FuzzArgs) -> Result<()> {
    let root = repo_root();
    if args.seeds {
        return make_seeds(&root);
    }
    let mut targets: Vec<String> =
        if args.targets.is_empty() { TARGETS.iter().map(|t| t.to_string()).collect() } else { args.targets.clone() };
    if args.webgpu && !targets.iter().any(|t| t == "load_webgpu") {
        targets.push("load_webgpu".to_string());
    }
    let webgpu = targets.iter().any(|t| t == "load_webgpu");
    let work = std::env::var_os("WDNN_FUZZ_DIR").map(PathBuf::from).unwrap_or_else(|| root.join("target/fuzz"));
    let binaries = build(&root, &work, webgpu)?;
    let per_target = (args.seconds / targets.len() as u64).max(1);
    let mut all = Vec::new();
    for target in &targets {
        let stats = run_target(&root, &work, &binaries, target, per_target, args.jobs)?;
        println!(
            "fuzz {:<14} {:>12} executions  {:>9} exec/s  peak RSS {} MB",
            stats.target, stats.executions, stats.per_second, stats.peak_rss_mb
        );
        all.push(stats);
    }
    let total: u64 = all.iter().map(|s| s.executions).sum();
    println!(
        "fuzz total: {total} executions in {} s over {} targets, no crash",
        per_target * targets.len() as u64,
        all.len()
    );
    Ok(())
}

/// Builds the fuzz targets with sanitizer coverage, as `cargo fuzz build` does; returns the binaries' directory.
fn build(root: &Path, work: &Path, webgpu: bool) -> Result<PathBuf> {
    let nightly = Process::new("cargo").args(["+nightly", "--version"]).output();
    if !nightly.is_ok_and(|o| o.status.success()) {
        bail!("fuzzing needs a nightly toolchain for libFuzzer's coverage: rustup toolchain install nightly");
    }
    let host = "x86_64-unknown-linux-gnu";
    let flags = [
        "-Cpasses=sancov-module",
        "-Cllvm-args=-sanitizer-coverage-level=4",
        "-Cllvm-args=-sanitizer-coverage-inline-8bit-counters",
        "-Cllvm-args=-sanitizer-coverage-pc-table",
        "-Cllvm-args=-sanitizer-coverage-trace-compares",
        "--cfg",
        "fuzzing",
    ]
    .join(" ");
    let mut cmd = Process::new("cargo");
    cmd.current_dir(root.join("fuzz"))
        .env_remove("RUSTUP_TOOLCHAIN")
        .env_remove("CARGO")
        .env("RUSTFLAGS", flags)
        .env("CARGO_TARGET_DIR", work.join("build"))
        .args(["+nightly", "build", "--release", "--bins", "--target", host]);
    if webgpu {
        cmd.args(["--features", "webgpu"]);
    }
    let status = cmd.status().context("building the fuzz targets")?;
    if !status.success() {
        bail!("building the fuzz targets failed ({status})");
    }
    Ok(work.join("build").join(host).join("release"))
}

fn run_target(root: &Path, work: &Path, binaries: &Path, target: &str, seconds: u64, jobs: u32) -> Result<Stats> {
    let seeds = root.join("fuzz/corpus").join(target);
    let corpus = work.join("corpus").join(target);
    let artifacts = work.join("artifacts").join(target);
    for dir in [&corpus, &artifacts] {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut cmd = Process::new(binaries.join(target));
    cmd.arg(format!("-max_total_time={seconds}"))
        .arg("-timeout=10")
        .arg("-rss_limit_mb=2048")
        .arg("-malloc_limit_mb=1024")
        .arg("-max_len=1048576")
        .arg("-print_final_stats=1")
        .arg(format!("-artifact_prefix={}/", artifacts.display()));
    if jobs > 1 {
        cmd.arg(format!("-fork={jobs}"));
    }
    cmd.arg(&corpus);
    if seeds.is_dir() {
        cmd.arg(&seeds);
    }
    let output = cmd.output().with_context(|| format!("running fuzz target {target}"))?;
    let log = String::from_utf8_lossy(&output.stderr);
    std::fs::write(work.join(format!("{target}.log")), log.as_bytes())?;
    if !output.status.success() {
        let tail: Vec<&str> = log.lines().rev().take(40).collect::<Vec<_>>().into_iter().rev().collect();
        bail!(
            "fuzz target {target} found a failure ({}); inputs in {}:\n{}",
            output.status,
            artifacts.display(),
            tail.join("\n")
        );
    }
    let stat = |key: &str| -> u64 {
        log.lines()
            .filter_map(|l| l.strip_prefix(key))
            .filter_map(|v| v.trim().trim_start_matches(':').trim().parse().ok())
            .next_back()
            .unwrap_or(0)
    };
    Ok(Stats {
        target: target.to_string(),
        executions: stat("stat::number_of_executed_units"),
        per_second: stat("stat::average_exec_per_sec"),
        peak_rss_mb: stat("stat::peak_rss_mb"),
    })
}

/// Converts the seed models for every backend and weight encoding and writes each target's seeds.
fn make_seeds(root: &Path) -> Result<()> {
    let models = ["fixtures/models/errors/tiny_gemm.onnx", "fixtures/models/light/light_squeezenet.onnx"];
    let scratch = root.join("target/fuzz/seed-bundles");
    let corpus = root.join("fuzz/corpus");
    for target in TARGETS.iter().chain(&["load_webgpu"]) {
        let dir = corpus.join(target);
        if dir.is_dir() {
            std::fs::remove_dir_all(&dir)?;
        }
        std::fs::create_dir_all(&dir)?;
    }
    for model in models {
        let stem = Path::new(model).file_stem().and_then(|s| s.to_str()).unwrap_or("model").to_string();
        for weights in [WeightFormat::F32, WeightFormat::F16, WeightFormat::Int8] {
            let out = scratch.join(format!("{stem}-{weights:?}").to_lowercase());
            let options = ConvertOptions {
                backends: vec!["fallback".into(), "webgpu".into()],
                weights,
                skip_unsupported_backends: true,
                ..ConvertOptions::default()
            };
            wdnn_transpiler::convert(&root.join(model), &out, &options, |_| {})
                .with_context(|| format!("converting {model}"))?;
            let manifest = std::fs::read(out.join("manifest.wdnn"))?;
            let name = out.file_name().and_then(|n| n.to_str()).unwrap_or("seed").to_string();
            std::fs::write(corpus.join("manifest").join(&name), &manifest)?;
            std::fs::write(corpus.join("container").join(format!("{name}-manifest")), &manifest)?;
            for backend in ["fallback", "webgpu"] {
                let Ok(graph) = std::fs::read(out.join(format!("{backend}.graph.wdnn"))) else {
                    continue;
                };
                let weights = std::fs::read(out.join(format!("{backend}.weights.wdnn")))
                    .or_else(|_| std::fs::read(out.join("fallback.weights.wdnn")))?;
                let seed = format!("{name}-{backend}");
                std::fs::write(corpus.join("graph").join(&seed), &graph)?;
                std::fs::write(corpus.join("weights").join(&seed), &weights)?;
                std::fs::write(corpus.join("container").join(format!("{seed}-graph")), &graph)?;
                let target = if backend == "fallback" { "load_fallback" } else { "load_webgpu" };
                let joined = wdnn_fuzz_join(&manifest, &graph, &weights);
                std::fs::write(corpus.join(target).join(&seed), joined)?;
            }
        }
    }
    println!("wrote seeds under {}", corpus.display());
    Ok(())
}

/// The fuzz targets' bundle framing (`wdnn_fuzz::join_bundle`): two little-endian u32 lengths, then the files.
fn wdnn_fuzz_join(manifest: &[u8], graph: &[u8], weights: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&(manifest.len() as u32).to_le_bytes());
    out.extend_from_slice(manifest);
    out.extend_from_slice(&(graph.len() as u32).to_le_bytes());
    out.extend_from_slice(graph);
    out.extend_from_slice(weights);
    out
}
