//! The trained fixture models on the fallback backend against onnxruntime: MobileNetV2 on five photos (f32 and
//! int8 weights) and the style-transfer network on three styles.

mod common;

use common::*;
use wdnn_transpiler::Layout;
use wdnn_transpiler::{ConvertOptions, WeightFormat};

const PHOTOS: [&str; 5] = ["chelsea", "coffee", "camera", "china", "motorcycle_left"];

fn mobilenet() -> std::path::PathBuf {
    fixtures().join("models/mobilenetv2-imagenet.onnx")
}

#[test]
fn mobilenetv2_matches_onnxruntime_on_five_photos() {
    let (bundle, _) = convert(&mobilenet(), &ConvertOptions::default());
    let mut session = fallback_session(&bundle);
    for photo in PHOTOS {
        let input = read_npy(&fixtures().join(format!("expected/mobilenetv2/{photo}.input.npy")));
        let expected = read_npy(&fixtures().join(format!("expected/mobilenetv2/{photo}.logits.npy")));
        let outputs = session.run(&[("input", input)]).unwrap();
        assert_close(&format!("mobilenetv2 {photo}"), &outputs[0].1, &expected, 1e-4);
    }
}

#[test]
fn mobilenetv2_int8_agrees_with_f32_and_is_small() {
    let options = ConvertOptions { weights: WeightFormat::Int8, ..ConvertOptions::default() };
    let (bundle, summary) = convert(&mobilenet(), &options);
    let ratio = summary.bundle_bytes as f64 / summary.onnx_bytes as f64;
    eprintln!("int8 bundle {} bytes / ONNX {} bytes = {ratio:.4}", summary.bundle_bytes, summary.onnx_bytes);
    assert!(ratio <= 0.3, "int8 bundle is {ratio:.3}× the ONNX file");
    let mut session = fallback_session(&bundle);
    for photo in PHOTOS {
        let input = read_npy(&fixtures().join(format!("expected/mobilenetv2/{photo}.input.npy")));
        let expected = read_npy(&fixtures().join(format!("expected/mobilenetv2/{photo}.logits.npy")));
        let outputs = session.run(&[("input", input)]).unwrap();
        let (int8, f32) = (outputs[0].1.to_vec::<f32>().unwrap(), expected.to_vec::<f32>().unwrap());
        eprintln!(
            "{photo}: int8 top-1 {} f32 top-1 {} (rel L2 {:.3e})",
            argmax(&int8),
            argmax(&f32),
            rel_l2(&int8, &f32)
        );
        assert_eq!(argmax(&int8), argmax(&f32), "{photo}: int8 top-1 differs from f32");
    }
}

#[test]
fn style_transfer_matches_onnxruntime_on_three_styles() {
    let model = fixtures().join("models/multistyle26.onnx");
    let options = ConvertOptions {
        input_shapes: vec![("image".into(), vec![1, 3, 256, 256]), ("style_weights".into(), vec![26])],
        ..ConvertOptions::default()
    };
    let (bundle, _) = convert(&model, &options);
    let mut session = fallback_session(&bundle);
    let dir = fixtures().join("expected/multistyle26");
    let content = read_npy(&dir.join("content.input.npy"));
    for style in [0, 9, 21] {
        let weights = read_npy(&dir.join(format!("style{style}.style_weights.npy")));
        let expected = read_npy(&dir.join(format!("style{style}.output.npy")));
        let outputs = session.run(&[("image", content.clone()), ("style_weights", weights)]).unwrap();
        assert_close(&format!("style {style}"), &outputs[0].1, &expected, 1e-4);
    }
}

/// The layout hook: every spatial op in NHWC, transposes only where layouts meet; the numbers do not change.
#[test]
fn nhwc_activation_layout_keeps_the_numbers() {
    let options = ConvertOptions { layout: Some(Layout::ChannelsLast), ..ConvertOptions::default() };
    let (bundle, summary) = convert(&mobilenet(), &options);
    let transposes: usize = summary.backends[0].census.iter().filter(|(op, _)| op == "Transpose").map(|(_, n)| n).sum();
    eprintln!("mobilenetv2 NHWC: {} kernels, {transposes} transposes", summary.backends[0].kernels);
    assert!(transposes <= 2, "{transposes} transposes left");
    let mut session = fallback_session(&bundle);
    let input = read_npy(&fixtures().join("expected/mobilenetv2/chelsea.input.npy"));
    let expected = read_npy(&fixtures().join("expected/mobilenetv2/chelsea.logits.npy"));
    let outputs = session.run(&[("input", input)]).unwrap();
    assert_close("mobilenetv2 NHWC", &outputs[0].1, &expected, 1e-4);
}
