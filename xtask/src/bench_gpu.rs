//! `cargo xtask bench-gpu BUNDLE…`: batch-1 latency of bundles on the WebGPU backend — load time and its parts
//! (the graph's read + verify, checks, the weights' read + decode and upload beside the pipelines and what the pipeline
//! cache did, bind groups; the adapter, requested while the graph is read, and the device apart), first-run time, then the median GPU time
//! (timestamp queries) of many runs, the median wall time of as many runs without timestamps and where that wall
//! time goes (write, submit, record, wait, read) — and the GFLOP/s that makes. `bench/gpu_bench.sh` runs it beside
//! PyTorch on a GPU machine.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::Args;
use wdnn_runner_core::spec::{DType, Graph, Op};
use wdnn_runner_core::{Backend, Bundle, Executable, Tensor};
use wdnn_runner_webgpu::{WebGpuBackend, WebGpuOptions};

#[derive(Args)]
pub struct BenchGpuArgs {
    /// Bundle directories with a webgpu descriptor.
    #[arg(required = true)]
    bundles: Vec<PathBuf>,
    /// Timed runs per model (the median is reported).
    #[arg(long, default_value_t = 100)]
    runs: usize,
    /// Untimed runs before them.
    #[arg(long, default_value_t = 10)]
    warmup: usize,
    /// Also run the fallback backend once on the same input and report the rel. L2 between the outputs.
    #[arg(long)]
    check: bool,
    /// Skip wgpu's shader bounds checks (bundles from this converter only).
    #[arg(long)]
    trusted: bool,
    /// Then time every dispatch of a few more runs and print where the GPU time goes.
    #[arg(long)]
    profile: bool,
    /// Block on the fence at once instead of polling it first (`WebGpuOptions::blocking_wait`).
    #[arg(long)]
    blocking: bool,
    /// Keep compiled pipelines in this directory between processes (`WebGpuOptions::pipeline_cache`): a first
    /// run with an empty directory measures cold loads and fills it, a second run measures warm loads.
    #[arg(long)]
    pipeline_cache: Option<PathBuf>,
    /// Write the results as JSON.
    #[arg(long)]
    json: Option<PathBuf>,
    /// The descriptor to time: `webgpu` (f32) or `webgpu-f16` (f16 storage; the bundle needs one: `convert
    /// --backends webgpu-f16,...`). With `--check`, each is compared with the bundle's fallback descriptor.
    #[arg(long, default_value = "webgpu")]
    backend: String,
}

/// Floating-point operations of one run: 2 per multiply-add of Conv, ConvTranspose and MatMul.
fn flops(graph: &Graph) -> f64 {
    let shape = |id: u32| graph.tensors.get(id as usize).map(|t| t.shape.clone()).unwrap_or_default();
    let numel = |s: &[u64]| s.iter().product::<u64>() as f64;
    graph
        .kernels
        .iter()
        .map(|k| match &k.op {
            Op::Conv { group, .. } => {
                let (w, y) = (shape(k.inputs[1]), shape(k.outputs[0]));
                let _ = group;
                2.0 * numel(&y) * numel(&w[1..])
            }
            Op::ConvTranspose { .. } => {
                let (w, x) = (shape(k.inputs[1]), shape(k.inputs[0]));
                2.0 * numel(&x) * numel(&w[1..])
            }
            Op::MatMul { transpose_a, .. } => {
                let (a, y) = (shape(k.inputs[0]), shape(k.outputs[0]));
                let kdim = if *transpose_a && a.len() >= 2 { a[a.len() - 2] } else { *a.last().unwrap_or(&1) };
                2.0 * numel(&y) * kdim as f64
            }
            _ => 0.0,
        })
        .sum()
}

/// Deterministic inputs in [-1, 1).
fn inputs(graph: &Graph) -> Result<Vec<Tensor>> {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    graph
        .inputs
        .iter()
        .map(|io| {
            let t = &graph.tensors[io.tensor as usize];
            if t.dtype != DType::F32 {
                bail!("input `{}` is {}, the benchmark makes f32 inputs only", io.name, t.dtype);
            }
            let values: Vec<f32> = (0..t.numel())
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    (state >> 40) as f32 / (1u64 << 23) as f32 - 1.0
                })
                .collect();
            Ok(Tensor::new(&t.shape, &values)?)
        })
        .collect()
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    if v.is_empty() { f64::NAN } else { v[v.len() / 2] }
}

