//! Conversion as a library: the bundle in memory is the bundle written; a backend without a kernel for some node
//! is an error listing them all (or is left out, when asked, saying why); unknown names are their own errors; the
//! WebGPU tuning is an option the summary records; and conversion reads no environment variable.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use wdnn_runner_core::{Bundle, Tensor};
use wdnn_transpiler::pipeline::PassSelection;
use wdnn_transpiler::{ConvertError, ConvertOptions, TargetOptions, WebGpuTuning};

/// A Cast to f64, Neg on f64 and ArgMin of f64: the reference runs them, the WebGPU code generator has none of them
/// (it has the IsNaN, Not and Cast from bool beside them).
fn gaps_model() -> PathBuf {
    fixtures().join("models/errors/webgpu_gaps.onnx")
}

fn for_backends(backends: &[&str]) -> ConvertOptions {
    ConvertOptions {
        backends: backends.iter().map(|b| b.to_string()).collect(),
        zstd_level: 3,
        ..ConvertOptions::default()
    }
}

#[test]
fn a_backend_without_some_kernels_fails_listing_every_op_and_node() {
    let err =
        wdnn_transpiler::convert_to_memory(&gaps_model(), &for_backends(&["fallback", "webgpu"]), |_| {}).unwrap_err();
    let ConvertError::UnsupportedKernels { backend, ops } = &err else { panic!("unexpected error: {err}") };
    assert_eq!(backend, "webgpu");
    let nodes: Vec<&str> = ops.iter().flat_map(|u| u.nodes.iter().map(String::as_str)).collect();
    assert_eq!(nodes, ["cast", "neg", "argmin"], "{err}");
    let text = err.to_string();
    for reason in ["Cast to f64", "Neg with a f64 result", "ArgMin"] {
        assert!(text.contains(reason), "{reason} missing from: {text}");
    }
}

#[test]
fn skipping_unsupported_backends_writes_the_others_and_says_why() {
    let options = ConvertOptions { skip_unsupported_backends: true, ..for_backends(&["webgpu", "fallback"]) };
    let (dir, summary) = convert(&gaps_model(), &options);
    assert_eq!(summary.skipped_backends.len(), 1);
    assert_eq!(summary.skipped_backends[0].backend, "webgpu");
    assert_eq!(summary.skipped_backends[0].ops.len(), 3);
    let backends: Vec<&str> = summary.backends.iter().map(|b| b.backend.as_str()).collect();
    assert_eq!(backends, ["fallback"]);
    let manifest = Bundle::open(&dir).unwrap().manifest;
    assert_eq!(manifest.backends.iter().map(|b| b.backend.as_str()).collect::<Vec<_>>(), ["fallback"]);
    assert!(!dir.join("webgpu.graph.wdnn").exists());

    // The bundle that is left computes the model: y = relu(x) + 1 (no NaN), i = argmax per row (argmin of -x).
    let mut session = fallback_session(&dir);
    let x = Tensor::new(&[2, 3], &[1.0f32, -2.0, 0.5, -1.0, 3.0, 2.0]).unwrap();
    let out = session.run(&[("x", x)]).unwrap();
    assert_eq!(out[0].1.to_vec::<f32>().unwrap(), [2.0, 1.0, 1.5, 1.0, 4.0, 3.0]);
    assert_eq!(out[1].1.to_vec::<i64>().unwrap(), [0, 1]);

    // With no backend left, it is the error again.
    let options = ConvertOptions { skip_unsupported_backends: true, ..for_backends(&["webgpu"]) };
    let err = wdnn_transpiler::convert_to_memory(&gaps_model(), &options, |_| {}).unwrap_err();
    assert!(matches!(err, ConvertError::UnsupportedKernels { .. }), "{err}");
}

