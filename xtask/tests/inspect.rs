//! `cargo xtask inspect` shows a third party every kernel and weight of a bundle, as text and as JSON (issue 12);
//! checked here against the descriptors decoded directly, on the committed conformance vectors and fixture bundles.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use wdnn_runner_core::Bundle;
use wdnn_runner_core::spec::{Encoding, Storage};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask sits in the workspace").to_path_buf()
}

fn inspect(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xtask")).arg("inspect").args(args).output().expect("running xtask inspect")
}

fn inspect_json(bundle: &Path, extra: &[&str]) -> Value {
    let bundle = bundle.to_str().expect("utf-8 path");
    let out = inspect(&[&[bundle, "--json"], extra].concat());
    assert!(out.status.success(), "inspect failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("inspect --json prints one JSON document")
}

/// Every kernel, tensor reference and weight in the JSON is the decoded descriptor's.
fn check_against_descriptor(dir: &Path, report: &Value) {
    let bundle = Bundle::open(dir).expect("opening the bundle");
    let backends = report["backends"].as_array().expect("backends");
    assert!(!backends.is_empty());
    for b in backends {
        let name = b["backend"].as_str().expect("backend name");
        let (graph, weights) = bundle.load_backend(name, |_, _| {}).expect("loading");
        let g = &b["graph"];
        assert_eq!(g["arena_size"], graph.arena_size);
        let kernels = g["kernels"].as_array().expect("kernels");
        assert_eq!(kernels.len(), graph.kernels.len());
        for (k, kj) in graph.kernels.iter().zip(kernels) {
            assert_eq!(kj["op"], k.op.name());
            assert_eq!(kj["name"], k.name.as_str());
            let ids: Vec<u64> = kj["inputs"].as_array().unwrap().iter().map(|t| t["id"].as_u64().unwrap()).collect();
            assert_eq!(ids, k.inputs.iter().map(|&t| t as u64).collect::<Vec<_>>());
            for t in kj["inputs"].as_array().unwrap().iter().chain(kj["outputs"].as_array().unwrap()) {
                let desc = &graph.tensors[t["id"].as_u64().unwrap() as usize];
                assert_eq!(t["shape"], serde_json::json!(desc.shape));
                match desc.storage {
                    Storage::Arena { offset } => {
                        let range = t["arena"].as_array().expect("arena tensors show their range");
                        assert_eq!(range[0], offset);
                        assert_eq!(range[1], offset + desc.byte_size());
                        assert!(offset + desc.byte_size() <= graph.arena_size);
                    }
                    Storage::Weight { id } => assert_eq!(t["weight"], id),
                }
            }
        }
        let wj = b["weights"]["tensors"].as_array().expect("weights");
        assert_eq!(wj.len(), weights.index.tensors.len());
        for (w, j) in weights.index.tensors.iter().zip(wj) {
            assert_eq!(j["encoding"]["type"], w.encoding.name());
            assert_eq!(j["length"], w.length);
            assert_eq!(j["shape"], serde_json::json!(w.shape));
        }
    }
}

#[test]
fn json_shows_every_kernel_and_weight_of_an_int8_bundle() {
    let dir = repo().join("descriptor-spec/vectors/good/weights_int8");
    let report = inspect_json(&dir, &[]);
    check_against_descriptor(&dir, &report);
    let weights = report["backends"][0]["weights"]["tensors"].as_array().unwrap();
    assert!(weights.iter().any(|w| w["encoding"]["type"] == "Int8"), "the int8 vector shows an Int8 weight");
    let bundle = Bundle::open(&dir).unwrap();
    let (_, w) = bundle.load_backend("fallback", |_, _| {}).unwrap();
    assert!(w.index.tensors.iter().any(|t| matches!(t.encoding, Encoding::Int8 { .. })));
}

#[test]
fn json_shows_wgsl_dispatches_of_a_webgpu_descriptor() {
    let dir = repo().join("fixtures/bundles/tiny-gemm");
    let report = inspect_json(&dir, &["--backend", "webgpu"]);
    assert_eq!(report["backends"].as_array().unwrap().len(), 1, "--backend narrows the report");
    check_against_descriptor(&dir, &report);
    for k in report["backends"][0]["graph"]["kernels"].as_array().unwrap() {
        assert_eq!(k["payload"]["kind"], "Wgsl", "kernel {} shows its dispatch", k["name"]);
        assert!(k["payload"]["dispatch"].is_array());
    }
}

#[test]
fn text_lists_kernels_with_their_arena_ranges() {
    let dir = repo().join("descriptor-spec/vectors/good/views");
    let out = inspect(&[dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let bundle = Bundle::open(&dir).unwrap();
    let (graph, _) = bundle.load_backend("fallback", |_, _| {}).unwrap();
    for (i, k) in graph.kernels.iter().enumerate() {
        assert!(text.contains(&format!("#{i:<4} {:<14} {}", k.op.name(), k.name)), "kernel {i} missing:\n{text}");
    }
    assert!(text.contains(&format!("arena {} bytes", graph.arena_size)));
    assert!(text.contains("@0.."), "arena ranges shown:\n{text}");
}

#[test]
fn a_damaged_bundle_or_unknown_backend_is_an_error_naming_it() {
    let damaged = repo().join("descriptor-spec/vectors/bad/weights_flipped");
    let out = inspect(&[damaged.to_str().unwrap(), "--json"]);
    assert!(!out.status.success(), "inspect verifies before it shows");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("fallback.weights.wdnn"), "the error names the file: {err}");
    assert!(!err.contains("panicked"), "{err}");

    let dir = repo().join("fixtures/bundles/tiny-gemm");
    let out = inspect(&[dir.to_str().unwrap(), "--backend", "wasm"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no `wasm` descriptor") && err.contains("fallback, webgpu"), "{err}");
}
