//! The subcommands.

use std::path::PathBuf;
use std::process::Command as Process;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::{Args, Parser};
use indicatif::{ProgressBar, ProgressStyle};
use wdnn_runner_core::spec::Preprocessing;
use wdnn_runner_core::{Bundle, Tensor};
use wdnn_transpiler::pipeline::{PassReport, PassSelection, ScheduleReport};
use wdnn_transpiler::{ConvertError, ConvertOptions, Layout, TargetOptions, WebGpuTuning, WeightFormat};

use crate::{image_input, npy, repo_root};

/// wdnn: run trained neural networks in the browser and natively.
#[derive(Parser)]
#[command(name = "cargo xtask")]
pub enum Command {
    /// Convert an ONNX model into a descriptor bundle.
    Convert(ConvertArgs),
    /// Run a bundle on inputs (`.npy` files or a photo).
    Run(RunArgs),
    /// Print a bundle's manifest.
    Inspect(InspectArgs),
    /// Generate the test data that is not committed (random-weight zoo models) into `.cache/`.
    Fixtures,
    /// Generate fixtures, then run every test: the command CI runs.
    Test(TestArgs),
    /// CPU latency of the fallback backend with and without optimization, beside tract and onnxruntime.
    Bench(BenchArgs),
    /// Run the ONNX backend node tests and the zoo graphs per backend; write CONFORMANCE.md.
    Conformance(crate::conformance::ConformanceArgs),
    /// Batch-1 latency of bundles on the WebGPU backend (load, pipelines, first run, median wall and GPU time).
    BenchGpu(crate::bench_gpu::BenchGpuArgs),
    /// Build the npm package `wdnn` (wasm32 modules, bindings, the JS wrapper and CLI) into target/web/wdnn.
    Web(crate::web::WebArgs),
    /// Build the package, then check it in Node: every fixture model on each of its backends against the native
    /// reference (rel. L2 1e-4), the CLI on MobileNetV2, and the JavaScript tests.
    WebTest,
    /// wdnn's wasm package against onnxruntime-web's wasm EP in Node: latency, cold start, GFLOP/s, download size.
    BenchWasm(crate::bench_wasm::BenchWasmArgs),
    /// Run the real exported models (issue 10) per backend against onnxruntime; write their RESULTS.md.
    Exported(crate::exported::ExportedArgs),
    /// Fuzz the bundle decode, validate, load and run path: N executions of the in-process mutation fuzzer.
    Fuzz(crate::fuzz::FuzzArgs),
    /// Serve the demo page (MobileNetV2 classification, style transfer) with COOP/COEP on 127.0.0.1.
    Demo(crate::demo::DemoArgs),
    /// The demo page and the package in headless Chromium (playwright-core): every backend, fall-through,
    /// progress, cache, damaged bundles, dispose; screenshots in TARGET/demo/screenshots.
    BrowserTest,
    /// wdnn against onnxruntime-web in headless Chromium on MobileNetV2: cold start, steady run, gzip download.
    BenchBrowser(crate::demo::BenchBrowserArgs),
    /// Write the descriptor format's conformance vectors (descriptor-spec/vectors); `--check` fails if the committed
    /// ones differ from what the writer and the reference runner produce now.
    Vectors(crate::vectors::VectorsArgs),
}

