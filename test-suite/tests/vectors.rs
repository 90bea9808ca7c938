//! The conformance vectors (`descriptor-spec/vectors`, SPEC §8.1) on wdnn's own runners: every good vector on
//! runner-fallback and runner-wasm (natively, on the fallback descriptor) against its expected outputs, as
//! `descriptor-spec/vectors/README.md` says a third party compares them; every bad vector refused by both with the
//! class of its `expect.json`, its message naming what it says.

mod common;

use std::path::{Path, PathBuf};

use wdnn_descriptor_spec::DType;
use wdnn_runner_core::{Backend, Bundle, RunnerError, Tensor};

fn vectors() -> PathBuf {
    common::repo().join("descriptor-spec/vectors")
}

fn folders(kind: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(vectors().join(kind))
        .unwrap_or_else(|e| panic!("descriptor-spec/vectors/{kind}: {e}"))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    out.sort();
    out
}

/// Reads a `.npy` file (format 1.0 or 2.0, little-endian or one-byte dtypes, C order) into a tensor of its dtype.
fn read_npy(path: &Path) -> Tensor {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(&bytes[..6], b"\x93NUMPY", "{}: not .npy", path.display());
    let (header_len, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        _ => (u32::from_le_bytes(bytes[8..12].try_into().unwrap()) as usize, 12),
    };
    let header = std::str::from_utf8(&bytes[start..start + header_len]).unwrap();
    let field = |key: &str| {
        let at = header.find(key).unwrap_or_else(|| panic!("{}: no {key}", path.display())) + key.len();
        header[at..].trim_start_matches([':', ' ', '\'']).to_string()
    };
    let descr = field("'descr'");
    let descr = &descr[..descr.find('\'').unwrap()];
    assert!(field("'fortran_order'").starts_with("False"), "{}: Fortran order", path.display());
    let shape_text = field("'shape'");
    let shape_text = &shape_text[shape_text.find('(').unwrap() + 1..shape_text.find(')').unwrap()];
    let shape: Vec<u64> =
        shape_text.split(',').map(str::trim).filter(|s| !s.is_empty()).map(|s| s.parse().unwrap()).collect();
    let dtype = match descr {
        "<f4" => DType::F32,
        "<f2" => DType::F16,
        "<f8" => DType::F64,
        "|i1" => DType::I8,
        "<i2" => DType::I16,
        "<i4" => DType::I32,
        "<i8" => DType::I64,
        "|u1" => DType::U8,
        "<u2" => DType::U16,
        "<u4" => DType::U32,
        "<u8" => DType::U64,
        "|b1" => DType::Bool,
        other => panic!("{}: dtype {other}", path.display()),
    };
    Tensor::from_bytes(dtype, &shape, bytes[start + header_len..].to_vec()).unwrap()
}

fn inputs(dir: &Path, bundle: &Bundle) -> Vec<Tensor> {
    bundle.manifest.inputs.iter().map(|s| read_npy(&dir.join("inputs").join(format!("{}.npy", s.name)))).collect()
}

fn floats(t: &Tensor) -> Vec<f64> {
    match t.dtype() {
        DType::F32 => t.to_vec::<f32>().unwrap().into_iter().map(f64::from).collect(),
        DType::F64 => t.to_vec::<f64>().unwrap(),
        other => panic!("no float comparison for {other}"),
    }
}

/// The README's rule: same dtype and shape; floats: NaN and infinities where expected, rel. L2 ≤ 1e-5 over the
/// rest; anything else: equal bytes.
fn compare(actual: &Tensor, expected: &Tensor) -> Result<f64, String> {
    if actual.dtype() != expected.dtype() || actual.shape() != expected.shape() {
        return Err(format!(
            "{} {:?}, expected {} {:?}",
            actual.dtype(),
            actual.shape(),
            expected.dtype(),
            expected.shape()
        ));
    }
    if !matches!(expected.dtype(), DType::F32 | DType::F64) {
        return if actual.bytes() == expected.bytes() { Ok(0.0) } else { Err("values differ".to_string()) };
    }
    let (a, e) = (floats(actual), floats(expected));
    let (mut diff, mut norm) = (0f64, 0f64);
    for (i, (x, y)) in a.iter().zip(&e).enumerate() {
        if y.is_nan() || y.is_infinite() {
            if !(x.is_nan() && y.is_nan()) && x != y {
                return Err(format!("element {i}: {x}, expected {y}"));
            }
            continue;
        }
        diff += (x - y).powi(2);
        norm += y * y;
    }
    let err = if norm > 0.0 { (diff / norm).sqrt() } else { diff.sqrt() };
    if err <= 1e-5 { Ok(err) } else { Err(format!("rel. L2 {err:.3e} > 1e-5")) }
}

