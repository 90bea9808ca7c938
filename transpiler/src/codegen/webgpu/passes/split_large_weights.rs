//! `split-large-weights`: a MatMul whose constant two-dimensional `B` is larger than [`MAX_BINDING_BYTES`]
//! (WebGPU's default `maxStorageBufferBindingSize`) is split along N into MatMuls of at most that size each; a Concat
//! along the last axis joins their results (a view-concat where the concat pass can make one), and an `Elementwise`
//! node after it applies the original epilogue. `B` is split in whichever layout `matmul-layout` left it.
//!
//! So every binding of a webgpu descriptor fits an adapter with WebGPU's default limits: VGG-19's 411 MB `fc6`
//! weight becomes four MatMuls of 103 MB. That is a guarantee of the descriptor, so this pass cannot be skipped.

use wdnn_descriptor_spec::{EpilogueStep, Op, op};
use wdnn_runner_core::Tensor;

use super::internal;
use crate::error::ConvertError;
use crate::ir::{Graph, Node, ValueId};
use crate::passes::PassStats;

/// WebGPU's default `maxStorageBufferBindingSize`: 128 MiB.
pub const MAX_BINDING_BYTES: u64 = 128 << 20;

const PASS: &str = "split-large-weights";

pub(super) fn run(graph: &mut Graph) -> Result<PassStats, ConvertError> {
    let nodes = std::mem::take(&mut graph.nodes);
    let mut out = Vec::with_capacity(nodes.len());
    let mut split_weights = 0;
    for node in nodes {
        let large = match (&node.op, node.inputs.get(1).and_then(|&b| graph.constant(b))) {
            (Op::MatMul { transpose_b, .. }, Some(w)) if w.shape().len() == 2 => {
                (w.bytes().len() as u64 > MAX_BINDING_BYTES).then(|| (w.clone(), *transpose_b))
            }
            _ => None,
        };
        match large {
            Some((weight, nk)) => {
                split(graph, node, &weight, nk, &mut out)?;
                split_weights += 1;
            }
            None => out.push(node),
        }
    }
    graph.nodes = out;
    Ok(PassStats::one("weights split", split_weights))
}

/// Rows `start..end` of a 2-D tensor.
fn rows(t: &Tensor, start: usize, end: usize) -> Result<Tensor, ConvertError> {
    let c = t.shape()[1] as usize;
    let size = t.dtype().size();
    let bytes = t.bytes()[start * c * size..end * c * size].to_vec();
    Tensor::from_bytes(t.dtype(), &[(end - start) as u64, c as u64], bytes).map_err(|e| internal(PASS, e.to_string()))
}

/// Elements `start..end` along the last axis of a tensor.
fn last_axis(t: &Tensor, start: usize, end: usize) -> Result<Tensor, ConvertError> {
    let shape = t.shape();
    let n = *shape.last().unwrap_or(&1) as usize;
    let size = t.dtype().size();
    let mut bytes = Vec::new();
    for row in t.bytes().chunks(n * size) {
        bytes.extend_from_slice(&row[start * size..end * size]);
    }
    let mut out_shape = shape.to_vec();
    if let Some(last) = out_shape.last_mut() {
        *last = (end - start) as u64;
    }
    Tensor::from_bytes(t.dtype(), &out_shape, bytes).map_err(|e| internal(PASS, e.to_string()))
}

