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
