//! The WebGPU backend against the reference backend: every fixture model (the zoo graphs with their random
//! weights, MobileNetV2 on a photo, the style network at 256×256) converted for both backends and run on both,
//! within rel. L2 1e-3. Natively wgpu finds lavapipe (Mesa's software Vulkan) where there is no GPU.
//!
//! Also: a shader made invalid on purpose is caught by naga at convert time, and VGG-19's 411 MB `fc6` weight is
//! split so that no binding exceeds WebGPU's default 128 MiB.

mod common;

use std::path::Path;

use common::*;
use wdnn_runner_core::spec::{
    DType, Graph as Descriptor, IoBinding, Kernel, KernelPayload, Op, Storage, TensorDesc, UnaryFn,
};
use wdnn_runner_core::{Backend, Bundle, Session, Tensor};
use wdnn_runner_webgpu::WebGpuBackend;
use wdnn_transpiler::ConvertOptions;
use wdnn_transpiler::codegen::{Target, WebGpu};

/// Rel. L2 allowed between the backends (f32 in different summation orders).
const TOLERANCE: f64 = 1e-3;

fn webgpu_session(bundle: &Path) -> Session {
    let bundle = Bundle::open(bundle).unwrap();
    let backend = WebGpuBackend::default();
    backend.probe().unwrap_or_else(|e| panic!("no WebGPU adapter (install mesa-vulkan-drivers): {e}"));
    let order: [&dyn Backend; 1] = [&backend];
    wdnn_runner_core::load(&bundle, &order, |_, _| {}).unwrap_or_else(|e| panic!("loading on webgpu: {e}"))
}

fn both(model: &Path, input_shapes: Vec<(String, Vec<u64>)>) -> (ScratchDir, Session, Session) {
    let options = ConvertOptions {
        backends: vec!["webgpu".into(), "fallback".into()],
        zstd_level: 3,
        input_shapes,
        ..ConvertOptions::default()
    };
    let (bundle, _) = convert(model, &options);
    let gpu = webgpu_session(&bundle);
    let cpu = fallback_session(&bundle);
    (bundle, gpu, cpu)
}

fn compare(what: &str, gpu: &mut Session, cpu: &mut Session, inputs: &[(&str, Tensor)]) {
    let expected = cpu.run(inputs).unwrap();
    let actual = gpu.run(inputs).unwrap();
    for ((name, a), (_, e)) in actual.iter().zip(&expected) {
        assert_close(&format!("{what} `{name}` webgpu vs fallback"), a, e, TOLERANCE);
    }
}

fn zoo(name: &str) {
    let model = cache_file(&format!("zoo-random/{name}.onnx"));
    let (bundle, mut gpu, mut cpu) = both(&model, vec![]);
    let input = read_npy(&cache_file(&format!("zoo-random/{name}.input.npy")));
    let input_name = gpu.inputs()[0].name.clone();
    compare(name, &mut gpu, &mut cpu, &[(input_name.as_str(), input)]);
    if name == "vgg19" {
        // No binding of the webgpu descriptor exceeds WebGPU's default maxStorageBufferBindingSize.
        let (graph, _) = Bundle::open(&bundle).unwrap().load_backend("webgpu", |_, _| {}).unwrap();
        let largest = graph
            .kernels
            .iter()
            .filter_map(|k| match &k.payload {
                Some(KernelPayload::Wgsl { bindings, .. }) => {
                    bindings.iter().map(|b| graph.tensors[b.tensor as usize].byte_size()).max()
                }
                _ => None,
            })
            .max()
            .unwrap();
        assert!(largest <= 128 << 20, "a binding of {largest} bytes");
        assert!(graph.tensors.iter().any(|t| t.name.contains("/part")), "fc6 was not split");
        // Its 3×3 convolutions of 256 channels and more (11 of 16) ran as Winograd F(2×2, 3×3) against the
        // reference's direct convolutions.
        let winograd = graph.tensors.iter().filter(|t| t.name.ends_with("/winograd_m")).count();
        assert_eq!(winograd, 11, "Winograd convolutions");
    }
}

