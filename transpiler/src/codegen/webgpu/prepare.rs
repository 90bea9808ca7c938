//! The WebGPU layout hook: meaning-preserving IR rewrites of the weights for the kernels of this target.
//!
//! - A MatMul with a constant two-dimensional `B` gets `B` stored `[N, K]` (`transpose_b`) when `A` has at most
//!   [`GEMV_ROWS`] rows (the matrix–vector kernel reads each output's weights contiguously), `[K, N]` otherwise (the
//!   tiled GEMM loads rows of `B` along N).
//! - A constant `B` larger than [`MAX_BINDING_BYTES`] (WebGPU's default `maxStorageBufferBindingSize`) is split
//!   along N into MatMuls of at most that size each; a Concat along the last axis joins their results (a view-concat
//!   where the concat pass can make one), and an `Elementwise` node after it applies the original epilogue. So every
//!   binding of a webgpu descriptor fits an adapter with WebGPU's default limits: VGG-19's 411 MB `fc6` weight becomes
//!   four MatMuls of 103 MB.

use wdnn_descriptor_spec::{EpilogueStep, Op};
use wdnn_runner_core::Tensor;

use crate::error::ConvertError;
use crate::ir::{Graph, Node, ValueId};

/// WebGPU's default `maxStorageBufferBindingSize`: 128 MiB.
pub const MAX_BINDING_BYTES: u64 = 128 << 20;
/// Set to `0` to keep convolutions whole (no split along K), e.g. to compare.
pub const SPLIT_K_ENV: &str = "WDNN_WEBGPU_SPLIT_K";
/// MatMuls with at most this many rows use the matrix–vector kernel.
pub const GEMV_ROWS: u64 = 4;

fn internal(detail: String) -> ConvertError {
    ConvertError::Internal { stage: "webgpu layout".into(), detail }
}

/// `t` (shape `[R, C]`) transposed to `[C, R]`.
fn transpose_2d(t: &Tensor) -> Result<Tensor, ConvertError> {
    let (r, c) = (t.shape()[0] as usize, t.shape()[1] as usize);
    let size = t.dtype().size();
    let src = t.bytes();
    let mut out = vec![0u8; src.len()];
    for i in 0..r {
        for j in 0..c {
            let (from, to) = ((i * c + j) * size, (j * r + i) * size);
            out[to..to + size].copy_from_slice(&src[from..from + size]);
        }
    }
    Tensor::from_bytes(t.dtype(), &[c as u64, r as u64], out).map_err(|e| internal(e.to_string()))
}

/// Rows `start..end` of a 2-D tensor.
fn rows(t: &Tensor, start: usize, end: usize) -> Result<Tensor, ConvertError> {
    let c = t.shape()[1] as usize;
    let size = t.dtype().size();
    let bytes = t.bytes()[start * c * size..end * c * size].to_vec();
    Tensor::from_bytes(t.dtype(), &[(end - start) as u64, c as u64], bytes).map_err(|e| internal(e.to_string()))
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
    Tensor::from_bytes(t.dtype(), &out_shape, bytes).map_err(|e| internal(e.to_string()))
}

pub(super) fn run(graph: &mut Graph) -> Result<(), ConvertError> {
    let nodes = std::mem::take(&mut graph.nodes);
    let mut out = Vec::with_capacity(nodes.len());
    for mut node in nodes {
        if let Some(parts) = conv_split(graph, &node) {
            split_conv(graph, node, parts, &mut out)?;
            continue;
        }
        let Op::MatMul { transpose_a, transpose_b, .. } = &mut node.op else {
            out.push(node);
            continue;
        };
        let (Some(&a), Some(&b)) = (node.inputs.first(), node.inputs.get(1)) else {
            out.push(node);
            continue;
        };
        let Some(weight) = graph.constant(b).filter(|t| t.shape().len() == 2).cloned() else {
            out.push(node);
            continue;
        };
        let k = graph.value(a).shape.last().copied().unwrap_or(1);
        let rows_a = graph.value(a).numel() / k.max(1);
        let want_nk = rows_a <= GEMV_ROWS && !*transpose_a;
        let mut weight = weight;
        if *transpose_b != want_nk {
            weight = transpose_2d(&weight)?;
            *transpose_b = want_nk;
            let name = format!("{}/webgpu_layout", graph.value(b).name);
            let id = graph.add_constant(&name, weight.clone());
            node.inputs[1] = id;
        }
        if (weight.bytes().len() as u64) <= MAX_BINDING_BYTES {
            out.push(node);
            continue;
        }
        split(graph, node, &weight, want_nk, &mut out)?;
    }
    graph.nodes = out;
    Ok(())
}