#[derive(Args)]
pub struct ConvertArgs {
    /// The ONNX model.
    model: PathBuf,
    /// The bundle directory to write.
    #[arg(long)]
    out: PathBuf,
    /// Backends to write descriptors for, comma separated. Default: fallback, webgpu and wasm, leaving out (with the
    /// reason) one that has no kernel for some node; a list given here is strict. `webgpu-f16` (only when named)
    /// adds the WebGPU descriptor with f16 storage, which runners prefer where the adapter has shader-f16.
    #[arg(long, value_delimiter = ',')]
    backends: Vec<String>,
    /// How to store large weights: f32 (exact), f16, or int8 (per output channel).
    #[arg(long, default_value = "f32")]
    weights: WeightFormat,
    /// Fix an input's shape: NAME=D0,D1,... (repeatable).
    #[arg(long = "input-shape", value_parser = parse_input_shape)]
    input_shapes: Vec<(String, Vec<u64>)>,
    /// Bind a symbolic dimension everywhere in the model: SYMBOL=N (repeatable; e.g. batch=1, sequence=128).
    #[arg(long = "dim", value_parser = parse_dim)]
    dims: Vec<(String, u64)>,
    /// Record image preprocessing in the bundle (`imagenet`).
    #[arg(long)]
    preprocess: Option<String>,
    /// zstd level for the weight chunks.
    #[arg(long, default_value_t = wdnn_transpiler::DEFAULT_ZSTD_LEVEL)]
    zstd_level: i32,
    /// Print what every pass changed and the memory plan.
    #[arg(long)]
    report: bool,
    /// Skip an optimizer pass by name (repeatable; `--report` lists them).
    #[arg(long = "skip-pass")]
    skip_passes: Vec<String>,
    /// Skip every optimizer pass.
    #[arg(long)]
    no_optimize: bool,
    /// Force an activation layout (nchw or nhwc) instead of each backend's own.
    #[arg(long)]
    layout: Option<Layout>,
    /// Tune the WebGPU code generator: NAME=VALUE,... with tile_threads (invocations a GEMM tile should give),
    /// split_threads (below which split-k splits a convolution), reg_tile (16, 32 or 64: the most values of C a GEMM
    /// invocation holds), wide_threads (invocations a wider register block must still give), prefetch (0 or 1:
    /// load the next K step into registers during the current one), winograd (0 or 1: 3×3 stride-1 convolutions as
    /// Winograd F(2×2, 3×3)), winograd_channels, winograd_extent and winograd_mflop (the fewest input and output
    /// channels, the smallest map and the fewest MFLOP for it); the report shows the values used.
    #[arg(long)]
    webgpu_tuning: Option<WebGpuTuning>,
    /// Leave out a backend that has no kernel for some node, saying why, instead of failing.
    #[arg(long)]
    skip_unsupported_backends: bool,
}

#[derive(Args)]
pub struct RunArgs {
    /// The bundle directory.
    bundle: PathBuf,
    /// `auto` (runner-core's default order, or the `WDNN_BACKEND` override), or backend names, comma separated.
    #[arg(long, default_value = "auto")]
    backend: String,
    /// After the first run, time this many more and print the median milliseconds per run.
    #[arg(long)]
    runs: Option<usize>,
    /// Print which kernel computes each node of the bundle's wasm descriptor (fast kernel or reference).
    #[arg(long)]
    kernels: bool,
    /// An input as NAME=FILE.npy (repeatable).
    #[arg(long = "input", value_parser = parse_input_file)]
    inputs: Vec<(String, PathBuf)>,
    /// A photo for the first input, preprocessed as the bundle's metadata (or --preprocess) says.
    #[arg(long)]
    image: Option<PathBuf>,
    /// Preprocessing for --image when the bundle has none (`imagenet`).
    #[arg(long)]
    preprocess: Option<String>,
    /// Class names (JSON) to print the top-5 classes of the first output.
    #[arg(long)]
    labels: Option<PathBuf>,
    /// Write each output as DIR/<name>.npy.
    #[arg(long)]
    out_dir: Option<PathBuf>,
}

#[derive(Args)]
pub struct InspectArgs {
    /// The bundle directory.
    bundle: PathBuf,
    /// Print one JSON document (manifest, and per backend every kernel and weight) instead of text.
    #[arg(long)]
    json: bool,
    /// Show only these backends (comma-separated; default: every backend in the bundle).
    #[arg(long, value_delimiter = ',')]
    backend: Vec<String>,
}

#[derive(Args)]
pub struct BenchArgs {
    /// Criterion samples per measurement.
    #[arg(long, default_value_t = 20)]
    samples: usize,
}

#[derive(Args)]
pub struct TestArgs {
    /// Extra arguments for `cargo test`.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    cargo_args: Vec<String>,
}