macro_rules! zoo_tests {
    ($($name:ident),*) => {
        mod zoo_random_weights {
            $( #[test] fn $name() { super::zoo(stringify!($name)); } )*
        }
    };
}

zoo_tests!(bvlc_alexnet, densenet121, inception_v1, inception_v2, resnet50, shufflenet, squeezenet, vgg19, zfnet512);

#[test]
fn mobilenetv2_on_a_photo() {
    let (_, mut gpu, mut cpu) = both(&fixtures().join("models/mobilenetv2-imagenet.onnx"), vec![]);
    let input = read_npy(&fixtures().join("expected/mobilenetv2/chelsea.input.npy"));
    compare("mobilenetv2", &mut gpu, &mut cpu, &[("input", input)]);
}

#[test]
fn style_transfer_at_256() {
    let shapes = vec![("image".into(), vec![1, 3, 256, 256]), ("style_weights".into(), vec![26])];
    let (_, mut gpu, mut cpu) = both(&fixtures().join("models/multistyle26.onnx"), shapes);
    let dir = fixtures().join("expected/multistyle26");
    let content = read_npy(&dir.join("content.input.npy"));
    let weights = read_npy(&dir.join("style9.style_weights.npy"));
    compare("style 9", &mut gpu, &mut cpu, &[("image", content), ("style_weights", weights)]);
}

/// MobileNetV2 loaded three times with one pipeline cache directory: from nothing (the file is written), from the
/// file, and from a damaged file (ignored with a warning, replaced). Every load computes the same bits.
#[test]
fn mobilenetv2_loads_again_from_the_pipeline_cache() {
    use wdnn_runner_webgpu::{PipelineCacheState, WebGpuOptions};
    let options = ConvertOptions { backends: vec!["webgpu".into()], ..ConvertOptions::default() };
    let (bundle, _) = convert(&fixtures().join("models/mobilenetv2-imagenet.onnx"), &options);
    let (graph, weights) = Bundle::open(&bundle).unwrap().load_backend("webgpu", |_, _| {}).unwrap();
    let input = read_npy(&fixtures().join("expected/mobilenetv2/chelsea.input.npy"));
    let dir = scratch("pipeline-cache");
    let backend =
        || WebGpuBackend::new(WebGpuOptions { pipeline_cache: Some(dir.to_path_buf()), ..Default::default() });
    let load = |what: &str| {
        let mut exe = backend().load_webgpu(&graph, &weights).unwrap_or_else(|e| panic!("{what}: {e}"));
        let out = wdnn_runner_core::Executable::run(&mut exe, std::slice::from_ref(&input)).unwrap();
        (exe.stats(), exe.warnings().to_vec(), out[0].bytes().to_vec())
    };
    let (cold, warnings, expected) = load("cold");
    if cold.pipeline_cache == PipelineCacheState::Unsupported {
        eprintln!("skipped: the adapter has no pipeline cache");
        return;
    }
    assert_eq!(cold.pipeline_cache, PipelineCacheState::Cold);
    assert!(warnings.is_empty(), "{warnings:?}");
    assert!(cold.distinct_pipelines >= cold.shaders && cold.shaders > 10, "{cold:?}");
    let file = std::fs::read_dir(&*dir).unwrap().next().unwrap().unwrap().path();

    let (warm, warnings, out) = load("warm");
    assert_eq!((warm.pipeline_cache, warm.cache_bytes), (PipelineCacheState::Warm, cold.cache_bytes));
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(out, expected, "the warm load computes the same bits");

    let mut bytes = std::fs::read(&file).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x55;
    std::fs::write(&file, &bytes).unwrap();
    let (damaged, warnings, out) = load("damaged");
    assert_eq!(damaged.pipeline_cache, PipelineCacheState::Rejected);
    assert!(warnings.len() == 1 && warnings[0].contains("ignored"), "{warnings:?}");
    assert_eq!(out, expected, "a damaged cache changes nothing");
    let (again, _, out) = load("repaired");
    assert_eq!(again.pipeline_cache, PipelineCacheState::Warm);
    assert_eq!(out, expected);
}

/// The wide GEMM tiles (8×8, 8×4 and 4×8 register blocks) forced onto every GEMM they fit, and the register
/// prefetch of the next K step (with wide tiles, and with the 4×4 tiles and their in-workgroup K splits), on
/// MobileNetV2 (pointwise convolutions, the classifier) and SqueezeNet (3×3 and 1×1 convolutions, partial tiles),
/// match the reference backend.
#[test]
fn wide_gemm_tiles_match_the_reference() {
    let squeezenet = cache_file("zoo-random/squeezenet.onnx");
    let squeezenet_input = read_npy(&cache_file("zoo-random/squeezenet.input.npy"));
    let mobilenet = fixtures().join("models/mobilenetv2-imagenet.onnx");
    let mobilenet_input = read_npy(&fixtures().join("expected/mobilenetv2/chelsea.input.npy"));
    for tuning in ["reg_tile=64,wide_threads=1,prefetch=1", "reg_tile=32,wide_threads=1", "prefetch=1"] {
        for (model, input) in [(&squeezenet, &squeezenet_input), (&mobilenet, &mobilenet_input)] {
            let options = ConvertOptions {
                backends: vec!["webgpu".into(), "fallback".into()],
                zstd_level: 1,
                targets: wdnn_transpiler::TargetOptions { webgpu: tuning.parse().unwrap() },
                ..ConvertOptions::default()
            };
            let (bundle, _) = convert(model, &options);
            let (mut gpu, mut cpu) = (webgpu_session(&bundle), fallback_session(&bundle));
            let name = gpu.inputs()[0].name.clone();
            let what = format!("{} with {tuning}", model.display());
            compare(&what, &mut gpu, &mut cpu, &[(name.as_str(), input.clone())]);
        }
    }
}

/// A one-kernel IR graph (Relu) and the descriptor `emit` makes of it, to drive the target's code generation.
fn relu_graph() -> (wdnn_transpiler::ir::Graph, Descriptor) {
    let mut g = wdnn_transpiler::ir::Graph::new("relu");
    let x = g.add_value("x", DType::F32, &[1, 8]);
    let y = g.add_value("y", DType::F32, &[1, 8]);
    g.inputs.push(x);
    g.add_node("relu", Op::Unary { fun: UnaryFn::Relu }, &[x], &[y]);
    g.outputs.push(("y".into(), y));
    let t = |name: &str, offset| TensorDesc {
        name: name.into(),
        dtype: DType::F32,
        shape: vec![1, 8],
        storage: Storage::Arena { offset },
    };
    let d = Descriptor {
        name: "relu".into(),
        backend: "webgpu".into(),
        tensors: vec![t("x", 0), t("y", 256)],
        inputs: vec![IoBinding { name: "x".into(), tensor: 0 }],
        outputs: vec![IoBinding { name: "y".into(), tensor: 1 }],
        kernels: vec![Kernel {
            name: "relu".into(),
            op: Op::Unary { fun: UnaryFn::Relu },
            inputs: vec![0],
            outputs: vec![1],
            payload: None,
        }],
        arena_size: 512,
        alignment: 256,
        shaders: vec![],
    };
    (g, d)
}

#[test]
fn generated_shaders_are_validated_by_naga() {
    let (g, mut d) = relu_graph();
    WebGpu::default().finish(&g, &mut d).unwrap();
    assert_eq!(d.shaders.len(), 1);
    assert!(matches!(d.kernels[0].payload, Some(KernelPayload::Wgsl { .. })));

    // The same kernel with its shader broken on purpose: a type error naga must reject, naming the kernel.
    let (g, mut d) = relu_graph();
    let broken = WebGpu::with_shader_hook(|s| *s = s.replace("var acc: f32 =", "var acc: u32 ="));
    let err = broken.finish(&g, &mut d).unwrap_err().to_string();
    assert!(err.contains("kernel `relu`") && err.contains("naga"), "{err}");
    assert!(wdnn_transpiler::codegen::webgpu::validate("fn main() { let x: f32 = 1u; }").is_err());
}

/// Sub-word values (bool, i8, u8, i16) of odd element counts, several to a 32-bit word and each next to another
/// value in the arena: predicates, Not, Where, wrapping i8 arithmetic, Casts, Concat, Transpose, Pad, GatherND and
/// BitCast (and i64 shifts, a u64 division) match the reference backend exactly, byte for byte (the graph is the
/// `packed` WGSL snapshot case).
#[test]
fn packed_sub_word_values_match_the_reference() {
    let text = include_str!("../../transpiler/tests/in/packed.ir");
    let graph = wdnn_transpiler::ir::text::parse(text).unwrap();
    let options =
        ConvertOptions { backends: vec!["webgpu".into(), "fallback".into()], zstd_level: 1, ..Default::default() };
    let (files, _) = wdnn_transpiler::convert_ir(graph, text.as_bytes(), &options, |_| {}).unwrap();
    let dir = scratch("packed");
    wdnn_transpiler::write_bundle(&files, &dir).unwrap();
    let (mut gpu, mut cpu) = (webgpu_session(&dir), fallback_session(&dir));
    let a = Tensor::new(&[7], &[1.0f32, -2.0, 3.5, 0.0, 7.0, -1.0, 2.0]).unwrap();
    let b = Tensor::new(&[7], &[0.5f32, -1.0, 3.5, 1.0, -7.0, -2.0, 9.0]).unwrap();
    let q = Tensor::new(&[5], &[100i8, -128, 7, -1, 64]).unwrap();
    let r = Tensor::new(&[5], &[100i8, -1, -9, 127, 3]).unwrap();
    let m = Tensor::new(&[3, 5], &(0..15u8).map(|v| v * 17).collect::<Vec<_>>()).unwrap();
    let k = Tensor::new(&[4], &[-5i64, -(1 << 50) - 3, 7, 9]).unwrap();
    let uk = Tensor::new(&[4], &[u64::MAX, 0xdead_beef_0123_4567, 5, 77]).unwrap();
    let inputs = [("a", a), ("b", b), ("q", q), ("r", r), ("m", m), ("k", k), ("uk", uk)];
    let expected = cpu.run(&inputs).unwrap();
    let actual = gpu.run(&inputs).unwrap();
    assert_eq!(actual.len(), 12);
    for ((name, a), (_, e)) in actual.iter().zip(&expected) {
        assert_eq!((a.dtype(), a.shape()), (e.dtype(), e.shape()), "`{name}`");
        assert_eq!(a.bytes(), e.bytes(), "`{name}` webgpu vs fallback");
    }
    // The i8 sums wrapped: 100 + 100 = -56, and -56 · 100 = -5600 ≡ 32 (mod 256).
    assert_eq!(expected[2].1.to_vec::<f32>().unwrap()[0], 32.0);
}
