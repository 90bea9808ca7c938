//! Bad input gets a clear error naming the problem, never a panic.

mod common;

use common::*;
use wdnn_runner_core::{Bundle, RunnerError, Tensor};
use wdnn_transpiler::{ConvertError, ConvertOptions};

fn errors_dir() -> std::path::PathBuf {
    fixtures().join("models/errors")
}

#[test]
fn unsupported_ops_are_listed_together_with_their_nodes() {
    let out = scratch("unsupported");
    let err =
        wdnn_transpiler::convert(&errors_dir().join("unsupported_ops.onnx"), &out, &ConvertOptions::default(), |_| {})
            .unwrap_err();
    let ConvertError::UnsupportedOps { ops, .. } = &err else { panic!("unexpected error: {err}") };
    // The ops are in a vendor domain (`com.example`): the domain is named, so an op type that ONNX also has is not
    // mistaken for ONNX's.
    let names: Vec<&str> = ops.iter().map(|u| u.op.as_str()).collect();
    let not_ours = "in domain `com.example` (a domain wdnn does not implement)";
    assert_eq!(names, [format!("AlsoMissing {not_ours}"), format!("FancyOp {not_ours}")], "{err}");
    assert_eq!(ops[1].nodes, ["fancy_1", "fancy_2"]);
    let text = err.to_string();
    assert!(text.contains("missing_1") && text.contains("unsupported_ops.onnx"), "{text}");
}

#[test]
fn an_op_in_an_undeclared_domain_is_refused_with_its_domain_and_node() {
    // `Relu` in `org.nowhere`, which no opset import declares: tract looks ops up by type alone and took it for
    // ONNX's Relu.
    let out = scratch("domain");
    let err =
        wdnn_transpiler::convert(&errors_dir().join("unknown_domain.onnx"), &out, &ConvertOptions::default(), |_| {})
            .unwrap_err();
    let ConvertError::UnsupportedOps { ops, .. } = &err else { panic!("unexpected error: {err}") };
    assert_eq!(ops.len(), 1, "{err}");
    assert_eq!(ops[0].op, "Relu in domain `org.nowhere` (not declared in the model's opset imports)");
    assert_eq!(ops[0].nodes, ["relu_elsewhere"]);
}

#[test]
fn malformed_and_missing_onnx_files_are_clear_errors() {
    for (file, says) in [
        ("truncated.onnx", "buffer underflow"),
        ("empty.onnx", "the file is empty"),
        ("inconsistent_shapes.onnx", "\"mm\""),
        ("does_not_exist.onnx", "cannot read the model"),
    ] {
        let out = scratch("malformed");
        let err =
            wdnn_transpiler::convert(&errors_dir().join(file), &out, &ConvertOptions::default(), |_| {}).unwrap_err();
        let kind_ok = match file {
            "does_not_exist.onnx" => matches!(err, ConvertError::Read { .. }),
            _ => matches!(err, ConvertError::Onnx { .. }),
        };
        assert!(kind_ok, "{file}: {err:?}");
        let text = err.to_string();
        assert!(text.contains(file) && text.contains(says), "{file}: {text}");
        // tract's errors are shown as their chain of causes, never in the Debug form that carries a backtrace.
        assert!(!text.contains("backtrace") && !text.contains("src/"), "{file}: {text}");
    }
}

#[test]
fn symbolic_input_asks_for_a_static_shape() {
    let out = scratch("symbolic");
    let err = wdnn_transpiler::convert(
        &fixtures().join("models/multistyle26.onnx"),
        &out,
        &ConvertOptions::default(),
        |_| {},
    )
    .unwrap_err();
    assert!(matches!(&err, ConvertError::SymbolicInput { input, .. } if input == "image"), "{err}");
    assert!(err.to_string().contains("image=D0,D1,..."), "{err}");
}