/// Runs a bundle the two ways: `fallback` through a session, `wasm` on the fallback descriptor.
fn run(bundle: &Bundle, backend: &str, descriptor: &str, inputs: &[Tensor]) -> Result<Vec<Tensor>, RunnerError> {
    let (graph, weights) = bundle.load_backend(descriptor, |_, _| {})?;
    let mut exe = match backend {
        "fallback" => wdnn_runner_fallback::FallbackBackend.load(&graph, &weights)?,
        _ => wdnn_runner_wasm::backend::WasmBackend.load(&graph, &weights)?,
    };
    exe.run(inputs)
}

fn check_good(backend: &str) {
    let mut failures = Vec::new();
    let good = folders("good");
    assert!(good.len() >= 20, "only {} good vectors", good.len());
    for dir in &good {
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        let bundle = Bundle::open(dir).unwrap_or_else(|e| panic!("{name}: {e}"));
        let outputs = match run(&bundle, backend, "fallback", &inputs(dir, &bundle)) {
            Ok(outputs) => outputs,
            Err(e) => {
                failures.push(format!("{name}: {e}"));
                continue;
            }
        };
        for (sig, actual) in bundle.manifest.outputs.iter().zip(&outputs) {
            let expected = read_npy(&dir.join("expected").join(format!("{}.npy", sig.name)));
            if let Err(e) = compare(actual, &expected) {
                failures.push(format!("{name}: output `{}`: {e}", sig.name));
            }
        }
    }
    assert!(failures.is_empty(), "{backend}: {} failures:\n{}", failures.len(), failures.join("\n"));
}