fn parse_input_shape(s: &str) -> Result<(String, Vec<u64>), String> {
    let (name, dims) = s.split_once('=').ok_or("expected NAME=D0,D1,...")?;
    let dims = dims
        .split(',')
        .map(|d| d.trim().parse::<u64>().map_err(|e| format!("`{d}`: {e}")))
        .collect::<Result<_, _>>()?;
    Ok((name.to_string(), dims))
}

fn parse_dim(s: &str) -> Result<(String, u64), String> {
    let (name, value) = s.rsplit_once('=').ok_or("expected SYMBOL=N")?;
    let value = value.trim().parse::<u64>().map_err(|e| format!("`{value}`: {e}"))?;
    Ok((name.to_string(), value))
}

fn parse_input_file(s: &str) -> Result<(String, PathBuf), String> {
    let (name, file) = s.split_once('=').ok_or("expected NAME=FILE.npy")?;
    Ok((name.to_string(), PathBuf::from(file)))
}

fn preprocessing(name: &str) -> Result<Preprocessing> {
    match name {
        "imagenet" => Ok(Preprocessing::imagenet()),
        other => bail!("unknown preprocessing `{other}` (known: imagenet)"),
    }
}

pub fn convert(args: ConvertArgs) -> Result<()> {
    // `auto` in a runner picks among the descriptors a bundle has, so by default it gets all of them.
    let every_backend = args.backends.is_empty();
    let backends = if every_backend {
        wdnn_transpiler::codegen::BACKENDS.iter().map(|b| b.to_string()).collect()
    } else {
        args.backends
    };
    let options = ConvertOptions {
        input_shapes: args.input_shapes,
        dims: args.dims,
        backends,
        weights: args.weights,
        zstd_level: args.zstd_level,
        preprocessing: args.preprocess.as_deref().map(preprocessing).transpose()?,
        passes: PassSelection { no_optimize: args.no_optimize, skip: args.skip_passes },
        layout: args.layout,
        targets: TargetOptions { webgpu: args.webgpu_tuning.unwrap_or_default() },
        skip_unsupported_backends: args.skip_unsupported_backends || every_backend,
    };
    let bar = ProgressBar::new_spinner().with_style(ProgressStyle::with_template("{spinner} [{elapsed}] {msg}")?);
    bar.enable_steady_tick(Duration::from_millis(120));
    let start = Instant::now();
    let summary =
        wdnn_transpiler::convert(&args.model, &args.out, &options, |stage| bar.set_message(stage.to_string()));
    bar.finish_and_clear();
    let summary = summary.map_err(|e| match &e {
        ConvertError::SymbolicInput { input, .. } => {
            let hint = format!("fix it with --input-shape {input}=D0,D1,... or --dim SYMBOL=N");
            anyhow::Error::new(e).context(hint)
        }
        _ => e.into(),
    })?;
    println!("converted {} in {:.2} s -> {}", args.model.display(), start.elapsed().as_secs_f64(), args.out.display());
    let ops: Vec<String> = summary.op_census.iter().map(|(op, n)| format!("{op} {n}")).collect();
    let kernels: usize = summary.op_census.iter().map(|(_, n)| n).sum();
    println!("  kernels    {kernels}: {}", ops.join(", "));
    println!("  parameters {}", summary.parameters);
    println!(
        "  size       ONNX {} bytes -> bundle {} bytes ({:.3}×)",
        summary.onnx_bytes,
        summary.bundle_bytes,
        summary.bundle_bytes as f64 / summary.onnx_bytes as f64
    );
    for (file, size) in &summary.files {
        println!("             {file}: {size} bytes");
    }
    for skipped in &summary.skipped_backends {
        println!("  left out   {}: no kernel for {} op(s):", skipped.backend, skipped.ops.len());
        for u in &skipped.ops {
            println!("             {} ({} node(s): {})", u.op, u.nodes.len(), u.nodes.join(", "));
        }
    }
    if args.report {
        print_report(&summary);
    }
    Ok(())
}