#[test]
fn the_bundle_in_memory_is_the_bundle_written_and_the_same_every_time() {
    let model = fixtures().join("models/errors/tiny_gemm.onnx");
    let options = for_backends(&["fallback", "webgpu"]);
    let (files, _) = wdnn_transpiler::convert_to_memory(&model, &options, |_| {}).unwrap();
    let dir = scratch("in-memory");
    wdnn_transpiler::write_bundle(&files, &dir).unwrap();
    let mut written: Vec<String> =
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    written.sort();
    let mut names: Vec<String> = files.files.iter().map(|(n, _)| n.clone()).collect();
    names.sort();
    assert_eq!(written, names);
    for (name, bytes) in &files.files {
        assert_eq!(&std::fs::read(dir.join(name)).unwrap(), bytes, "{name}");
    }
    let (again, _) = wdnn_transpiler::convert_to_memory(&model, &options, |_| {}).unwrap();
    assert_eq!(again, files);
    assert!(files.get("manifest.wdnn").is_some() && files.get("nope").is_none());
}

#[test]
fn unknown_names_and_required_passes_are_their_own_errors() {
    let model = fixtures().join("models/errors/tiny_gemm.onnx");
    let convert = |options: &ConvertOptions| wdnn_transpiler::convert_to_memory(&model, options, |_| {}).unwrap_err();
    let err = convert(&for_backends(&["fallback", "nope"]));
    assert!(matches!(&err, ConvertError::UnknownBackend { name, known } if name == "nope" && known.contains("webgpu")));
    let skip = |pass: &str| ConvertOptions {
        passes: PassSelection { no_optimize: false, skip: vec![pass.to_string()] },
        ..for_backends(&["fallback"])
    };
    let err = convert(&skip("fuse-elementwize"));
    assert!(matches!(&err, ConvertError::UnknownPass { known, .. } if known.contains("fuse-elementwise")), "{err}");
    let err = convert(&skip("split-large-weights"));
    assert!(matches!(&err, ConvertError::RequiredPass { name, .. } if name == "split-large-weights"), "{err}");
}

#[test]
fn webgpu_tuning_is_an_option_that_the_summary_records() {
    let model = fixtures().join("models/light/light_squeezenet.onnx");
    let convert = |tuning: WebGpuTuning, skip: &[&str]| {
        let options = ConvertOptions {
            targets: TargetOptions { webgpu: tuning },
            passes: PassSelection { no_optimize: false, skip: skip.iter().map(|s| s.to_string()).collect() },
            ..for_backends(&["webgpu"])
        };
        wdnn_transpiler::convert_to_memory(&model, &options, |_| {}).unwrap()
    };
    let (default_files, default) = convert(WebGpuTuning::default(), &[]);
    let webgpu = &default.backends[0];
    let ran: Vec<&str> = webgpu.passes.ran.iter().map(|p| p.name).collect();
    assert_eq!(ran, ["winograd", "split-k", "matmul-layout", "split-large-weights", "concat-views", "reshape-views"]);
    assert_eq!(webgpu.settings, WebGpuTuning::default().settings());

    let small_tiles = WebGpuTuning { tile_threads: 1, ..WebGpuTuning::default() };
    let (tuned_files, tuned) = convert(small_tiles, &["split-k"]);
    assert_eq!(tuned.backends[0].settings[0], ("tile_threads", "1".to_string()));
    assert_eq!(tuned.backends[0].passes.skipped, ["split-k"]);
    let graph = |files: &wdnn_transpiler::BundleFiles| files.get("webgpu.graph.wdnn").unwrap().to_vec();
    assert_ne!(graph(&tuned_files), graph(&default_files), "the tile tuning changes the shaders");
    assert_eq!(graph(&convert(small_tiles, &["split-k"]).0), graph(&tuned_files), "and nothing else does");
}

/// Every `.rs` file under `dir`.
fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(sources(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

/// Architecture invariant: one command always writes the same bundle, whatever the shell's environment.
#[test]
fn conversion_reads_no_environment_variables() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let files = sources(&src);
    assert!(files.len() > 20, "found only {} sources under {}", files.len(), src.display());
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(!text.contains("env::var"), "{} reads the environment", file.display());
    }
}