fn check_bad(backend: &str) {
    let mut failures = Vec::new();
    for dir in folders("bad") {
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        let expect: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("expect.json")).unwrap()).unwrap();
        let class = expect["class"].as_str().unwrap();
        let names = expect["names"].as_str();
        let descriptor = expect["backend"].as_str().unwrap();
        let result = Bundle::open(&dir).and_then(|bundle| {
            let given = if dir.join("inputs").exists() {
                inputs(&dir, &bundle)
            } else {
                bundle.manifest.inputs.iter().map(|s| Tensor::zeros(s.dtype, &s.shape)).collect()
            };
            run(&bundle, backend, descriptor, &given)
        });
        match result {
            Ok(_) => failures.push(format!("{name}: accepted, expected {class}")),
            Err(e) => {
                let message = e.to_string();
                if e.class() != Some(class) {
                    failures.push(format!("{name}: class {:?}, expected {class}: {message}", e.class()));
                } else if names.is_some_and(|n| !message.contains(n)) {
                    failures.push(format!("{name}: the message does not name {names:?}: {message}"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{backend}: {} failures:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn good_vectors_on_fallback() {
    check_good("fallback");
}

#[test]
fn good_vectors_on_wasm() {
    check_good("wasm");
}

#[test]
fn bad_vectors_refused_by_fallback() {
    check_bad("fallback");
}

#[test]
fn bad_vectors_refused_by_wasm() {
    check_bad("wasm");
}

/// SPEC §2.3: a runner refuses a descriptor whose manifest entry needs a format feature it does not implement, and
/// says which, before it reads the descriptor; every backend's load goes through that check.
#[test]
fn a_feature_from_the_future_is_refused_by_every_runner_by_name() {
    use wdnn_descriptor_spec::{Manifest, Op, UnaryFn};
    let mut g = wdnn_transpiler::ir::Graph::new("future");
    let x = g.add_value("x", DType::F32, &[4]);
    let y = g.add_value("y", DType::F32, &[4]);
    g.add_node("relu", Op::Unary { fun: UnaryFn::Relu }, &[x], &[y]);
    g.inputs = vec![x];
    g.outputs = vec![("y".to_string(), y)];
    let options = wdnn_transpiler::ConvertOptions {
        backends: ["fallback", "wasm", "webgpu"].map(String::from).to_vec(),
        zstd_level: 1,
        ..Default::default()
    };
    let (files, _) = wdnn_transpiler::convert_ir(g, b"future", &options, |_| {}).unwrap();
    let dir = common::scratch("future-feature");
    wdnn_transpiler::write_bundle(&files, &dir).unwrap();
    let path = dir.join("manifest.wdnn");
    let mut manifest = Manifest::from_bytes(&std::fs::read(&path).unwrap(), "manifest").unwrap();
    assert!(manifest.backends.iter().all(|e| e.features.is_empty()), "a one-Relu model needs no feature");
    for entry in &mut manifest.backends {
        entry.features.push("x-from-the-future".to_string());
    }
    std::fs::write(&path, manifest.to_bytes().unwrap()).unwrap();
    let bundle = Bundle::open(&dir).unwrap();
    let webgpu = wdnn_runner_webgpu::WebGpuBackend::default();
    webgpu.probe().unwrap_or_else(|e| panic!("no WebGPU adapter (install mesa-vulkan-drivers): {e}"));
    let backends: [&dyn Backend; 3] =
        [&wdnn_runner_fallback::FallbackBackend, &wdnn_runner_wasm::backend::WasmBackend, &webgpu];
    for backend in backends {
        let err = bundle.load_backend(backend.name(), |_, _| {}).err().expect("a feature from the future is refused");
        assert_eq!(err.class(), Some("unsupported_feature"), "{}: {err}", backend.name());
        assert!(err.to_string().contains("x-from-the-future"), "{err}");
        let Err(err) = wdnn_runner_core::load(&bundle, &[backend], |_, _| {}) else {
            panic!("{}: loaded a bundle that needs a feature from the future", backend.name())
        };
        assert!(err.to_string().contains("`x-from-the-future`"), "{}: {err}", backend.name());
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The writer lists `packed-weights` for a wasm descriptor with packed convolution weights, and nothing for the
/// fallback descriptor of the same model.
#[test]
fn the_writer_lists_the_features_a_descriptor_needs() {
    use wdnn_descriptor_spec::{Manifest, Op};
    let mut g = wdnn_transpiler::ir::Graph::new("packed");
    let x = g.add_value("x", DType::F32, &[1, 8, 6, 6]);
    let w = g.add_constant("w", Tensor::new(&[8, 8, 3, 3], &vec![0.01f32; 576]).unwrap());
    let y = g.add_value("y", DType::F32, &[1, 8, 6, 6]);
    let conv = Op::Conv {
        group: 1,
        strides: vec![1, 1],
        dilations: vec![1, 1],
        pads: vec![1, 1, 1, 1],
        channels_last: false,
        epilogue: vec![],
    };
    g.add_node("conv", conv, &[x, w], &[y]);
    g.inputs = vec![x];
    g.outputs = vec![("y".to_string(), y)];
    let options = wdnn_transpiler::ConvertOptions {
        backends: ["fallback", "wasm"].map(String::from).to_vec(),
        zstd_level: 1,
        ..Default::default()
    };
    let (files, _) = wdnn_transpiler::convert_ir(g, b"packed", &options, |_| {}).unwrap();
    let manifest = Manifest::from_bytes(files.get("manifest.wdnn").unwrap(), "manifest").unwrap();
    let features = |name: &str| manifest.backend(name).unwrap().features.clone();
    assert_eq!(features("wasm"), vec![wdnn_descriptor_spec::PACKED_WEIGHTS.to_string()]);
    assert!(features("fallback").is_empty());
}