fn print_report(summary: &wdnn_transpiler::ConvertSummary) {
    println!("graph passes:");
    print_schedule(&summary.passes);
    for b in &summary.backends {
        let settings: Vec<String> = b.settings.iter().map(|(name, value)| format!("{name}={value}")).collect();
        let tuning = if settings.is_empty() { String::new() } else { format!(" (tuning: {})", settings.join(", ")) };
        println!("{} passes{tuning}:", b.backend);
        print_schedule(&b.passes);
        let ops: Vec<String> = b.census.iter().map(|(op, n)| format!("{op} {n}")).collect();
        println!("{} descriptor: {} kernels: {}", b.backend, b.kernels, ops.join(", "));
        let p = &b.plan;
        println!(
            "  memory plan: arena {} bytes; naive {} bytes ({:.2}× the arena); lower bound {} bytes (arena = {:.3}× of it)",
            p.arena_size,
            p.naive_size,
            p.naive_size as f64 / p.arena_size.max(1) as f64,
            p.lower_bound,
            p.arena_size as f64 / p.lower_bound.max(1) as f64
        );
    }
    let stages: Vec<String> = summary.stages.iter().map(|(s, t)| format!("{s} {t:.2} s")).collect();
    println!("stages: {}", stages.join(", "));
}

/// One line per pass that ran (what it changed, its time), one per pass skipped.
fn print_schedule(schedule: &ScheduleReport) {
    for PassReport { name, nodes_before, nodes_after, stats, seconds } in &schedule.ran {
        let changes: Vec<String> = stats.changes.iter().map(|(what, n)| format!("{what}: {n}")).collect();
        println!("  {name:<20} kernels {nodes_before:>4} -> {nodes_after:<4} {}  ({seconds:.3} s)", changes.join(", "));
    }
    for name in &schedule.skipped {
        println!("  {name:<20} skipped");
    }
}

pub fn run(args: RunArgs) -> Result<()> {
    let bundle = Bundle::open(&args.bundle).with_context(|| format!("opening bundle {}", args.bundle.display()))?;
    // `auto` is runner-core's default order or the WDNN_BACKEND override; an unknown name is an error naming the
    // known ones, before anything is loaded.
    let registry = crate::backends::registry();
    let order = registry.order(&args.backend)?;
    if args.kernels {
        let (graph, weights) = bundle.load_backend("wasm", |_, _| {})?;
        let exe = wdnn_runner_wasm::backend::WasmBackend.load_executable(&graph, &weights)?;
        let report = exe.report();
        let fast = report.iter().filter(|r| r.path != "reference").count();
        println!("wasm kernels: {fast} of {} fast", report.len());
        for r in &report {
            println!("  {:<40} {:<14} {}", r.kernel, r.op, r.path);
        }
    }
    let load_start = Instant::now();
    let mut session = registry.load_order(&bundle, &order, |_, _| {})?;
    let load_time = load_start.elapsed();
    for skip in session.skipped() {
        println!("skipped backend {}: {}", skip.backend, skip.reason);
    }
    println!("backend: {} (loaded in {:.1} ms)", session.backend(), load_time.as_secs_f64() * 1e3);

    let mut inputs: Vec<(String, Tensor)> = Vec::new();
    if let Some(photo) = &args.image {
        let pre = match (&args.preprocess, &bundle.manifest.preprocessing) {
            (Some(name), _) => preprocessing(name)?,
            (None, Some(pre)) => pre.clone(),
            (None, None) => bail!("the bundle records no preprocessing: pass --preprocess imagenet"),
        };
        let first = session.inputs().first().context("the model has no input")?.name.clone();
        inputs.push((first, image_input::load(photo, &pre)?));
    }
    for (name, file) in &args.inputs {
        inputs.push((name.clone(), npy::read(file)?));
    }
    let named: Vec<(&str, Tensor)> = inputs.iter().map(|(n, t)| (n.as_str(), t.clone())).collect();
    let start = Instant::now();
    let outputs = session.run(&named)?;
    println!("ran in {:.1} ms", start.elapsed().as_secs_f64() * 1e3);
    if let Some(runs) = args.runs.filter(|&n| n > 0) {
        let mut times = Vec::with_capacity(runs);
        for _ in 0..runs {
            let start = Instant::now();
            session.run(&named)?;
            times.push(start.elapsed().as_secs_f64() * 1e3);
        }
        times.sort_by(f64::total_cmp);
        println!("median of {runs} runs: {:.2} ms (min {:.2} ms)", times[runs / 2], times[0]);
    }

    if let Some(labels) = &args.labels {
        let names = image_input::labels(labels)?;
        let (name, scores) = outputs.first().context("the model has no output")?;
        let scores = scores.to_vec::<f32>().with_context(|| format!("output `{name}` is not f32"))?;
        println!("top-5 of `{name}`:");
        for (rank, (class, p)) in image_input::top_k(&scores, 5).into_iter().enumerate() {
            let label = names.get(class).map(String::as_str).unwrap_or("?");
            println!("  {}. {label} (class {class}): {p:.4}", rank + 1);
        }
    }
    if let Some(dir) = &args.out_dir {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        for (name, tensor) in &outputs {
            let path = dir.join(format!("{}.npy", safe_file_name(name)));
            npy::write(tensor, &path)?;
            println!("wrote {}", path.display());
        }
    }
    Ok(())
}

