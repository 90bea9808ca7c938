//! End to end on whatever adapter wgpu finds (lavapipe without a GPU): a hand-written one-kernel descriptor run
//! several times with different inputs, so that the upload buffer mapped again after each run, the readback and the
//! timestamps switch are exercised without the converter. Skipped with a message where there is no adapter.

use wdnn_descriptor_spec::{
    Binding, DType, Graph, IoBinding, Kernel, KernelPayload, Op, Storage, TensorDesc, UnaryFn, WeightIndex,
};
use wdnn_runner_core::{Backend, Executable, Tensor, Weights};
use wdnn_runner_webgpu::{WebGpuBackend, WebGpuOptions};

const RELU: &str = "@group(0) @binding(0) var<storage, read_write> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@compute @workgroup_size(64, 1, 1)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    if (id.x < 100u) {
        y[id.x] = max(x[id.x], 0.0);
    }
}";

fn relu_graph() -> Graph {
    let t = |name: &str, offset| TensorDesc {
        name: name.into(),
        dtype: DType::F32,
        shape: vec![1, 100],
        storage: Storage::Arena { offset },
    };
    Graph {
        name: "relu".into(),
        backend: "webgpu".into(),
        tensors: vec![t("x", 0), t("y", 512)],
        inputs: vec![IoBinding { name: "x".into(), tensor: 0 }],
        outputs: vec![IoBinding { name: "y".into(), tensor: 1 }],
        kernels: vec![Kernel {
            name: "relu".into(),
            op: Op::Unary { fun: UnaryFn::Relu },
            inputs: vec![0],
            outputs: vec![1],
            payload: Some(KernelPayload::Wgsl {
                shader: 0,
                entry_point: "main".into(),
                workgroup_size: [64, 1, 1],
                dispatch: [2, 1, 1],
                bindings: vec![
                    Binding { binding: 0, tensor: 0, writable: true },
                    Binding { binding: 1, tensor: 1, writable: true },
                ],
            }),
        }],
        arena_size: 1024,
        alignment: 256,
        shaders: vec![RELU.into()],
    }
}

#[test]
fn repeated_runs_read_each_runs_inputs() {
    for options in [
        WebGpuOptions { timestamps: true, ..Default::default() },
        WebGpuOptions { blocking_wait: true, ..Default::default() },
    ] {
        let backend = WebGpuBackend::new(options);
        if let Err(e) = backend.probe() {
            eprintln!("skipped: no WebGPU adapter ({e})");
            return;
        }
        let weights =
            Weights { index: WeightIndex { stream_size: 0, chunks: vec![], tensors: vec![] }, stream: vec![] };
        let mut exe = backend.load_webgpu(&relu_graph(), &weights).unwrap();
        for run in 0..5 {
            if run == 3 {
                exe.set_timestamps(false);
            }
            let x: Vec<f32> = (0..100).map(|i| (i as f32 - 50.0) * (run as f32 + 1.0)).collect();
            let y = exe.run(&[Tensor::new(&[1, 100], &x).unwrap()]).unwrap();
            let expected: Vec<f32> = x.iter().map(|v| v.max(0.0)).collect();
            assert_eq!(y[0].to_vec::<f32>().unwrap(), expected, "run {run}");
            let r = exe.last_run();
            assert!(r.write >= 0.0 && r.wait >= 0.0 && r.read >= 0.0);
        }
        assert!(exe.last_gpu_seconds().is_none(), "timestamps were turned off");
    }
}

/// The cache file in `dir` (there is one per adapter and set of pipelines).
fn cache_file(dir: &std::path::Path) -> std::path::PathBuf {
    let files: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(files.len(), 1, "one cache file, no temporary left: {files:?}");
    files[0].clone()
}