/// How many parts to split a convolution's input channels into, when its GEMM gives too few invocations to fill a
/// large GPU: a dense 2-D convolution with a constant weight and a large K.
fn conv_split(graph: &Graph, node: &Node) -> Option<u64> {
    let Op::Conv { group: 1, channels_last: false, .. } = &node.op else {
        return None;
    };
    let w = graph.constant(*node.inputs.get(1)?)?;
    let operands = super::wgsl::step_operands(node.op.epilogue().unwrap_or(&[]));
    if node.inputs.len() > 2 && !operands.contains(&2) && graph.constant(node.inputs[2]).is_none() {
        return None;
    }
    let (x, y) = (graph.value(node.inputs[0]), graph.value(*node.outputs.first()?));
    if w.shape().len() != 4 || x.shape.len() != 4 || y.shape.len() != 4 || x.shape[0] != 1 {
        return None;
    }
    let (o, c, kk) = (w.shape()[0], w.shape()[1], w.shape()[2] * w.shape()[3]);
    let (m, n, k) = (o, y.shape[2] * y.shape[3], c * kk);
    if std::env::var(SPLIT_K_ENV).is_ok_and(|v| v == "0") {
        return None;
    }
    let few = super::gemm::tuning(super::gemm::SPLIT_THREADS_ENV, super::gemm::FEW_THREADS);
    let before = super::gemm::gemm_threads(m, n, k, 1);
    if before >= few || k < 512 {
        return None;
    }
    let mut best = None;
    for parts in [2u64, 4, 8, 16] {
        if c % parts != 0 || k / parts < 256 {
            break;
        }
        let threads = super::gemm::gemm_threads(m, n, k / parts, parts);
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
        return Err(internal("split of a non-Conv".into()));
    };
    let w = graph.constant(node.inputs[1]).cloned().ok_or_else(|| internal("conv weight is not constant".into()))?;
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
        .map_err(|e| internal(e.to_string()))?;
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
    let operands = super::wgsl::step_operands(&epilogue);
    let bias = (node.inputs.len() > 2 && !operands.contains(&2)).then(|| node.inputs[2]);
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
        let t = graph.constant(b).cloned().ok_or_else(|| internal("conv bias is not constant".into()))?;
        let t = t.reshaped(&[o as u64, 1, 1]).map_err(|e| internal(e.to_string()))?;
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
                    .ok_or_else(|| internal("epilogue operand out of range".into()))?;
                inputs.push(v);
                EpilogueStep::Binary { fun, operand: inputs.len() as u32 - 1, operand_first }
            }
            other => other,
        });
    }
    out.push(Node { name: format!("{}/epilogue", node.name), op: Op::Elementwise { steps }, inputs, outputs: vec![y] });
    Ok(())
}

/// Replaces a MatMul whose constant weight (already in its final layout, `[N, K]` when `nk`) is too large for one
/// binding by MatMuls over column ranges of N, a Concat and, if the MatMul had an epilogue, an Elementwise.
fn split(graph: &mut Graph, node: Node, weight: &Tensor, nk: bool, out: &mut Vec<Node>) -> Result<(), ConvertError> {
    let Op::MatMul { transpose_a, transpose_b, epilogue } = node.op.clone() else {
        return Err(internal("split of a non-MatMul".into()));
    };
    let y = node.outputs[0];
    let y_shape = graph.value(y).shape.clone();
    let dtype = graph.value(y).dtype;
    let n = *y_shape.last().ok_or_else(|| internal("MatMul output of rank 0".into()))? as usize;
    let bytes_per_col = weight.bytes().len() as u64 / n.max(1) as u64;
    let parts = (weight.bytes().len() as u64).div_ceil(MAX_BINDING_BYTES) as usize;
    let cols_per_part = n.div_ceil(parts);
    // Keep column ranges a multiple of 64 wide so that the concat slices stay 256-byte aligned.
    let cols_per_part = cols_per_part.div_ceil(64) * 64;
    if cols_per_part as u64 * bytes_per_col > MAX_BINDING_BYTES {
        return Err(internal(format!("cannot split the weight of `{}` into bindings of 128 MiB", node.name)));
    }
    let operands = super::wgsl::step_operands(&epilogue);
    let bias = (node.inputs.len() > 2 && !operands.contains(&2)).then(|| node.inputs[2]);
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
                    .ok_or_else(|| internal(format!("`{}`: a non-constant bias cannot be split", node.name)))?;
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
                    .ok_or_else(|| internal("epilogue operand out of range".into()))?;
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
    fn transposes_and_splits_large_weights_keeping_meaning() {
        let mut g = Graph::new("t");
        let x = g.add_value("x", DType::F32, &[1, 8]);
        g.inputs.push(x);
        let w = Tensor::new(&[8, 3], &(0..24).map(|v| v as f32).collect::<Vec<_>>()).unwrap();
        let w = g.add_constant("w", w);
        let y = g.add_value("y", DType::F32, &[1, 3]);
        let op = Op::MatMul {
            transpose_a: false,
            transpose_b: false,
            epilogue: vec![EpilogueStep::Unary { fun: UnaryFn::Relu }],
        };
        g.add_node("fc", op, &[x, w], &[y]);
        g.outputs.push(("y".into(), y));
        run(&mut g).unwrap();
        let node = &g.nodes[0];
        assert!(matches!(node.op, Op::MatMul { transpose_b: true, .. }));
        let t = g.constant(node.inputs[1]).unwrap();
        assert_eq!(t.shape(), &[3, 8]);
        assert_eq!(t.to_vec::<f32>().unwrap()[..3], [0.0, 3.0, 6.0]);
        assert_eq!(rows(t, 1, 3).unwrap().shape(), &[2, 8]);
        assert_eq!(last_axis(&transpose_2d(t).unwrap(), 1, 3).unwrap().to_vec::<f32>().unwrap()[..2], [1.0, 2.0]);
    }
}
