//! The wasm target's own passes: weights packed at convert time into the layouts of runner-wasm's kernels
//! (`wdnn_descriptor_spec::packing`, SPEC §6.2), so that loading a model copies weights instead of rearranging
//! them. The pipeline runs them in this order, after the NHWC activation layout and before the memory passes:
//!
//! 1. `winograd-weights`: 3×3 stride-1 convolutions where Winograd wins get their filters transformed;
//! 2. `pack-conv-weights`: the other 2-D NHWC convolutions get convolution panels or depthwise blocks;
//! 3. `pack-matmul-weights`: MatMuls with a constant matrix `B` get GEMM panels.
//!
//! Each replaces input 1 of a kernel by a new one-dimensional constant (its bias folded in, input 2 kept so that
//! epilogue operand numbers stay the op's) and records the layout in `Graph::packed`, which the code generator turns
//! into the kernel's `Packed` payload. Every pass is optional: a kernel left unpacked runs on the reference kernels
//! of the wasm runner (or is packed by it at load), so skipping one costs speed, never correctness.

mod conv_weights;
mod matmul_weights;
mod winograd_weights;

use wdnn_descriptor_spec::packing::PackedLayout;
use wdnn_descriptor_spec::{DType, EpilogueStep, Op, op};
use wdnn_runner_core::Tensor;
use wdnn_runner_wasm::conv::ConvGeometry;
use wdnn_runner_wasm::epilogue::{Operand, VectorBinary, VectorUnary};

use crate::codegen::BackendPass;
use crate::error::ConvertError;
use crate::ir::{Graph, Node, Packed, ValueId};

/// Panel width of runner-wasm's GEMM micro-kernel.
pub const NR: u32 = wdnn_runner_wasm::gemm::NR as u32;
/// Channel block width of runner-wasm's depthwise kernel.
pub const CB: u32 = wdnn_runner_wasm::conv::depthwise::CB as u32;

/// The passes, in order.
pub(super) fn passes() -> Vec<BackendPass<'static>> {
    vec![
        BackendPass { name: "winograd-weights", optional: true, run: Box::new(winograd_weights::run) },
        BackendPass { name: "pack-conv-weights", optional: true, run: Box::new(conv_weights::run) },
        BackendPass { name: "pack-matmul-weights", optional: true, run: Box::new(matmul_weights::run) },
    ]
}

/// A converter bug found by the pass `pass`.
fn internal(pass: &str, detail: String) -> ConvertError {
    ConvertError::Internal { stage: format!("wasm pass {pass}"), detail }
}

/// The f32 values of a constant, if `v` is one whose weights have not been packed yet.
fn unpacked_f32(graph: &Graph, v: ValueId) -> Option<Vec<f32>> {
    graph.packed_layout(v).is_none().then(|| graph.constant_f32(v)).flatten()
}

/// The bias of a Conv or MatMul node (the format's slot, `op::bias_input`). `Some(None)` when there
/// is none, `None` when there is one that cannot be folded into panels (not a constant of `n` values).
fn bias(graph: &Graph, node: &Node, epilogue: &[EpilogueStep], n: usize) -> Option<Option<Vec<f32>>> {
    let Some(&b) = op::bias_input(epilogue, node.inputs.len()).and_then(|i| node.inputs.get(i)) else {
        return Some(None);
    };
    let value = graph.value(b);
    let along_last = value.shape.iter().rev().skip(1).all(|&d| d == 1);
    let values = graph.constant_f32(b).filter(|v| v.len() == n && along_last)?;
    Some(Some(values))
}

/// Whether runner-wasm fuses every step of `epilogue` into its kernels' stores, for an output of shape `out`
/// (channels or columns last); a kernel whose epilogue it cannot fuse stays unpacked.
fn fusable(graph: &Graph, node: &Node, epilogue: &[EpilogueStep], out: &[u64]) -> bool {
    let out: Vec<usize> = out.iter().map(|&d| d as usize).collect();
    epilogue.iter().all(|step| match step {
        EpilogueStep::Unary { fun } => VectorUnary::new(*fun).is_some(),
        EpilogueStep::Binary { fun, operand, .. } => {
            let Some(&v) = node.inputs.get(*operand as usize) else { return false };
            let value = graph.value(v);
            let shape: Vec<usize> = value.shape.iter().map(|&d| d as usize).collect();
            value.dtype == DType::F32 && VectorBinary::new(*fun).is_some() && Operand::classify(&shape, &out).is_some()
        }
        EpilogueStep::Unknown => false,
    })
}

/// The geometry of a 2-D NHWC f32 convolution with a constant, still unpacked weight and a foldable bias, with
/// its weights and bias; `None` for any other node.
struct PackableConv {
    geo: ConvGeometry,
    shape: Vec<u64>,
    weights: Vec<f32>,
    bias: Option<Vec<f32>>,
}