/// Replaces a MatMul whose constant weight (already in its final layout, `[N, K]` when `nk`) is too large for one
/// binding by MatMuls over column ranges of N, a Concat and, if the MatMul had an epilogue, an Elementwise.
fn split(graph: &mut Graph, node: Node, weight: &Tensor, nk: bool, out: &mut Vec<Node>) -> Result<(), ConvertError> {
    let Op::MatMul { transpose_a, transpose_b, epilogue } = node.op.clone() else {
        return Err(internal(PASS, "split of a non-MatMul".into()));
    };
    let y = node.outputs[0];
    let y_shape = graph.value(y).shape.clone();
    let dtype = graph.value(y).dtype;
    let n = *y_shape.last().ok_or_else(|| internal(PASS, "MatMul output of rank 0".into()))? as usize;
    let bytes_per_col = weight.bytes().len() as u64 / n.max(1) as u64;
    let parts = (weight.bytes().len() as u64).div_ceil(MAX_BINDING_BYTES) as usize;
    let cols_per_part = n.div_ceil(parts);
    // Keep column ranges a multiple of 64 wide so that the concat slices stay 256-byte aligned.
    let cols_per_part = cols_per_part.div_ceil(64) * 64;
    if cols_per_part as u64 * bytes_per_col > MAX_BINDING_BYTES {
        return Err(internal(PASS, format!("cannot split the weight of `{}` into bindings of 128 MiB", node.name)));
    }
    let bias = op::bias_input(&epilogue, node.inputs.len()).map(|i| node.inputs[i]);
    let mut pieces = Vec::new();
    let mut start = 0;
    let mut p = 0;
    while start < n {
        let end = (start + cols_per_part).min(n);
        let w = if nk { rows(weight, start, end)? } else { last_axis(weight, start, end)? };
        let w_id = graph.add_constant(&format!("{}/part{p}", graph.value(node.inputs[1]).name), w);
        let mut inputs = vec![node.inputs[0], w_id];
        if let Some(bias) = bias {
            let b_shape = graph.value(bias).shape.clone();
            let id = if b_shape.last().copied().unwrap_or(1) as usize == n && n > 1 {
                let t = graph
                    .constant(bias)
                    .ok_or_else(|| internal(PASS, format!("`{}`: a non-constant bias cannot be split", node.name)))?;
                let sliced = last_axis(t, start, end)?;
                graph.add_constant(&format!("{}/part{p}", graph.value(bias).name), sliced)
            } else {
                bias
            };
            inputs.push(id);
        }
        let mut shape = y_shape.clone();
        if let Some(last) = shape.last_mut() {
            *last = (end - start) as u64;
        }
        let piece = graph.add_value(&format!("{}/part{p}", graph.value(y).name), dtype, &shape);
        out.push(Node {
            name: format!("{}/part{p}", node.name),
            op: Op::MatMul { transpose_a, transpose_b, epilogue: vec![] },
            inputs,
            outputs: vec![piece],
        });
        pieces.push(piece);
        start = end;
        p += 1;
    }
    let axis = (y_shape.len() - 1) as u32;
    if epilogue.is_empty() {
        out.push(Node {
            name: format!("{}/concat", node.name),
            op: Op::Concat { axis },
            inputs: pieces,
            outputs: vec![y],
        });
        return Ok(());
    }
    let joined = graph.add_value(&format!("{}/joined", graph.value(y).name), dtype, &y_shape);
    out.push(Node {
        name: format!("{}/concat", node.name),
        op: Op::Concat { axis },
        inputs: pieces,
        outputs: vec![joined],
    });
    // The epilogue's operands become inputs 1.. of the Elementwise.
    let mut inputs: Vec<ValueId> = vec![joined];
    let mut steps = Vec::with_capacity(epilogue.len());
    for step in epilogue {
        steps.push(match step {
            EpilogueStep::Binary { fun, operand, operand_first } => {
                let v = *node
                    .inputs
                    .get(operand as usize)
                    .ok_or_else(|| internal(PASS, "epilogue operand out of range".into()))?;
                let at = match inputs.iter().position(|&i| i == v) {
                    Some(at) => at,
                    None => {
                        inputs.push(v);
                        inputs.len() - 1
                    }
                };
                EpilogueStep::Binary { fun, operand: at as u32, operand_first }
            }
            other => other,
        });
    }
    out.push(Node { name: format!("{}/epilogue", node.name), op: Op::Elementwise { steps }, inputs, outputs: vec![y] });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use wdnn_descriptor_spec::{DType, UnaryFn};

    #[test]
    fn weight_slices_along_either_axis() {
        let t = Tensor::new(&[3, 4], &(0..12).map(|v| v as f32).collect::<Vec<_>>()).unwrap();
        let r = rows(&t, 1, 3).unwrap();
        assert_eq!(r.shape(), &[2, 4]);
        assert_eq!(r.to_vec::<f32>().unwrap()[..2], [4.0, 5.0]);
        let c = last_axis(&t, 1, 3).unwrap();
        assert_eq!(c.shape(), &[3, 2]);
        assert_eq!(c.to_vec::<f32>().unwrap(), [1.0, 2.0, 5.0, 6.0, 9.0, 10.0]);
    }

    /// A weight just over the limit becomes two MatMuls, a Concat and the epilogue, with the same outputs.
    #[test]
    fn splits_a_weight_over_the_binding_limit_keeping_meaning() {
        let (k, n) = (1u64, MAX_BINDING_BYTES / 4 + 64);
        let mut g = Graph::new("t");
        let x = g.add_value("x", DType::F32, &[1, k]);
        g.inputs.push(x);
        let w = g.add_constant("w", Tensor::new(&[k, n], &vec![0.5f32; (k * n) as usize]).unwrap());
        let y = g.add_value("y", DType::F32, &[1, n]);
        let epilogue = vec![EpilogueStep::Unary { fun: UnaryFn::Relu }];
        g.add_node("fc", Op::MatMul { transpose_a: false, transpose_b: false, epilogue }, &[x, w], &[y]);
        g.outputs.push(("y".into(), y));
        assert_eq!(run(&mut g).unwrap(), PassStats::one("weights split", 1));
        let ops: Vec<&str> = g.nodes.iter().map(|n| n.op.name()).collect();
        assert_eq!(ops, ["MatMul", "MatMul", "Concat", "Elementwise"]);
        for part in &g.nodes[..2] {
            let w = g.constant(part.inputs[1]).unwrap();
            assert!(w.bytes().len() as u64 <= MAX_BINDING_BYTES && w.shape()[0] == k);
        }
        let widths: u64 = g.nodes[..2].iter().map(|p| *g.value(p.outputs[0]).shape.last().unwrap()).sum();
        assert_eq!(widths, n);
        assert_eq!(g.nodes[3].outputs, [y]);
        crate::ir::verify(&g).unwrap();
    }
}
