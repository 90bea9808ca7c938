//! `split-k`: a dense 2-D convolution whose implicit GEMM gives too few invocations to fill a large GPU (fewer
//! than [`WebGpuTuning::split_threads`]) is split along its input channels into `parts` of at least 256 of K: one
//! grouped convolution computes every part's partial sums at once, a Reshape and a ReduceSum add them, and an
//! Elementwise adds the bias and applies the original epilogue.
//!
//! Only convolutions with a constant weight (and bias), batch 1 and NCHW activations are split; the result computes
//! the same values in another summation order. It is an optimization and may be skipped.

use wdnn_descriptor_spec::{EpilogueStep, Op, op};
use wdnn_runner_core::Tensor;

use super::internal;
use crate::codegen::webgpu::WebGpuTuning;
use crate::codegen::webgpu::gemm::gemm_threads;
use crate::error::ConvertError;
use crate::ir::{Graph, Node};
use crate::passes::PassStats;

const PASS: &str = "split-k";

pub(super) fn run(graph: &mut Graph, tuning: &WebGpuTuning) -> Result<PassStats, ConvertError> {
    let nodes = std::mem::take(&mut graph.nodes);
    let mut out = Vec::with_capacity(nodes.len());
    let mut split = 0;
    for node in nodes {
        match conv_split(graph, &node, tuning) {
            Some(parts) => {
                split_conv(graph, node, parts, &mut out)?;
                split += 1;
            }
            None => out.push(node),
        }
    }
    graph.nodes = out;
    Ok(PassStats::one("convolutions split along K", split))
}

/// How many parts to split a convolution's input channels into, when its GEMM gives too few invocations to fill a
/// large GPU: a dense 2-D convolution with a constant weight and a large K.
fn conv_split(graph: &Graph, node: &Node, tuning: &WebGpuTuning) -> Option<u64> {
    let Op::Conv { group: 1, channels_last: false, .. } = &node.op else {
        return None;
    };
    let w = graph.constant(*node.inputs.get(1)?)?;
    if node.op.bias_input(node.inputs.len()).is_some_and(|b| graph.constant(node.inputs[b]).is_none()) {
        return None;
    }
    let (x, y) = (graph.value(node.inputs[0]), graph.value(*node.outputs.first()?));
    if w.shape().len() != 4 || x.shape.len() != 4 || y.shape.len() != 4 || x.shape[0] != 1 {
        return None;
    }
    let (o, c, kk) = (w.shape()[0], w.shape()[1], w.shape()[2] * w.shape()[3]);
    let (m, n, k) = (o, y.shape[2] * y.shape[3], c * kk);
    let few = tuning.split_threads;
    let before = gemm_threads(m, n, k, 1, tuning);
    if before >= few || k < 512 {
        return None;
    }
    let mut best = None;
    for parts in [2u64, 4, 8, 16] {
        if c % parts != 0 || k / parts < 256 {
            break;
        }
        let threads = gemm_threads(m, n, k / parts, parts, tuning);
        if threads > before * 3 / 2 {
            best = Some(parts);
        }
        if threads >= few {
            break;
        }
    }
    best
}