fn packable_conv(graph: &Graph, node: &Node) -> Option<PackableConv> {
    let Op::Conv { group, strides, dilations, pads, channels_last: true, epilogue } = &node.op else { return None };
    let (&x, &w, &y) = (node.inputs.first()?, node.inputs.get(1)?, node.outputs.first()?);
    let (xs, ws, ys) = (&graph.value(x).shape, &graph.value(w).shape, &graph.value(y).shape);
    let f32s = [x, y].iter().all(|&v| graph.value(v).dtype == DType::F32);
    if !f32s || xs.len() != 4 || ws.len() != 4 || ys.len() != 4 || !fusable(graph, node, epilogue, ys) {
        return None;
    }
    let weights = unpacked_f32(graph, w)?;
    let u = |v: &[u32], i: usize, default: u32| v.get(i).copied().unwrap_or(default) as usize;
    let pads = match pads.len() {
        0 => [0; 4],
        4 => [pads[0] as usize, pads[1] as usize, pads[2] as usize, pads[3] as usize],
        _ => return None,
    };
    let geo = ConvGeometry {
        batch: xs[0] as usize,
        in_h: xs[1] as usize,
        in_w: xs[2] as usize,
        in_c: xs[3] as usize,
        out_c: ws[0] as usize,
        kernel: [ws[2] as usize, ws[3] as usize],
        stride: [u(strides, 0, 1), u(strides, 1, 1)],
        dilation: [u(dilations, 0, 1), u(dilations, 1, 1)],
        pads,
        groups: *group as usize,
    };
    let (oh, ow) = geo.output_hw().ok()?;
    let consistent = ws[1] as usize * geo.groups == geo.in_c
        && ys[..] == [xs[0], oh as u64, ow as u64, ws[0]]
        && weights.len() == geo.weights().out_channels * geo.weights().k();
    if !consistent {
        return None;
    }
    let bias = bias(graph, node, epilogue, geo.out_c)?;
    Some(PackableConv { geo, shape: ws.clone(), weights, bias })
}

/// Replaces input 1 of node `i` by `packed`, stored in `layout` from weights of `shape`, named after the weight it
/// replaces.
fn replace_weights(
    graph: &mut Graph,
    i: usize,
    packed: Vec<f32>,
    layout: PackedLayout,
    shape: Vec<u64>,
    pass: &str,
) -> Result<(), ConvertError> {
    let w = graph.nodes[i].inputs[1];
    let name = format!("{}/wasm_{}", graph.value(w).name, suffix(layout));
    let tensor = Tensor::new(&[packed.len() as u64], &packed).map_err(|e| internal(pass, e.to_string()))?;
    let value = graph.add_constant(&name, tensor);
    graph.packed.push(Packed { value, layout, shape });
    graph.nodes[i].inputs[1] = value;
    Ok(())
}

fn suffix(layout: PackedLayout) -> String {
    match layout {
        PackedLayout::GemmPanels { nr } => format!("gemm_panels{nr}"),
        PackedLayout::ConvPanels { nr } => format!("conv_panels{nr}"),
        PackedLayout::DepthwiseBlocks { cb } => format!("depthwise_blocks{cb}"),
        PackedLayout::WinogradPanels { m, nr } => format!("winograd{m}_panels{nr}"),
        PackedLayout::Unknown => "unknown".to_string(),
    }
}

/// An NCHW graph with one 3×3 convolution, for the target's schedule test.
#[cfg(test)]
pub(super) fn testing_graph() -> Graph {
    let mut g = testing::conv(8, 16, 24, 3, 2, 1);
    if let Op::Conv { channels_last, .. } = &mut g.nodes[0].op {
        *channels_last = false;
    }
    // The input and output in NCHW.
    g.values[0].shape = vec![1, 16, 8, 8];
    let y = g.nodes[0].outputs[0];
    g.value_mut(y).shape = vec![1, 24, 4, 4];
    g
}

#[cfg(test)]
mod testing {
    //! Small NHWC graphs for the passes' tests.
    use wdnn_descriptor_spec::{DType, EpilogueStep, Op, UnaryFn};
    use wdnn_runner_core::Tensor;

    use crate::ir::Graph;

    /// `x [1, h, w, c]` → Conv (k×k, stride, pad k/2, `groups`, bias, Relu) → `y [1, oh, ow, o]`.
    pub fn conv(h: u64, c: u64, o: u64, k: u64, stride: u32, groups: u32) -> Graph {
        let mut g = Graph::new("t");
        let x = g.add_value("x", DType::F32, &[1, h, h, c]);
        g.inputs.push(x);
        let n = o * (c / groups as u64) * k * k;
        let w = g.add_constant("w", Tensor::new(&[o, c / groups as u64, k, k], &ramp(n as usize)).unwrap());
        let b = g.add_constant("b", Tensor::new(&[o], &ramp(o as usize)).unwrap());
        let p = (k / 2) as u32;
        let oh = (h + 2 * p as u64 - k) / stride as u64 + 1;
        let y = g.add_value("y", DType::F32, &[1, oh, oh, o]);
        let op = Op::Conv {
            group: groups,
            strides: vec![stride; 2],
            dilations: vec![1, 1],
            pads: vec![p; 4],
            channels_last: true,
            epilogue: vec![EpilogueStep::Unary { fun: UnaryFn::Relu }],
        };
        g.add_node("conv", op, &[x, w, b], &[y]);
        g.outputs.push(("y".into(), y));
        g
    }

    /// Values `0.01 · (i mod 17) − 0.08`.
    pub fn ramp(n: usize) -> Vec<f32> {
        (0..n).map(|i| 0.01 * (i % 17) as f32 - 0.08).collect()
    }
}