fn median_of(v: &[f64]) -> f64 {
    median(&mut v.to_vec())
}

/// The backend for `name`'s descriptors.
fn backend(name: &str, options: WebGpuOptions) -> Result<WebGpuBackend> {
    match name {
        "webgpu" => Ok(WebGpuBackend::new(options)),
        wdnn_runner_webgpu::F16_NAME => Ok(WebGpuBackend::f16(options)),
        other => bail!("--backend {other}: expected webgpu or {}", wdnn_runner_webgpu::F16_NAME),
    }
}

pub fn bench_gpu(args: BenchGpuArgs) -> Result<()> {
    backend(&args.backend, WebGpuOptions::default())?;
    let mut results = Vec::new();
    println!(
        "{:<16} {:>8} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>10} {:>10}",
        "model",
        "kernels",
        "load ms",
        "pipes ms",
        "first ms",
        "wall ms",
        "gpu ms",
        "w-stamp",
        "GFLOP",
        "GFLOP/s",
        "rel L2"
    );
    for dir in &args.bundles {
        let name = dir.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
        let options = WebGpuOptions {
            timestamps: true,
            trusted_shaders: args.trusted,
            blocking_wait: args.blocking,
            pipeline_cache: args.pipeline_cache.clone(),
            ..Default::default()
        };
        let backend = backend(&args.backend, options)?;
        // The adapter is requested while the bundle's graph is read, as an application would (it needs nothing from
        // the bundle); then the model loads on it, decoding the weights while its pipelines are created.
        let start = Instant::now();
        let (opened, probed) = std::thread::scope(|s| {
            let probe = s.spawn(|| {
                let t = Instant::now();
                backend.probe().map(|()| t.elapsed().as_secs_f64())
            });
            let opened = (|| -> Result<_> {
                let bundle = Bundle::open(dir).with_context(|| format!("opening {}", dir.display()))?;
                let graph = bundle.load_graph(&args.backend)?;
                Ok((bundle, graph, start.elapsed().as_secs_f64()))
            })();
            (opened, probe.join())
        });
        let (bundle, graph, read_graph) = opened?;
        let adapter = match probed {
            Ok(Ok(seconds)) => seconds,
            Ok(Err(e)) => bail!("no WebGPU adapter: {e}"),
            Err(_) => bail!("requesting the adapter panicked"),
        };
        // The weights are read and decoded inside the load, while the pipelines are created.
        let mut exe = backend.load_graph_from(&bundle, &graph, &mut |_, _| {})?;
        let load = start.elapsed().as_secs_f64();
        for w in exe.warnings() {
            eprintln!("{name}: warning: {w}");
        }
        let stats = exe.stats();
        let x = inputs(&graph)?;
        let first_start = Instant::now();
        let first = exe.run(&x)?;
        let first_run = first_start.elapsed().as_secs_f64();
        for _ in 0..args.warmup {
            exe.run(&x)?;
        }
        // GPU time with timestamps, then wall time without them (they cost a resolve, a copy and a mapping).
        let (mut stamped, mut gpu) = (Vec::new(), Vec::new());
        for _ in 0..args.runs {
            let t = Instant::now();
            exe.run(&x)?;
            stamped.push(t.elapsed().as_secs_f64());
            if let Some(g) = exe.last_gpu_seconds() {
                gpu.push(g);
            }
        }
        exe.set_timestamps(false);
        for _ in 0..args.warmup {
            exe.run(&x)?;
        }
        let mut wall = Vec::new();
        let mut parts: [Vec<f64>; 5] = Default::default();
        for _ in 0..args.runs {
            let t = Instant::now();
            exe.run(&x)?;
            wall.push(t.elapsed().as_secs_f64());
            let r = exe.last_run();
            for (v, s) in parts.iter_mut().zip([r.write, r.submit, r.record, r.wait, r.read]) {
                v.push(s);
            }
        }
        let (wall, gpu, stamped) = (median(&mut wall), median(&mut gpu), median(&mut stamped));
        let [write, submit, record, wait, read] = parts.map(|v| median_of(&v));
        let gflop = flops(&graph) / 1e9;
        let (rel, top1) = if args.check {
            let (g, w) = bundle.load_backend("fallback", |_, _| {})?;
            let mut cpu = wdnn_runner_fallback::FallbackBackend.load(&g, &w)?;
            let expected = cpu.run(&x)?;
            let (a, e) = (first[0].to_vec::<f32>()?, expected[0].to_vec::<f32>()?);
            let (mut d, mut n) = (0f64, 0f64);
            for (a, e) in a.iter().zip(&e) {
                d += (*a as f64 - *e as f64).powi(2);
                n += (*e as f64).powi(2);
            }
            let argmax = |v: &[f32]| v.iter().enumerate().max_by(|p, q| p.1.total_cmp(q.1)).map(|(i, _)| i);
            (Some((d / n.max(1e-30)).sqrt()), Some(argmax(&a) == argmax(&e)))
        } else {
            (None, None)
        };
        println!(
            "{:<16} {:>8} {:>9.1} {:>9.1} {:>9.2} {:>9.3} {:>9.3} {:>9.3} {:>9.2} {:>10.0} {:>10}",
            name,
            exe.dispatches(),
            load * 1e3,
            stats.pipelines * 1e3,
            first_run * 1e3,
            wall * 1e3,
            gpu * 1e3,
            stamped * 1e3,
            gflop,
            gflop / wall,
            rel.map_or("-".to_string(), |r| format!("{r:.2e}"))
        );
        // The model's own load: everything but the adapter and the device, which an application (or a browser page)
        // requests once and which the adapter's request overlapped here.
        let model_load = read_graph + stats.total - stats.device;
        println!(
            "  load: {:.1} ms without adapter and device (graph read+verify {:.1}, checks {:.1}, weights read+decode {:.1} \
             and upload {:.1} beside \
             pipelines {:.1} ({} pipelines of {} shaders; cache {:?}, {} KiB), bind {:.1}, cache write {:.1}); \
             adapter {:.1} ms (requested while the graph is read), device {:.1} ms",
            model_load * 1e3,
            read_graph * 1e3,
            stats.checks * 1e3,
            stats.decode * 1e3,
            stats.upload * 1e3,
            stats.pipelines * 1e3,
            stats.distinct_pipelines,
            stats.shaders,
            stats.pipeline_cache,
            stats.cache_bytes / 1024,
            stats.bind * 1e3,
            stats.cache_write * 1e3,
            adapter * 1e3,
            stats.device * 1e3,
        );
        println!(
            "  run: write {:.3} ms, submit {:.3} ms, record {:.3} ms, wait {:.3} ms, read {:.3} ms",
            write * 1e3,
            submit * 1e3,
            record * 1e3,
            wait * 1e3,
            read * 1e3
        );
        results.push(serde_json::json!({
            "model": name,
            "backend": args.backend,
            "adapter": exe.adapter_info(),
            "dispatches": exe.dispatches(),
            "load_ms": load * 1e3,
            "model_load_ms": model_load * 1e3,
            "read_verify_ms": read_graph * 1e3,
            "decode_ms": stats.decode * 1e3,
            "adapter_ms": adapter * 1e3,
            "device_ms": stats.device * 1e3,
            "checks_ms": stats.checks * 1e3,
            "upload_ms": stats.upload * 1e3,
            "pipelines_ms": stats.pipelines * 1e3,
            "bind_ms": stats.bind * 1e3,
            "cache_write_ms": stats.cache_write * 1e3,
            "pipeline_cache": format!("{:?}", stats.pipeline_cache),
            "pipeline_cache_bytes": stats.cache_bytes,
            "distinct_pipelines": stats.distinct_pipelines,
            "shaders": stats.shaders,
            "first_run_ms": first_run * 1e3,
            "wall_ms": wall * 1e3,
            "wall_with_timestamps_ms": stamped * 1e3,
            "gpu_ms": gpu * 1e3,
            "run_write_ms": write * 1e3,
            "run_submit_ms": submit * 1e3,
            "run_record_ms": record * 1e3,
            "run_wait_ms": wait * 1e3,
            "run_read_ms": read * 1e3,
            "gflop": gflop,
            "rel_l2_vs_fallback": rel,
            "top1_agrees_with_fallback": top1,
            "runs": args.runs,
        }));
        eprintln!("{name}: adapter {}", exe.adapter_info());
        if args.profile {
            drop(exe);
            let weights = bundle.load_weights(&args.backend, &graph, |_, _| {})?;
            let kernels = profile(&args.backend, &graph, &weights, &x, args.trusted, args.pipeline_cache.clone())?;
            if let Some(last) = results.last_mut() {
                last["kernels"] = kernels;
            }
        }
    }
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&results)?)?;
    }
    Ok(())
}