/// Splits a convolution along its input channels: one grouped convolution computes every part's partial sums at
/// once (`parts` times the invocations), a Reshape and a ReduceSum add them, and an Elementwise adds the bias and
/// applies the epilogue.
fn split_conv(graph: &mut Graph, node: Node, parts: u64, out: &mut Vec<Node>) -> Result<(), ConvertError> {
    let Op::Conv { strides, dilations, pads, epilogue, .. } = node.op.clone() else {
        return Err(internal(PASS, "split of a non-Conv".into()));
    };
    let w =
        graph.constant(node.inputs[1]).cloned().ok_or_else(|| internal(PASS, "conv weight is not constant".into()))?;
    let s = w.shape().to_vec();
    let (o, c, kk) = (s[0] as usize, s[1] as usize, (s[2] * s[3]) as usize);
    let cp = c / parts as usize;
    let size = w.dtype().size();
    let src = w.bytes();
    let mut bytes = Vec::with_capacity(src.len());
    for p in 0..parts as usize {
        for oo in 0..o {
            let from = (oo * c + p * cp) * kk * size;
            bytes.extend_from_slice(&src[from..from + cp * kk * size]);
        }
    }
    let w2 = Tensor::from_bytes(w.dtype(), &[parts * o as u64, cp as u64, s[2], s[3]], bytes)
        .map_err(|e| internal(PASS, e.to_string()))?;
    let w_id = graph.add_constant(&format!("{}/split{parts}", graph.value(node.inputs[1]).name), w2);
    let y = node.outputs[0];
    let (dtype, y_shape) = (graph.value(y).dtype, graph.value(y).shape.clone());
    let (h, wd) = (y_shape[2], y_shape[3]);
    let partial = graph.add_value(&format!("{}/partial", node.name), dtype, &[1, parts * o as u64, h, wd]);
    out.push(Node {
        name: format!("{}/parts", node.name),
        op: Op::Conv { group: parts as u32, strides, dilations, pads, channels_last: false, epilogue: vec![] },
        inputs: vec![node.inputs[0], w_id],
        outputs: vec![partial],
    });
    let stacked = graph.add_value(&format!("{}/stacked", node.name), dtype, &[1, parts, o as u64, h, wd]);
    out.push(Node {
        name: format!("{}/stack", node.name),
        op: Op::Reshape,
        inputs: vec![partial],
        outputs: vec![stacked],
    });
    let bias = op::bias_input(&epilogue, node.inputs.len()).map(|i| node.inputs[i]);
    if bias.is_none() && epilogue.is_empty() {
        out.push(Node {
            name: format!("{}/sum", node.name),
            op: Op::Reduce { fun: wdnn_descriptor_spec::ReduceFn::Sum, axes: vec![1] },
            inputs: vec![stacked],
            outputs: vec![y],
        });
        return Ok(());
    }
    let summed = graph.add_value(&format!("{}/summed", node.name), dtype, &y_shape);
    out.push(Node {
        name: format!("{}/sum", node.name),
        op: Op::Reduce { fun: wdnn_descriptor_spec::ReduceFn::Sum, axes: vec![1] },
        inputs: vec![stacked],
        outputs: vec![summed],
    });
    let mut inputs = vec![summed];
    let mut steps = Vec::new();
    if let Some(b) = bias {
        let t = graph.constant(b).cloned().ok_or_else(|| internal(PASS, "conv bias is not constant".into()))?;
        let t = t.reshaped(&[o as u64, 1, 1]).map_err(|e| internal(PASS, e.to_string()))?;
        let id = graph.add_constant(&format!("{}/chw", graph.value(b).name), t);
        inputs.push(id);
        steps.push(EpilogueStep::Binary { fun: wdnn_descriptor_spec::BinaryFn::Add, operand: 1, operand_first: false });
    }
    for step in epilogue {
        steps.push(match step {
            EpilogueStep::Binary { fun, operand, operand_first } => {
                let v = *node
                    .inputs
                    .get(operand as usize)
                    .ok_or_else(|| internal(PASS, "epilogue operand out of range".into()))?;
                inputs.push(v);
                EpilogueStep::Binary { fun, operand: inputs.len() as u32 - 1, operand_first }
            }
            other => other,
        });
    }
    out.push(Node { name: format!("{}/epilogue", node.name), op: Op::Elementwise { steps }, inputs, outputs: vec![y] });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::rel_l2;
    use super::*;
    use wdnn_descriptor_spec::{BinaryFn, UnaryFn};

    /// A 3×3 convolution of 512 channels on a 4×4 image (K = 4608, a GEMM of 16×16): far too few invocations.
    fn deep_conv(epilogue: Vec<EpilogueStep>, extra: Option<Tensor>) -> Graph {
        super::super::conv3x3((512, 16, 4, 4), Some((0..16).map(|i| i as f32).collect()), extra, epilogue)
    }

    #[test]
    fn splits_a_deep_convolution_keeping_its_values() {
        let x = Tensor::new(&[1, 512, 4, 4], &(0..8192).map(|i| ((i % 17) as f32 - 8.0) / 17.0).collect::<Vec<_>>());
        let x = x.unwrap();
        let per_channel = Tensor::new(&[16, 1, 1], &(0..16).map(|i| 1.0 + i as f32 / 16.0).collect::<Vec<_>>());
        let epilogue = vec![
            EpilogueStep::Binary { fun: BinaryFn::Mul, operand: 3, operand_first: false },
            EpilogueStep::Unary { fun: UnaryFn::Relu },
        ];
        let original = deep_conv(epilogue, Some(per_channel.unwrap()));
        let mut g = original.clone();
        let stats = run(&mut g, &WebGpuTuning::default()).unwrap();
        assert_eq!(stats, PassStats::one("convolutions split along K", 1));
        let ops: Vec<&str> = g.nodes.iter().map(|n| n.op.name()).collect();
        assert_eq!(ops, ["Conv", "Reshape", "Reduce", "Elementwise"]);
        assert!(matches!(g.nodes[0].op, Op::Conv { group, .. } if group > 1));
        crate::ir::verify(&g).unwrap();
        let evaluate = super::super::evaluate;
        let (before, after) = (evaluate(&original, std::slice::from_ref(&x)), evaluate(&g, &[x]));
        assert!(before[0].to_vec::<f32>().unwrap().iter().filter(|&&v| v > 0.0).count() > 64, "a test of zeros");
        let err = rel_l2(&after[0], &before[0]);
        assert!(err < 1e-5, "rel L2 {err:e}");
    }

    #[test]
    fn the_tuning_decides_what_is_too_few() {
        let mut g = deep_conv(vec![], None);
        let tuning = WebGpuTuning { split_threads: 1, ..WebGpuTuning::default() };
        assert_eq!(run(&mut g, &tuning).unwrap(), PassStats::one("convolutions split along K", 0));
        assert_eq!(g.nodes.len(), 1);
    }
}
