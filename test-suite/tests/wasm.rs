//! The wasm backend (runner-wasm's SIMD kernels, natively on SSE2) against the reference backend: every fixture
//! model (the zoo graphs with their random weights, MobileNetV2 on the photos, the style network at 256×256)
//! converted for both backends and run on both, within rel. L2 1e-4; and MobileNetV2 calls chelsea.png an
//! Egyptian cat on the wasm backend.

mod common;

use std::path::Path;

use common::*;
use wdnn_runner_core::{Backend, Bundle, Session, Tensor};
use wdnn_runner_wasm::backend::WasmBackend;
use wdnn_transpiler::ConvertOptions;

/// Rel. L2 allowed between the backends (f32 in different summation orders, Winograd, vector transcendentals).
const TOLERANCE: f64 = 1e-4;

fn wasm_session(bundle: &Path) -> Session {
    let bundle = Bundle::open(bundle).unwrap();
    let order: [&dyn Backend; 1] = [&WasmBackend];
    wdnn_runner_core::load(&bundle, &order, |_, _| {}).unwrap_or_else(|e| panic!("loading on wasm: {e}"))
}

fn both(model: &Path, input_shapes: Vec<(String, Vec<u64>)>) -> (ScratchDir, Session, Session) {
    let options = ConvertOptions {
        backends: vec!["fallback".into(), "wasm".into()],
        zstd_level: 3,
        input_shapes,
        ..ConvertOptions::default()
    };
    let (bundle, _) = convert(model, &options);
    let wasm = wasm_session(&bundle);
    let cpu = fallback_session(&bundle);
    (bundle, wasm, cpu)
}

fn compare(what: &str, wasm: &mut Session, cpu: &mut Session, inputs: &[(&str, Tensor)]) {
    let expected = cpu.run(inputs).unwrap();
    let actual = wasm.run(inputs).unwrap();
    for ((name, a), (_, e)) in actual.iter().zip(&expected) {
        assert_close(&format!("{what} `{name}` wasm vs fallback"), a, e, TOLERANCE);
    }
    // A second run on the same arena gives the same numbers.
    let again = wasm.run(inputs).unwrap();
    assert_eq!(again, actual, "{what}: a second run differs");
}

/// Most kernels of the wasm descriptor run on fast kernels, and every convolution does.
fn check_report(what: &str, bundle: &Path) {
    let bundle = Bundle::open(bundle).unwrap();
    let (graph, weights) = bundle.load_backend("wasm", |_, _| {}).unwrap();
    let report = WasmBackend.load_executable(&graph, &weights).unwrap().report();
    let slow: Vec<_> =
        report.iter().filter(|r| r.path == "reference").map(|r| format!("{} ({})", r.kernel, r.op)).collect();
    eprintln!("{what}: {} kernels, on the reference: {}", report.len(), slow.join(", "));
    for r in &report {
        assert!(r.op != "Conv" || r.path.starts_with("conv"), "{what}: convolution `{}` runs on {}", r.kernel, r.path);
    }
}

fn zoo(name: &str) {
    let model = cache_file(&format!("zoo-random/{name}.onnx"));
    let (bundle, mut wasm, mut cpu) = both(&model, vec![]);
    let input = read_npy(&cache_file(&format!("zoo-random/{name}.input.npy")));
    let input_name = wasm.inputs()[0].name.clone();
    compare(name, &mut wasm, &mut cpu, &[(input_name.as_str(), input)]);
    check_report(name, &bundle);
}

macro_rules! zoo_tests {
    ($($name:ident),*) => {
        mod zoo {
            $( #[test] fn $name() { super::zoo(stringify!($name)); } )*
        }
    };
}

zoo_tests!(bvlc_alexnet, densenet121, inception_v1, inception_v2, resnet50, shufflenet, squeezenet, vgg19, zfnet512);

#[test]
fn mobilenetv2_on_five_photos_and_chelsea_is_an_egyptian_cat() {
    let (bundle, mut wasm, mut cpu) = both(&fixtures().join("models/mobilenetv2-imagenet.onnx"), vec![]);
    for photo in ["chelsea", "coffee", "camera", "china", "motorcycle_left"] {
        let input = read_npy(&fixtures().join(format!("expected/mobilenetv2/{photo}.input.npy")));
        compare(&format!("mobilenetv2 {photo}"), &mut wasm, &mut cpu, &[("input", input)]);
    }
    let input = read_npy(&fixtures().join("expected/mobilenetv2/chelsea.input.npy"));
    let logits = wasm.run(&[("input", input)]).unwrap()[0].1.to_vec::<f32>().unwrap();
    // ImageNet class 285 is "Egyptian cat".
    assert_eq!(argmax(&logits), 285, "chelsea.png's top-1 class on the wasm backend");
    check_report("mobilenetv2", &bundle);
}

#[test]
fn style_transfer_at_256() {
    let model = fixtures().join("models/multistyle26.onnx");
    let shapes = vec![("image".into(), vec![1, 3, 256, 256]), ("style_weights".into(), vec![26])];
    let (_, mut wasm, mut cpu) = both(&model, shapes);
    let dir = fixtures().join("expected/multistyle26");
    let content = read_npy(&dir.join("content.input.npy"));
    let weights = read_npy(&dir.join("style9.style_weights.npy"));
    compare("style 9", &mut wasm, &mut cpu, &[("image", content), ("style_weights", weights)]);
}

/// Kernels split across threads (scoped threads natively, the Worker pool in the threaded wasm32 module) compute
/// every output value on one thread in one order: MobileNetV2 on three threads equals one thread bit for bit.
#[test]
fn mobilenetv2_on_three_threads_equals_one_thread_bit_for_bit() {
    let (bundle, _, _) = both(&fixtures().join("models/mobilenetv2-imagenet.onnx"), vec![]);
    let (graph, weights) = Bundle::open(&bundle).unwrap().load_backend("wasm", |_, _| {}).unwrap();
    let mut one = WasmBackend.load_executable(&graph, &weights).unwrap();
    let mut three = WasmBackend.load_executable(&graph, &weights).unwrap();
    three.set_threads(3);
    let input = read_npy(&fixtures().join("expected/mobilenetv2/chelsea.input.npy"));
    let expected = wdnn_runner_core::Executable::run(&mut one, std::slice::from_ref(&input)).unwrap();
    let actual = wdnn_runner_core::Executable::run(&mut three, std::slice::from_ref(&input)).unwrap();
    assert_eq!(actual, expected, "MobileNetV2 on 3 threads differs from 1 thread");
}