/// GPU time per op type and the costliest kernels, averaged over 10 runs with a timestamp around every dispatch;
/// returns every dispatch's time with its op, output and weight shapes and grid (for comparing tunings kernel by
/// kernel: `bench/gpu_sweep.sh`).
fn profile(
    name: &str,
    graph: &Graph,
    weights: &wdnn_runner_core::Weights,
    x: &[Tensor],
    trusted: bool,
    pipeline_cache: Option<PathBuf>,
) -> Result<serde_json::Value> {
    let backend = backend(
        name,
        WebGpuOptions {
            timestamps: true,
            trusted_shaders: trusted,
            profile: true,
            pipeline_cache,
            ..Default::default()
        },
    )?;
    let mut exe = backend.load_webgpu(graph, weights)?;
    let mut total: Vec<(String, String, f64)> = Vec::new();
    for run in 0..13 {
        exe.run(x)?;
        if run < 3 {
            continue;
        }
        let p = exe.profile();
        if total.is_empty() {
            total = p.iter().map(|(n, o, _)| (n.to_string(), o.to_string(), 0.0)).collect();
        }
        for (t, (_, _, s)) in total.iter_mut().zip(&p) {
            t.2 += s / 10.0;
        }
    }
    if total.is_empty() {
        println!("  (no per-dispatch timestamps on this adapter)");
        return Ok(serde_json::Value::Array(Vec::new()));
    }
    let mut by_op: Vec<(String, f64, usize)> = Vec::new();
    for (_, op, s) in &total {
        match by_op.iter_mut().find(|(o, _, _)| o == op) {
            Some(e) => {
                e.1 += s;
                e.2 += 1;
            }
            None => by_op.push((op.clone(), *s, 1)),
        }
    }
    by_op.sort_by(|a, b| b.1.total_cmp(&a.1));
    let sum: f64 = total.iter().map(|t| t.2).sum();
    let ops: Vec<String> = by_op.iter().map(|(o, s, n)| format!("{o}×{n} {:.3}", s * 1e3)).collect();
    println!("  profile: {:.3} ms in dispatches; by op (ms): {}", sum * 1e3, ops.join(", "));
    let shape_of = |id: Option<&u32>| id.and_then(|&t| graph.tensors.get(t as usize)).map(|t| t.shape.clone());
    let grid = |name: &str| match graph.kernels.iter().find(|k| k.name == name).and_then(|k| k.payload.as_ref()) {
        Some(wdnn_runner_core::spec::KernelPayload::Wgsl { dispatch, workgroup_size, .. }) => {
            Some((*dispatch, *workgroup_size))
        }
        _ => None,
    };
    let mut top = total.clone();
    top.sort_by(|a, b| b.2.total_cmp(&a.2));
    for (name, op, s) in top.iter().take(8) {
        let k = graph.kernels.iter().find(|k| &k.name == name);
        let shape = shape_of(k.and_then(|k| k.outputs.first())).map(|s| format!("{s:?}")).unwrap_or_default();
        let dispatch = grid(name).map(|(d, w)| format!("{d:?}x{w:?}")).unwrap_or_default();
        println!("    {:>8.3} ms  {op:<12} {name:<28} out {shape} grid {dispatch}", s * 1e3);
    }
    let kernels = total
        .iter()
        .map(|(name, op, s)| {
            let k = graph.kernels.iter().find(|k| &k.name == name);
            serde_json::json!({
                "name": name,
                "op": op,
                "ms": s * 1e3,
                "out": shape_of(k.and_then(|k| k.outputs.first())),
                "weight": shape_of(k.and_then(|k| k.inputs.get(1))),
                "grid": grid(name),
            })
        })
        .collect();
    Ok(serde_json::Value::Array(kernels))
}
