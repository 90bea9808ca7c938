//! Real exported models (issue 10; `fixtures/models/exported/index.json`) against onnxruntime's recorded outputs,
//! at their recorded shapes, on the fallback backend and on WebGPU (lavapipe natively): each case converted with
//! every input's shape (`input_shapes`, which binds the models' symbols everywhere), run, and every output within
//! the model's tolerance (fp32: rel. L2 ≤ 1e-3; quantized: ≤ 1e-2 and the same argmax over the last axis).
//!
//! The lists below are the models that pass today (`cargo xtask exported` writes the whole table, failures
//! included, to `fixtures/models/exported/RESULTS.md`); a model that stops passing fails this test.

mod common;

use std::path::Path;

use common::*;
use ndarray::ArrayD;
use ndarray_npy::ReadNpyExt;
use serde_json::Value;
use wdnn_runner_core::{Backend, Bundle, Tensor};
use wdnn_transpiler::ConvertOptions;

/// Committed models that match onnxruntime on the fallback backend at every recorded shape.
const FALLBACK: &[&str] = &[
    "silero_vad_16k_op15",
    "silero_vad_16k_sequence",
    "magika_standard_v3_3",
    "ppocrv4_det",
    "ppocr_mobile_v2_cls",
    "bert_tiny_ts14",
    "bert_tiny_dynamo18",
    "vit_tiny_ts17",
    "yolo_tiny_ts17",
    "unet_tiny_ts17",
    "crnn_ts17",
    "mobilenet_v3_small_ts17",
    "squeezenet1_1_ts13",
    "lstm_state_ts17",
    "if_shape_script17",
    "if_cond_dynamo18",
    "kernel_pca_scan_skl15",
    "mobilenet_v3_small_qdq_u8",
    "squeezenet1_1_qop_u8",
    "bert_tiny_qop_matmul_u8",
    "bert_tiny_dynamic_s8",
    "crnn_dynamic_convint_s8",
];

/// Committed models that match onnxruntime on WebGPU at every recorded shape.
const WEBGPU: &[&str] = &[
    "silero_vad_16k_op15",
    "silero_vad_16k_sequence",
    "ppocrv4_det",
    "ppocr_mobile_v2_cls",
    "vit_tiny_ts17",
    "yolo_tiny_ts17",
    "unet_tiny_ts17",
    "crnn_ts17",
    "mobilenet_v3_small_ts17",
    "squeezenet1_1_ts13",
    "lstm_state_ts17",
    "if_shape_script17",
    "if_cond_dynamo18",
];

fn index() -> Vec<Value> {
    let text = std::fs::read_to_string(fixtures().join("models/exported/index.json")).unwrap();
    let index: Value = serde_json::from_str(&text).unwrap();
    index["models"].as_array().unwrap().clone()
}

/// An `.npy` file of the dtypes the exported models use.
fn read_any(path: &Path) -> Tensor {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    fn read<T: wdnn_runner_core::Element + ndarray_npy::ReadableElement>(bytes: &[u8]) -> Option<Tensor> {
        let a = ArrayD::<T>::read_npy(bytes).ok()?;
        let shape: Vec<u64> = a.shape().iter().map(|&d| d as u64).collect();
        Tensor::new(&shape, &a.iter().copied().collect::<Vec<_>>()).ok()
    }
    read::<f32>(&bytes)
        .or_else(|| read::<i64>(&bytes))
        .or_else(|| read::<i32>(&bytes))
        .or_else(|| read::<bool>(&bytes))
        .or_else(|| read::<u8>(&bytes))
        .unwrap_or_else(|| panic!("{}: unexpected dtype", path.display()))
}

/// Converts and runs every case of `model` on `backend`; panics naming the case and output that fails.
fn check_model(entry: &Value, backend: &dyn Backend) {
    let name = entry["model"].as_str().unwrap();
    let onnx = fixtures().join(entry["file"].as_str().unwrap());
    let quantized = entry["tolerance"].as_str() == Some("quantized");
    let tolerance = if quantized { 1e-2 } else { 1e-3 };
    for case in entry["cases"].as_array().unwrap() {
        let case_name = case["case"].as_str().unwrap();
        let inputs = case["inputs"].as_object().unwrap();
        // Scalars need no shape (and some models declare them as `[1]`).
        let input_shapes = inputs
            .iter()
            .map(|(k, v)| (k.clone(), v["shape"].as_array().unwrap().iter().map(|d| d.as_u64().unwrap()).collect()))
            .filter(|(_, shape): &(String, Vec<u64>)| !shape.is_empty())
            .collect();
        let options = ConvertOptions {
            input_shapes,
            backends: vec![backend.name().to_string()],
            zstd_level: 3,
            ..ConvertOptions::default()
        };
        let (dir, _) = convert(&onnx, &options);
        let bundle = Bundle::open(&dir).unwrap();
        let mut session = wdnn_runner_core::load(&bundle, &[backend], |_, _| {})
            .unwrap_or_else(|e| panic!("{name} {case_name}: loading on {}: {e}", backend.name()));
        // At the recorded shape: exporters' scripts save a scalar as a one-element `.npy`.
        let tensors: Vec<(&str, Tensor)> = inputs
            .iter()
            .map(|(k, v)| {
                let shape: Vec<u64> = v["shape"].as_array().unwrap().iter().map(|d| d.as_u64().unwrap()).collect();
                let t = read_any(&fixtures().join(v["file"].as_str().unwrap()));
                (k.as_str(), t.reshaped(&shape).unwrap())
            })
            .collect();
        let outputs = session.run(&tensors).unwrap_or_else(|e| panic!("{name} {case_name}: {e}"));
        for (out, v) in case["outputs"].as_object().unwrap() {
            let what = format!("{name} {case_name} `{out}` on {}", backend.name());
            let expected = read_any(&fixtures().join(v["file"].as_str().unwrap()));
            let actual = &outputs.iter().find(|(n, _)| n == out).unwrap_or_else(|| panic!("{what}: missing")).1;
            assert_eq!(actual.shape(), expected.shape(), "{what}: shape");
            match expected.to_vec::<f32>() {
                Ok(e) => {
                    let a = actual.to_vec::<f32>().unwrap();
                    let err = rel_l2(&a, &e);
                    eprintln!("{what}: rel L2 {err:.2e}");
                    assert!(err <= tolerance, "{what}: rel L2 {err:.3e} > {tolerance:.0e}");
                    if quantized && let Some(&n) = expected.shape().last() {
                        let n = n as usize;
                        for (i, (x, y)) in a.chunks(n).zip(e.chunks(n)).enumerate() {
                            assert_eq!(argmax(x), argmax(y), "{what}: argmax of row {i}");
                        }
                    }
                }
                Err(_) => assert_eq!(actual.bytes(), expected.bytes(), "{what}: values"),
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}

fn check_all(list: &[&str], backend: &dyn Backend) {
    let models = index();
    for name in list {
        let entry = models.iter().find(|m| m["model"] == *name).unwrap_or_else(|| panic!("{name} is not indexed"));
        check_model(entry, backend);
    }
}

#[test]
fn exported_models_match_onnxruntime_on_fallback() {
    check_all(FALLBACK, &wdnn_runner_fallback::FallbackBackend);
}

#[test]
fn exported_models_match_onnxruntime_on_webgpu() {
    let backend = wdnn_runner_webgpu::WebGpuBackend::default();
    backend.probe().unwrap_or_else(|e| panic!("no WebGPU adapter (install mesa-vulkan-drivers): {e}"));
    check_all(WEBGPU, &backend);
}
