//! Which weights may be stored lossily (`WeightFormat::F16`, `WeightFormat::Int8`), and along which axis int8 scales
//! run: the large f32 weights of Conv, ConvTranspose and MatMul, per output channel. Biases, small tensors and every
//! other constant stay exact, so a lossy bundle only rounds the values that dominate its size. Weights in a packed
//! layout (the wasm descriptor's, SPEC §6.2) also stay exact.

use std::collections::HashMap;

use wdnn_descriptor_spec::{DType, Op};

use crate::ir::{Graph, ValueId};

/// Only weights at least this large are compressed lossily.
pub const LOSSY_MIN_ELEMENTS: u64 = 1024;

/// The output-channel axis of each large f32 weight of a Conv, ConvTranspose or MatMul: where lossy encodings
/// apply, and along which axis int8 scales run.
pub fn lossy_axes(graph: &Graph) -> HashMap<ValueId, usize> {
    let mut axes = HashMap::new();
    for node in &graph.nodes {
        for (slot, &input) in node.inputs.iter().enumerate() {
            let value = graph.value(input);
            // Packed weights (the wasm descriptor's) stay exact: their layout has no output-channel axis.
            let packed = graph.packed_layout(input).is_some();
            if value.constant.is_none() || value.dtype != DType::F32 || value.numel() < LOSSY_MIN_ELEMENTS || packed {
                continue;
            }
            let rank = value.shape.len();
            let axis = match (&node.op, slot) {
                (Op::Conv { .. }, 1) => 0,
                (Op::ConvTranspose { .. }, 1) => 1,
                (Op::MatMul { transpose_b, .. }, 1) if rank >= 2 => rank - if *transpose_b { 2 } else { 1 },
                (Op::MatMul { transpose_a, .. }, 0) if rank >= 2 => rank - if *transpose_a { 1 } else { 2 },
                _ => continue,
            };
            axes.entry(input).or_insert(axis);
        }
    }
    axes
}

#[cfg(test)]
mod tests {
    use super::*;
    use wdnn_runner_core::Tensor;

    #[test]
    fn large_conv_and_matmul_weights_by_output_channel() {
        let mut g = Graph::new("t");
        let zeros = |shape: &[u64]| Tensor::new(shape, &vec![0f32; shape.iter().product::<u64>() as usize]).unwrap();
        let x = g.add_value("x", DType::F32, &[1, 64, 8, 8]);
        let w = g.add_constant("w", zeros(&[32, 64, 1, 1]));
        let b = g.add_constant("b", zeros(&[32]));
        let y = g.add_value("y", DType::F32, &[1, 32, 8, 8]);
        let conv = Op::Conv {
            group: 1,
            strides: vec![1, 1],
            dilations: vec![1, 1],
            pads: vec![0; 4],
            channels_last: false,
            epilogue: vec![],
        };
        g.add_node("conv", conv, &[x, w, b], &[y]);
        let (a, fc, small) = (
            g.add_value("a", DType::F32, &[2, 64]),
            g.add_constant("fc", zeros(&[32, 64])),
            g.add_constant("s", zeros(&[64, 4])),
        );
        let z = g.add_value("z", DType::F32, &[2, 32]);
        g.add_node("fc", Op::MatMul { transpose_a: false, transpose_b: true, epilogue: vec![] }, &[a, fc], &[z]);
        let z2 = g.add_value("z2", DType::F32, &[2, 4]);
        g.add_node(
            "small",
            Op::MatMul { transpose_a: false, transpose_b: false, epilogue: vec![] },
            &[a, small],
            &[z2],
        );
        let axes = lossy_axes(&g);
        assert_eq!(axes.get(&w), Some(&0));
        assert_eq!(axes.get(&fc), Some(&0), "[N, K]: the output channels are axis 0");
        assert_eq!(axes.get(&b), None, "biases stay exact");
        assert_eq!(axes.get(&small), None, "fewer than {LOSSY_MIN_ELEMENTS} elements");
    }
}