#[test]
fn session_checks_input_names_dtypes_and_shapes() {
    let (bundle, _) = convert(&errors_dir().join("tiny_gemm.onnx"), &ConvertOptions::default());
    let mut session = fallback_session(&bundle);
    let good = Tensor::new(&[2, 4], &[0.5f32; 8]).unwrap();
    assert!(session.run(&[("x", good.clone())]).is_ok());
    let wrong_shape = Tensor::new(&[4, 2], &[0.5f32; 8]).unwrap();
    let err = session.run(&[("x", wrong_shape)]).unwrap_err();
    assert!(matches!(err, RunnerError::InputShape { .. }), "{err}");
    assert_eq!(err.to_string(), "input `x` has shape [4, 2], the model expects [2, 4]");
    let wrong_dtype = Tensor::new(&[2, 4], &[1i64; 8]).unwrap();
    let err = session.run(&[("x", wrong_dtype)]).unwrap_err();
    assert!(matches!(err, RunnerError::InputDType { .. }), "{err}");
    assert_eq!(err.to_string(), "input `x` has dtype i64, the model expects f32");
    let err = session.run(&[("nope", good.clone())]).unwrap_err();
    assert!(matches!(err, RunnerError::BadInput { .. }), "{err}");
    assert_eq!(err.to_string(), "input `nope`: the model has no such input (its inputs: `x`)");
    assert!(matches!(session.run(&[]), Err(RunnerError::BadInput { .. })));
}

#[test]
fn corrupted_bundle_files_are_detected_at_load() {
    let (bundle, _) = convert(&errors_dir().join("tiny_gemm.onnx"), &ConvertOptions::default());
    let weights = bundle.join("fallback.weights.wdnn");
    let mut bytes = std::fs::read(&weights).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&weights, &bytes).unwrap();
    let opened = Bundle::open(&bundle).unwrap();
    let err = opened.load_backend("fallback", |_, _| {}).err().unwrap();
    assert!(err.to_string().contains("fallback.weights.wdnn"), "{err}");
    std::fs::write(&weights, &bytes[..bytes.len() - 5]).unwrap();
    let err = opened.load_backend("fallback", |_, _| {}).err().unwrap();
    assert!(err.to_string().contains("truncated"), "{err}");
    assert!(matches!(opened.load_backend("webgpu", |_, _| {}), Err(RunnerError::MissingDescriptor { .. })));
}

#[test]
fn tiny_gemm_numbers() {
    let (bundle, _) = convert(&errors_dir().join("tiny_gemm.onnx"), &ConvertOptions::default());
    let mut session = fallback_session(&bundle);
    // W and b are seeded random in make_error_models.py; check the structure y = relu(x W + b) against a
    // recomputation from the bundle's own weights file.
    let opened = Bundle::open(&bundle).unwrap();
    let (_, weights) = opened.load_backend("fallback", |_, _| {}).unwrap();
    let w = weights.index.tensors.iter().position(|t| t.shape == [4, 3]).expect("W");
    let b = weights.index.tensors.iter().position(|t| t.shape.iter().product::<u64>() == 3).expect("b");
    let w = weights.tensor(w as u32).unwrap().to_vec::<f32>().unwrap();
    let b = weights.tensor(b as u32).unwrap().to_vec::<f32>().unwrap();
    let x: Vec<f32> = (0..8).map(|i| i as f32 / 4.0 - 1.0).collect();
    let out = session.run(&[("x", Tensor::new(&[2, 4], &x).unwrap())]).unwrap();
    let y = out[0].1.to_vec::<f32>().unwrap();
    for r in 0..2 {
        for c in 0..3 {
            let v: f32 = (0..4).map(|k| x[r * 4 + k] * w[k * 3 + c]).sum::<f32>() + b[c];
            assert!((y[r * 3 + c] - v.max(0.0)).abs() < 1e-5, "y[{r},{c}] = {} expected {}", y[r * 3 + c], v.max(0.0));
        }
    }
}