/// A cache file holding `data`, as the runner writes them (magic, SHA-256 of the data, the data).
fn seal(data: &[u8]) -> Vec<u8> {
    use sha2::Digest;
    let mut bytes = b"WDNNPC01".to_vec();
    bytes.extend_from_slice(&sha2::Sha256::digest(data));
    bytes.extend_from_slice(data);
    bytes
}

#[test]
fn the_pipeline_cache_is_reused_and_a_damaged_file_is_ignored() {
    use wdnn_runner_webgpu::PipelineCacheState::{Cold, Rejected, Stale, Unsupported, Warm};
    let dir = std::env::temp_dir().join(format!("wdnn-pipeline-cache-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let options = WebGpuOptions { pipeline_cache: Some(dir.clone()), ..Default::default() };
    if let Err(e) = WebGpuBackend::new(options.clone()).probe() {
        eprintln!("skipped: no WebGPU adapter ({e})");
        return;
    }
    let weights = Weights { index: WeightIndex { stream_size: 0, chunks: vec![], tensors: vec![] }, stream: vec![] };
    let x: Vec<f32> = (0..100).map(|i| (i as f32 - 50.0) * 0.5).collect();
    let expected: Vec<f32> = x.iter().map(|v| v.max(0.0)).collect();
    // Each load in a backend of its own, as another process would.
    let load = |what: &str| {
        let mut exe = WebGpuBackend::new(options.clone()).load_webgpu(&relu_graph(), &weights).unwrap();
        let y = exe.run(&[Tensor::new(&[1, 100], &x).unwrap()]).unwrap();
        assert_eq!(y[0].to_vec::<f32>().unwrap(), expected, "{what}");
        (exe.stats(), exe.warnings().to_vec())
    };

    let (cold, warnings) = load("cold");
    if cold.pipeline_cache == Unsupported {
        eprintln!("skipped: the adapter has no pipeline cache");
        return;
    }
    assert_eq!((cold.pipeline_cache, cold.distinct_pipelines, cold.shaders), (Cold, 1, 1));
    assert!(warnings.is_empty(), "{warnings:?}");
    let path = cache_file(&dir);
    let written = std::fs::read(&path).unwrap();
    assert!(written.len() > 40 && cold.cache_bytes as usize == written.len() - 40, "{} bytes", written.len());

    let (warm, warnings) = load("warm");
    assert_eq!(warm.pipeline_cache, Warm);
    assert_eq!(warm.cache_bytes, cold.cache_bytes);
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(std::fs::read(&path).unwrap(), written, "a warm load leaves the file as it was");

    // Damaged files: truncated, a flipped bit, and well-sealed data that wgpu refuses (made for another adapter:
    // its header's adapter key, bytes 17..32, altered). Each is ignored with a warning and replaced.
    let data = &written[40..];
    let mut flipped = written.clone();
    *flipped.last_mut().unwrap() ^= 0x10;
    let mut foreign = data.to_vec();
    foreign[20] ^= 0xff;
    for (what, bytes) in [
        ("truncated", written[..written.len() / 2].to_vec()),
        ("flipped", flipped),
        ("another adapter's", seal(&foreign)),
        ("not wgpu's", seal(b"not pipeline cache data at all")),
    ] {
        std::fs::write(&path, &bytes).unwrap();
        let (stats, warnings) = load(what);
        if what == "not wgpu's" {
            // Data that checks out but that wgpu finds stale (as after a driver update) starts an empty cache.
            assert_eq!(stats.pipeline_cache, Stale, "{what}");
            assert!(warnings.is_empty(), "{what}: {warnings:?}");
        } else {
            assert_eq!(stats.pipeline_cache, Rejected, "{what}");
            assert!(warnings.len() == 1 && warnings[0].contains("ignored"), "{what}: {warnings:?}");
        }
        // The file was written again: the next load is warm.
        let (next, warnings) = load(&format!("after the {what} file"));
        assert_eq!(next.pipeline_cache, Warm, "after the {what} file");
        assert!(warnings.is_empty(), "{warnings:?}");
        cache_file(&dir);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
