//! The nine ONNX model-zoo graphs on the fallback backend: with seeded random weights against onnxruntime's
//! outputs and logits (numbers), and with their own constant weights against the ONNX reference output
//! (structure).

mod common;

use common::*;
use wdnn_runner_core::Tensor;
use wdnn_transpiler::ConvertOptions;
use wdnn_transpiler::pipeline::PassSelection;

/// Runs the random-weight copy of `name` converted with `passes` on its seeded random input.
fn run_random(name: &str, passes: PassSelection) -> Vec<Tensor> {
    let model = cache_file(&format!("zoo-random/{name}.onnx"));
    // Random weights do not compress; a fast zstd level keeps these tests quick without changing the format.
    let options = ConvertOptions { zstd_level: 3, passes, ..ConvertOptions::default() };
    let (bundle, _) = convert(&model, &options);
    let mut session = fallback_session(&bundle);
    let input = read_npy(&cache_file(&format!("zoo-random/{name}.input.npy")));
    let input_name = session.inputs()[0].name.clone();
    session.run(&[(input_name.as_str(), input)]).unwrap().into_iter().map(|(_, t)| t).collect()
}

/// Random weights: the output and, where the graph ends in a Softmax, the logits match onnxruntime (1e-4); and the
/// optimized graph matches the unoptimized one (1e-5), the optimizer's property test.
fn random_weights(name: &str) {
    let optimized = run_random(name, PassSelection::default());
    let expected = read_npy(&cache_file(&format!("zoo-random/{name}.output.npy")));
    assert_close(&format!("{name} output"), &optimized[0], &expected, 1e-4);
    if name != "densenet121" {
        let expected = read_npy(&cache_file(&format!("zoo-random/{name}.logits.npy")));
        assert_eq!(optimized.len(), 2, "{name}: the logits output is missing");
        assert_close(&format!("{name} logits"), &optimized[1], &expected, 1e-4);
    }
    let unoptimized = run_random(name, PassSelection { no_optimize: true, skip: vec![] });
    for (i, (o, u)) in optimized.iter().zip(&unoptimized).enumerate() {
        assert_close(&format!("{name} output {i}, optimized vs unoptimized"), o, u, 1e-5);
    }
}

/// The graph's own 0.02 weights: proves it loads and runs with the right shapes.
fn structure(name: &str) {
    let model = fixtures().join(format!("models/light/light_{name}.onnx"));
    let (bundle, _) = convert(&model, &ConvertOptions::default());
    let mut session = fallback_session(&bundle);
    let input = read_npy(&fixtures().join(format!("expected/light/{name}.input.npy")));
    let expected = read_npy(&fixtures().join(format!("expected/light/{name}.output.npy")));
    let input_name = session.inputs()[0].name.clone();
    let outputs = session.run(&[(input_name.as_str(), input)]).unwrap();
    let actual: Tensor = outputs[0].1.clone();
    assert_eq!(actual.shape(), expected.shape(), "{name}: output shape");
    assert_close(&format!("{name} (constant weights)"), &actual, &expected, 1e-4);
}

macro_rules! zoo_tests {
    ($($name:ident),*) => {
        mod random_weights {
            $( #[test] fn $name() { super::random_weights(stringify!($name)); } )*
        }
        mod structure {
            $( #[test] fn $name() { super::structure(stringify!($name)); } )*
        }
    };
}

zoo_tests!(bvlc_alexnet, densenet121, inception_v1, inception_v2, resnet50, shufflenet, squeezenet, vgg19, zfnet512);