/// An output name as a file name: every character outside `[A-Za-z0-9._-]` becomes `_`.
fn safe_file_name(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() || "._-".contains(c) { c } else { '_' }).collect()
}

pub fn inspect(args: InspectArgs) -> Result<()> {
    let report = crate::inspect::report(&args.bundle, &args.backend)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        crate::inspect::print_text(&report);
    }
    Ok(())
}

pub fn bench(args: BenchArgs) -> Result<()> {
    crate::bench::bench(&repo_root(), args.samples)
}

pub fn fixtures() -> Result<()> {
    let script = repo_root().join("fixtures/scripts/setup_cache.sh");
    let status = Process::new("bash").arg(&script).status().with_context(|| format!("running {}", script.display()))?;
    if !status.success() {
        bail!("{} failed ({status})", script.display());
    }
    Ok(())
}

/// The crates that run in browsers: `cargo xtask test` checks that they build for wasm32-unknown-unknown.
pub const WASM32_CRATES: &[&str] =
    &["wdnn-descriptor-spec", "wdnn-runner-core", "wdnn-runner-fallback", "wdnn-runner-wasm", "wdnn-runner-webgpu"];

pub fn test(args: TestArgs) -> Result<()> {
    let xtask = crate::reader::snapshot_self()?;
    fixtures()?;
    let status = Process::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(repo_root())
        .args(["test", "--workspace"])
        .args(&args.cargo_args)
        .status()
        .context("running cargo test")?;
    if !status.success() {
        bail!("tests failed ({status})");
    }
    // The format crate and every runner must keep building for browsers (same profile, so no second build of
    // the dependencies' host side).
    let status = Process::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(repo_root())
        .args(["check", "--target", "wasm32-unknown-unknown"])
        .args(WASM32_CRATES.iter().flat_map(|c| ["-p", c]))
        .status()
        .context("checking the wasm32-unknown-unknown build")?;
    if !status.success() {
        bail!("{} do not all build for wasm32-unknown-unknown ({status})", WASM32_CRATES.join(", "));
    }
    // The committed conformance vectors are what the writer and the reference produce now.
    crate::vectors::vectors(crate::vectors::VectorsArgs::check())?;
    // The independent Python reader matches the Rust fallback and refuses damaged bundles (SPEC.md).
    crate::reader::check(&repo_root(), &xtask)?;
    // The npm package in Node: every fixture model on its wasm backend against the reference, the CLI on chelsea.
    crate::web_check::web_test()?;
    // The package and the demo page in headless Chromium: every backend, fall-through, progress, cache, damage.
    crate::demo::browser_test()?;
    // The conformance gate on every backend that runs here; regenerates CONFORMANCE.md.
    crate::conformance::conformance(crate::conformance::ConformanceArgs::gate())
}
