//! The WebGPU target's own passes: rewrites of the weights into what this target's kernels want. Each keeps the
//! graph's meaning, so a webgpu descriptor still runs on a reference runner. The pipeline runs them in this order,
//! after the activation layout and before the memory passes (`Target::passes`).

mod matmul_layout;
mod split_k;
mod split_large_weights;
mod winograd;

pub use matmul_layout::GEMV_ROWS;
pub use split_large_weights::MAX_BINDING_BYTES;

use super::WebGpuTuning;
use crate::codegen::BackendPass;
use crate::error::ConvertError;

/// The passes, with the tuning bound.
pub(super) fn passes(tuning: &WebGpuTuning) -> Vec<BackendPass<'_>> {
    vec![
        BackendPass { name: "winograd", optional: true, run: Box::new(move |graph| winograd::run(graph, tuning)) },
        BackendPass { name: "split-k", optional: true, run: Box::new(move |graph| split_k::run(graph, tuning)) },
        BackendPass { name: "matmul-layout", optional: true, run: Box::new(matmul_layout::run) },
        BackendPass { name: "split-large-weights", optional: false, run: Box::new(split_large_weights::run) },
    ]
}

/// A converter bug found by the pass `pass`.
fn internal(pass: &str, detail: String) -> ConvertError {
    ConvertError::Internal { stage: format!("webgpu pass {pass}"), detail }
}

/// One 3×3 convolution (stride 1, pads 1) of `c` to `o` channels on a `[1, c, h, w]` input, weights of a fixed
/// pattern, then `bias` and `extra` as constant inputs where given: the graph the convolution passes' tests rewrite.
#[cfg(test)]
fn conv3x3(
    (c, o, h, w): (u64, u64, u64, u64),
    bias: Option<Vec<f32>>,
    extra: Option<wdnn_runner_core::Tensor>,
    epilogue: Vec<wdnn_descriptor_spec::EpilogueStep>,
) -> crate::ir::Graph {
    use wdnn_descriptor_spec::{DType, Op};
    use wdnn_runner_core::Tensor;
    let mut g = crate::ir::Graph::new("t");
    let x = g.add_value("x", DType::F32, &[1, c, h, w]);
    g.inputs.push(x);
    let weights: Vec<f32> = (0..(o * c * 9) as usize).map(|i| (((i * 7919) % 23) as f32 - 11.0) / 23.0).collect();
    let mut inputs = vec![x, g.add_constant("w", Tensor::new(&[o, c, 3, 3], &weights).unwrap())];
    if let Some(b) = bias {
        inputs.push(g.add_constant("b", Tensor::new(&[o], &b).unwrap()));
    }
    if let Some(t) = extra {
        inputs.push(g.add_constant("e", t));
    }
    let y = g.add_value("y", DType::F32, &[1, o, h, w]);
    let op = Op::Conv {
        group: 1,
        strides: vec![1, 1],
        dilations: vec![1, 1],
        pads: vec![1, 1, 1, 1],
        channels_last: false,
        epilogue,
    };
    g.add_node("conv", op, &inputs, &[y]);
    g.outputs.push(("y".into(), y));
    g
}

/// The relative L2 distance of `a` from `b` (f32 tensors of one shape).
#[cfg(test)]
fn rel_l2(a: &wdnn_runner_core::Tensor, b: &wdnn_runner_core::Tensor) -> f64 {
    let (a, b) = (a.to_vec::<f32>().unwrap(), b.to_vec::<f32>().unwrap());
    let diff: f64 = a.iter().zip(&b).map(|(x, y)| ((x - y) as f64).powi(2)).sum();
    let norm: f64 = b.iter().map(|y| (*y as f64).powi(2)).sum();
    (diff / norm).sqrt()
}

/// Runs `graph` on `inputs` with the reference kernels: what the passes' tests compare before and after.
#[cfg(test)]
fn evaluate(graph: &crate::ir::Graph, inputs: &[wdnn_runner_core::Tensor]) -> Vec<wdnn_runner_core::Tensor> {
    use std::collections::HashMap;
    let mut values: HashMap<crate::ir::ValueId, wdnn_runner_core::Tensor> =
        graph.inputs.iter().copied().zip(inputs.iter().cloned()).collect();
    for node in &graph.nodes {
        let ins: Vec<&wdnn_runner_core::Tensor> =
            node.inputs.iter().map(|v| graph.constant(*v).or(values.get(v)).expect("input computed")).collect();
        let specs: Vec<_> =
            node.outputs.iter().map(|&o| (graph.value(o).dtype, graph.value(o).shape.clone())).collect();
        let outs = wdnn_runner_fallback::eval(&node.op, &ins, &specs).expect("reference evaluation");
        values.extend(node.outputs.iter().copied().zip(outs));
    }
    graph.outputs.iter().map(|(_, v)| values[v].clone()).collect()
}
