//! Load-time planning: for each kernel of a descriptor, the fast kernel of this crate that computes it, or the
//! reference kernel of runner-fallback when there is none (an op without a fast kernel, a dtype other than f32, a
//! broadcast the fast kernels do not fuse, an output that overlaps an input).
//!
//! Everything a run needs is decided here: algorithms, packed weights (from the descriptor's `Packed` payloads, or
//! packed now from portable weights), where each operand lives, the scratch size. A run then only indexes.

use core::ops::Range;

use wdnn_descriptor_spec::packing::{self, MatrixOrder, PackedLayout};
use wdnn_descriptor_spec::{
    DType, EpilogueStep, Graph, Kernel, KernelPayload, Op, Storage, TensorDesc, TensorId, op, shape,
};

use crate::conv::{Algorithm, Conv2d, ConvGeometry, WinogradTile, depthwise};
use crate::elementwise::Broadcast;
use crate::epilogue::{self, VectorBinary, VectorUnary};
use crate::gemm::{Gemm, NR};
use crate::pool::{Pool2d, PoolKind};
use crate::reduce::Reduce;
use crate::softmax::Softmax;

/// Where an f32 operand lives: a range of the arena (in f32 values) or a decoded weight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Src {
    /// Values `start .. start + len` of the arena.
    Arena { start: usize, len: usize },
    /// Weight number `index` of the executable's f32 weights.
    Weight { index: usize },
}

/// An epilogue operand, planned.
#[derive(Debug, Clone, Copy)]
pub(super) enum PlannedOperand {
    Scalar(Src),
    Channel(Src),
    Full { src: Src, row_stride: usize },
}

/// An epilogue step, planned.
#[derive(Debug, Clone, Copy)]
pub(super) enum PlannedStep {
    Unary(VectorUnary),
    Binary { fun: VectorBinary, operand: PlannedOperand, operand_first: bool },
}

/// The most epilogue steps a fast kernel fuses (a run builds them on the stack).
pub(super) const MAX_STEPS: usize = 8;

/// A fast kernel with its operands.
#[derive(Debug, Clone)]
pub(super) enum Fast {
    Conv {
        conv: Box<Conv2d>,
        x: Src,
        packed: usize,
        y: Range<usize>,
        steps: Vec<PlannedStep>,
    },
    Gemm {
        gemm: Gemm,
        a: Src,
        packed: usize,
        y: Range<usize>,
        steps: Vec<PlannedStep>,
    },
    Pool {
        pool: Pool2d,
        x: Src,
        y: Range<usize>,
    },
    Unary {
        fun: VectorUnary,
        x: Src,
        y: Range<usize>,
    },
    Binary {
        fun: VectorBinary,
        broadcast: Broadcast,
        a: Src,
        b: Src,
        y: Range<usize>,
    },
    Chain {
        x: Src,
        y: Range<usize>,
        cols: usize,
        steps: Vec<PlannedStep>,
    },
    Softmax {
        softmax: Softmax,
        x: Src,
        y: Range<usize>,
    },
    Reduce {
        reduce: Reduce,
        x: Src,
        y: Range<usize>,
    },
    /// A `Reshape` that is not a view: the bytes copied.
    Copy {
        x: Range<usize>,
        y: Range<usize>,
    },
}

impl Fast {
    /// What runs, for the kernel report.
    pub(super) fn describe(&self) -> String {
        match self {
            Fast::Conv { conv, .. } => match conv.algorithm() {
                Algorithm::Gemm => "conv 1x1 gemm".into(),
                Algorithm::Indirect => "conv implicit gemm".into(),
                Algorithm::Im2col => "conv im2col gemm".into(),
                Algorithm::Depthwise => "conv depthwise".into(),
                Algorithm::Winograd(WinogradTile::F2) => "conv winograd F(2x2,3x3)".into(),
                Algorithm::Winograd(WinogradTile::F4) => "conv winograd F(4x4,3x3)".into(),
            },
            Fast::Gemm { .. } => "gemm".into(),
            Fast::Pool { pool, .. } => match pool.kind {
                PoolKind::Max => "max pool".into(),
                PoolKind::Average { .. } => "average pool".into(),
            },
            Fast::Unary { fun, .. } => format!("unary {:?}", fun.fun()),
            Fast::Binary { fun, .. } => format!("binary {:?}", fun.fun()),
            Fast::Chain { .. } => "elementwise chain".into(),
            Fast::Softmax { softmax, .. } => if softmax.log { "log-softmax" } else { "softmax" }.into(),
            Fast::Reduce { reduce, .. } => format!("reduce {:?}", reduce.fun),
            Fast::Copy { .. } => "copy".into(),
        }
    }
}

/// Why a kernel that carries packed weights cannot run: a load error naming the kernel.
#[derive(Debug)]
pub(super) struct PlanError(pub String);

/// What planning needs from the executable being built: the decoded f32 weights it keeps for fast kernels.
pub(super) trait WeightStore {
    /// The f32 values of weight `id` (decoded once), as an index for [`Src::Weight`].
    fn f32_weight(&mut self, id: u32) -> Result<usize, PlanError>;
    /// The f32 values of weight `id`, decoded for the caller only (portable weights packed at load).
    fn decode(&mut self, id: u32) -> Result<Vec<f32>, PlanError>;
    /// The values of a weight added by the planner (weights packed at load).
    fn add_weight(&mut self, values: Vec<f32>) -> usize;
    /// The values behind `index`.
    fn values(&self, index: usize) -> &[f32];
}

/// Plans kernel `k`: `Ok(Some)` for a fast kernel, `Ok(None)` for the reference, `Err` for a packed kernel this
/// runner cannot run.
pub(super) fn plan(graph: &Graph, k: &Kernel, store: &mut dyn WeightStore) -> Result<Option<Fast>, PlanError> {
    let packed = match &k.payload {
        Some(KernelPayload::Packed { layout, shape }) => Some((*layout, shape.as_slice())),
        _ => None,
    };
    let fast = match &k.op {
        Op::Conv { .. } => conv(graph, k, packed, store)?,
        Op::MatMul { .. } => matmul(graph, k, packed, store)?,
        _ if packed.is_some() => None,
        Op::MaxPool { .. } | Op::AveragePool { .. } => pool(graph, k),
        Op::Unary { fun } => unary(graph, k, *fun),
        Op::Binary { fun } => binary(graph, k, *fun, store)?,
        Op::Elementwise { steps } => chain(graph, k, steps, store)?,
        Op::Softmax { axis } => softmax(graph, k, *axis, false),
        Op::LogSoftmax { axis } => softmax(graph, k, *axis, true),
        Op::Reduce { fun, axes } => reduce(graph, k, *fun, axes),
        Op::Reshape => copy(graph, k),
        _ => None,
    };
    match (fast, packed.map(|p| p.0)) {
        (None, Some(layout)) => Err(PlanError(format!(
            "its weights are packed ({layout:?}) but the kernel is not one this runner computes from packed weights \
             (op, dtypes, shapes or epilogue)"
        ))),
        (Some(fast), _) if overlaps(graph, k, &fast) => match packed {
            Some(_) => Err(PlanError("its output overlaps one of its inputs".into())),
            None => Ok(None),
        },
        (fast, _) => Ok(fast),
    }
}

fn tensor(graph: &Graph, id: TensorId) -> Option<&TensorDesc> {
    graph.tensors.get(id as usize)
}

fn dims(t: &TensorDesc) -> Option<Vec<usize>> {
    t.shape.iter().map(|&d| usize::try_from(d).ok()).collect()
}

fn numel(t: &TensorDesc) -> Option<usize> {
    usize::try_from(shape::numel(&t.shape)?).ok()
}

/// The arena range (in f32 values) of an f32 arena tensor.
fn arena_f32(graph: &Graph, id: TensorId) -> Option<Range<usize>> {
    let t = tensor(graph, id).filter(|t| t.dtype == DType::F32)?;
    let Storage::Arena { offset } = t.storage else { return None };
    let offset = usize::try_from(offset).ok().filter(|o| o % 4 == 0)?;
    let start = offset / 4;
    Some(start..start.checked_add(numel(t)?)?)
}

/// Where an f32 input lives.
fn src(graph: &Graph, id: TensorId, store: &mut dyn WeightStore) -> Result<Option<Src>, PlanError> {
    let Some(t) = tensor(graph, id).filter(|t| t.dtype == DType::F32) else { return Ok(None) };
    Ok(match t.storage {
        Storage::Arena { .. } => arena_f32(graph, id).map(|r| Src::Arena { start: r.start, len: r.len() }),
        Storage::Weight { id } => Some(Src::Weight { index: store.f32_weight(id)? }),
    })
}

/// An arena-only input (the activations).
fn arena_src(graph: &Graph, id: TensorId) -> Option<Src> {
    arena_f32(graph, id).map(|r| Src::Arena { start: r.start, len: r.len() })
}

/// Whether the fast kernel's output range meets any of the arena ranges it reads.
fn overlaps(graph: &Graph, k: &Kernel, fast: &Fast) -> bool {
    let out = match fast {
        Fast::Copy { y, .. } => y.start / 4..y.end.div_ceil(4),
        Fast::Conv { y, .. }
        | Fast::Gemm { y, .. }
        | Fast::Pool { y, .. }
        | Fast::Unary { y, .. }
        | Fast::Binary { y, .. }
        | Fast::Chain { y, .. }
        | Fast::Softmax { y, .. }
        | Fast::Reduce { y, .. } => y.clone(),
    };
    if let Fast::Copy { x, y } = fast {
        // The same range is a reshape in place: nothing to copy.
        return x != y && x.start < y.end && y.start < x.end;
    }
    k.inputs.iter().any(|&id| {
        let Some(t) = tensor(graph, id) else { return true };
        let Storage::Arena { offset } = t.storage else { return false };
        let start = (offset / 4) as usize;
        let end = (offset + t.byte_size()).div_ceil(4) as usize;
        start < out.end && out.start < end
    })
}

/// Plans the epilogue of a kernel whose output is seen as `[m, n]`, shaped `out`. `None` when a step has no
/// fused form.
fn steps(
    graph: &Graph,
    k: &Kernel,
    epilogue: &[EpilogueStep],
    out: &[usize],
    n: usize,
    store: &mut dyn WeightStore,
) -> Result<Option<Vec<PlannedStep>>, PlanError> {
    if epilogue.len() > MAX_STEPS {
        return Ok(None);
    }
    let mut planned = Vec::with_capacity(epilogue.len());
    for step in epilogue {
        planned.push(match step {
            EpilogueStep::Unary { fun } => match VectorUnary::new(*fun) {
                Some(f) => PlannedStep::Unary(f),
                None => return Ok(None),
            },
            EpilogueStep::Binary { fun, operand, operand_first } => {
                let (Some(f), Some(&id)) = (VectorBinary::new(*fun), k.inputs.get(*operand as usize)) else {
                    return Ok(None);
                };
                let Some(shape) = tensor(graph, id).and_then(dims) else { return Ok(None) };
                let Some(src) = src(graph, id, store)? else { return Ok(None) };
                let operand = match epilogue::Operand::classify(&shape, out) {
                    Some(epilogue::Broadcast::Scalar) => PlannedOperand::Scalar(src),
                    Some(epilogue::Broadcast::Channel) => PlannedOperand::Channel(src),
                    Some(epilogue::Broadcast::Full) => PlannedOperand::Full { src, row_stride: n },
                    None => return Ok(None),
                };
                PlannedStep::Binary { fun: f, operand, operand_first: *operand_first }
            }
            EpilogueStep::Unknown => return Ok(None),
        });
    }
    Ok(Some(planned))
}

/// The bias of a Conv or MatMul (the format's slot, `op::bias_input`), as `n` f32 values of a weight;
/// `Err(())` when there is one that is not such a weight.
fn bias(
    graph: &Graph,
    k: &Kernel,
    epilogue: &[EpilogueStep],
    n: usize,
    store: &mut dyn WeightStore,
) -> Result<Option<Vec<f32>>, ()> {
    let Some(&id) = op::bias_input(epilogue, k.inputs.len()).and_then(|i| k.inputs.get(i)) else { return Ok(None) };
    let t = tensor(graph, id).ok_or(())?;
    let along_last = t.shape.iter().rev().skip(1).all(|&d| d == 1);
    if numel(t) != Some(n) || !along_last || !matches!(t.storage, Storage::Weight { .. }) {
        return Err(());
    }
    match t.storage {
        Storage::Weight { id } if t.dtype == DType::F32 => store.decode(id).map(Some).map_err(|_| ()),
        _ => Err(()),
    }
}

/// A kernel's packed layout and the shape of its weights before packing, from its payload.
type Packing<'a> = Option<(PackedLayout, &'a [u64])>;

fn conv(graph: &Graph, k: &Kernel, packed: Packing, store: &mut dyn WeightStore) -> Result<Option<Fast>, PlanError> {
    let Op::Conv { group, strides, dilations, pads, channels_last, epilogue } = &k.op else { return Ok(None) };
    let (Some(&xi), Some(&wi), Some(&yi)) = (k.inputs.first(), k.inputs.get(1), k.outputs.first()) else {
        return Ok(None);
    };
    let (Some(xt), Some(wt), Some(yt)) = (tensor(graph, xi), tensor(graph, wi), tensor(graph, yi)) else {
        return Ok(None);
    };
    let (Some(xs), Some(ys)) = (dims(xt), dims(yt)) else { return Ok(None) };
    let (Some(x), Some(y)) = (arena_src(graph, xi), arena_f32(graph, yi)) else { return Ok(None) };
    if !*channels_last || xs.len() != 4 || ys.len() != 4 || k.outputs.len() != 1 {
        return Ok(None);
    }
    let u = |v: &[u32], i: usize| v.get(i).map_or(1, |&s| s as usize);
    let pads = match pads.len() {
        0 => [0; 4],
        4 => [pads[0] as usize, pads[1] as usize, pads[2] as usize, pads[3] as usize],
        _ => return Ok(None),
    };
    // The weights' shape `[O, C/G, KH, KW]`: the portable tensor's, or the one the payload records.
    let shape = packed.map_or(wt.shape.as_slice(), |p| p.1);
    let out_c = ys[3];
    if shape.len() != 4 || shape[0] as usize != out_c || shape[1] as usize * (*group as usize) != xs[3] {
        return match packed {
            Some(_) => Err(PlanError(format!("weights of shape {shape:?} do not fit a {xs:?} → {ys:?} convolution"))),
            None => Ok(None),
        };
    }
    let kernel = [shape[2] as usize, shape[3] as usize];
    let geo = ConvGeometry {
        batch: xs[0],
        in_h: xs[1],
        in_w: xs[2],
        in_c: xs[3],
        out_c,
        kernel,
        stride: [u(strides, 0), u(strides, 1)],
        dilation: [u(dilations, 0), u(dilations, 1)],
        pads,
        groups: *group as usize,
    };
    if geo.output_hw().ok() != Some((ys[1], ys[2])) || ys[0] != xs[0] {
        return Ok(None);
    }
    let Some(steps) = steps(graph, k, epilogue, &ys, out_c, store)? else { return Ok(None) };
    let (conv, packed) = match packed.map(|p| p.0) {
        Some(layout) => {
            let algorithm = match layout {
                PackedLayout::ConvPanels { nr } if nr as usize == NR => {
                    if geo.is_pointwise() {
                        Algorithm::Gemm
                    } else if geo.in_c / geo.groups < 8 {
                        Algorithm::Im2col
                    } else {
                        Algorithm::Indirect
                    }
                }
                PackedLayout::DepthwiseBlocks { cb } if cb as usize == depthwise::CB => Algorithm::Depthwise,
                PackedLayout::WinogradPanels { m: 2, nr } if nr as usize == NR => Algorithm::Winograd(WinogradTile::F2),
                PackedLayout::WinogradPanels { m: 4, nr } if nr as usize == NR => Algorithm::Winograd(WinogradTile::F4),
                other => return Err(PlanError(format!("this runner reads no {other:?} layout"))),
            };
            let conv = Conv2d::with_algorithm(geo, algorithm).map_err(|e| PlanError(e.to_string()))?;
            let Storage::Weight { id } = wt.storage else {
                return Err(PlanError("packed weights must be a weight".into()));
            };
            let index = store.f32_weight(id)?;
            if store.values(index).len() != conv.packed_len() {
                return Err(PlanError(format!(
                    "{} packed values where {layout:?} for {geo} has {}",
                    store.values(index).len(),
                    conv.packed_len()
                )));
            }
            (conv, index)
        }
        None => {
            let Storage::Weight { id } = wt.storage else { return Ok(None) };
            if wt.dtype != DType::F32 {
                return Ok(None);
            }
            let Ok(bias) = bias(graph, k, epilogue, out_c, store) else { return Ok(None) };
            let Ok(conv) = Conv2d::new(geo) else { return Ok(None) };
            let Ok(panels) = conv.pack(&store.decode(id)?, bias.as_deref()) else { return Ok(None) };
            (conv, store.add_weight(panels))
        }
    };
    Ok(Some(Fast::Conv { conv: Box::new(conv), x, packed, y, steps }))
}

fn matmul(graph: &Graph, k: &Kernel, packed: Packing, store: &mut dyn WeightStore) -> Result<Option<Fast>, PlanError> {
    let Op::MatMul { transpose_a: false, transpose_b, epilogue } = &k.op else { return Ok(None) };
    let (Some(&ai), Some(&bi), Some(&yi)) = (k.inputs.first(), k.inputs.get(1), k.outputs.first()) else {
        return Ok(None);
    };
    let (Some(at), Some(bt), Some(yt)) = (tensor(graph, ai), tensor(graph, bi), tensor(graph, yi)) else {
        return Ok(None);
    };
    let (Some(a_dims), Some(ys)) = (dims(at), dims(yt)) else { return Ok(None) };
    let (Some(a), Some(y)) = (src(graph, ai, store)?, arena_f32(graph, yi)) else { return Ok(None) };
    let (Some(&kk), Some(&n)) = (a_dims.last(), ys.last()) else { return Ok(None) };
    let Some(m) = numel(at).and_then(|t| t.checked_div(kk)) else { return Ok(None) };
    if m * n != y.len() {
        return Ok(None);
    }
    let Some(steps) = steps(graph, k, epilogue, &ys, n, store)? else { return Ok(None) };
    let Storage::Weight { id } = bt.storage else { return Ok(None) };
    let index = match packed {
        Some((PackedLayout::GemmPanels { nr }, shape)) if nr as usize == NR => {
            if shape != [kk as u64, n as u64] {
                return Err(PlanError(format!("GEMM panels of a {shape:?} matrix for a {kk}×{n} product")));
            }
            let index = store.f32_weight(id)?;
            if store.values(index).len() != packing::gemm_panels_len(kk, n, NR) {
                return Err(PlanError(format!("the GEMM panels do not hold a {kk}×{n} matrix")));
            }
            index
        }
        Some((other, _)) => return Err(PlanError(format!("a MatMul reads no {other:?} layout"))),
        None => {
            let order = if *transpose_b { MatrixOrder::NK } else { MatrixOrder::KN };
            let want = if *transpose_b { [n as u64, kk as u64] } else { [kk as u64, n as u64] };
            if bt.dtype != DType::F32 || bt.shape != want {
                return Ok(None);
            }
            let Ok(bias) = bias(graph, k, epilogue, n, store) else { return Ok(None) };
            let Ok(panels) = packing::gemm_panels(&store.decode(id)?, kk, n, order, bias.as_deref(), NR) else {
                return Ok(None);
            };
            store.add_weight(panels)
        }
    };
    Ok(Some(Fast::Gemm { gemm: Gemm::new(m, n, kk), a, packed: index, y, steps }))
}

fn pool(graph: &Graph, k: &Kernel) -> Option<Fast> {
    let (kind, kernel_shape, strides, dilations, pads) = match &k.op {
        Op::MaxPool { kernel_shape, strides, dilations, pads, channels_last: true, .. } => {
            (PoolKind::Max, kernel_shape, strides, dilations, pads)
        }
        Op::AveragePool { kernel_shape, strides, dilations, pads, channels_last: true, count_include_pad, .. } => {
            (PoolKind::Average { count_include_pad: *count_include_pad }, kernel_shape, strides, dilations, pads)
        }
        _ => return None,
    };
    let (&xi, &yi) = (k.inputs.first()?, k.outputs.first()?);
    let (xs, ys) = (dims(tensor(graph, xi)?)?, dims(tensor(graph, yi)?)?);
    if xs.len() != 4 || ys.len() != 4 || kernel_shape.len() != 2 || k.outputs.len() != 1 || xs[3] != ys[3] {
        return None;
    }
    let u = |v: &[u32], i: usize| v.get(i).map_or(1, |&s| s as usize);
    let pads = match pads.len() {
        0 => [0; 4],
        4 => [pads[0] as usize, pads[1] as usize, pads[2] as usize, pads[3] as usize],
        _ => return None,
    };
    let pool = Pool2d {
        kind,
        batch: xs[0],
        in_hw: [xs[1], xs[2]],
        channels: xs[3],
        out_hw: [ys[1], ys[2]],
        kernel: [kernel_shape[0] as usize, kernel_shape[1] as usize],
        stride: [u(strides, 0), u(strides, 1)],
        dilation: [u(dilations, 0), u(dilations, 1)],
        pads,
    };
    pool.validate().ok()?;
    Some(Fast::Pool { pool, x: arena_src(graph, xi)?, y: arena_f32(graph, yi)? })
}

fn unary(graph: &Graph, k: &Kernel, fun: wdnn_descriptor_spec::UnaryFn) -> Option<Fast> {
    let (&xi, &yi) = (k.inputs.first()?, k.outputs.first()?);
    let (x, y) = (arena_src(graph, xi)?, arena_f32(graph, yi)?);
    let Src::Arena { len, .. } = x else { return None };
    (len == y.len()).then_some(Fast::Unary { fun: VectorUnary::new(fun)?, x, y })
}

fn binary(
    graph: &Graph,
    k: &Kernel,
    fun: wdnn_descriptor_spec::BinaryFn,
    store: &mut dyn WeightStore,
) -> Result<Option<Fast>, PlanError> {
    let (Some(&ai), Some(&bi), Some(&yi)) = (k.inputs.first(), k.inputs.get(1), k.outputs.first()) else {
        return Ok(None);
    };
    let shapes = [ai, bi, yi].map(|id| tensor(graph, id).and_then(dims));
    let ([Some(a_dims), Some(b_dims), Some(y_dims)], Some(fun)) = (shapes, VectorBinary::new(fun)) else {
        return Ok(None);
    };
    let (Ok(broadcast), Some(y)) = (Broadcast::new(&a_dims, &b_dims, &y_dims), arena_f32(graph, yi)) else {
        return Ok(None);
    };
    let (Some(a), Some(b)) = (src(graph, ai, store)?, src(graph, bi, store)?) else { return Ok(None) };
    Ok(Some(Fast::Binary { fun, broadcast, a, b, y }))
}

fn chain(
    graph: &Graph,
    k: &Kernel,
    epilogue: &[EpilogueStep],
    store: &mut dyn WeightStore,
) -> Result<Option<Fast>, PlanError> {
    let (Some(&xi), Some(&yi)) = (k.inputs.first(), k.outputs.first()) else { return Ok(None) };
    let (Some(x), Some(y)) = (arena_src(graph, xi), arena_f32(graph, yi)) else { return Ok(None) };
    let Some(ys) = tensor(graph, yi).and_then(dims) else { return Ok(None) };
    let (Src::Arena { len, .. }, Some(&cols)) = (x, ys.last()) else { return Ok(None) };
    if len != y.len() || cols == 0 {
        return Ok(None);
    }
    let Some(steps) = steps(graph, k, epilogue, &ys, cols, store)? else { return Ok(None) };
    Ok(Some(Fast::Chain { x, y, cols, steps }))
}

fn softmax(graph: &Graph, k: &Kernel, axis: u32, log: bool) -> Option<Fast> {
    let (&xi, &yi) = (k.inputs.first()?, k.outputs.first()?);
    let xs = dims(tensor(graph, xi)?)?;
    let axis = axis as usize;
    let extent = *xs.get(axis)?;
    let softmax =
        Softmax { outer: xs[..axis].iter().product(), axis: extent, inner: xs[axis + 1..].iter().product(), log };
    let (x, y) = (arena_src(graph, xi)?, arena_f32(graph, yi)?);
    (y.len() == softmax.outer * softmax.axis * softmax.inner).then_some(Fast::Softmax { softmax, x, y })
}

fn reduce(graph: &Graph, k: &Kernel, fun: wdnn_descriptor_spec::ReduceFn, axes: &[u32]) -> Option<Fast> {
    let (&xi, &yi) = (k.inputs.first()?, k.outputs.first()?);
    let xs = dims(tensor(graph, xi)?)?;
    let (&first, &last) = (axes.first()?, axes.last()?);
    let contiguous = axes.windows(2).all(|w| w[1] == w[0] + 1);
    if !contiguous || last as usize >= xs.len() {
        return None;
    }
    let (first, last) = (first as usize, last as usize);
    let reduce = Reduce {
        fun,
        outer: xs[..first].iter().product(),
        axis: xs[first..=last].iter().product(),
        inner: xs[last + 1..].iter().product(),
    };
    let (x, y) = (arena_src(graph, xi)?, arena_f32(graph, yi)?);
    (reduce.axis > 0 && y.len() == reduce.outer * reduce.inner).then_some(Fast::Reduce { reduce, x, y })
}

fn copy(graph: &Graph, k: &Kernel) -> Option<Fast> {
    let (&xi, &yi) = (k.inputs.first()?, k.outputs.first()?);
    let byte_range = |id| {
        let t = tensor(graph, id)?;
        let Storage::Arena { offset } = t.storage else { return None };
        let start = usize::try_from(offset).ok()?;
        Some(start..start.checked_add(usize::try_from(t.byte_size()).ok()?)?)
    };
    let (x, y) = (byte_range(xi)?, byte_range(yi)?);
    (x.len() == y.len()).then_some(Fast::Copy { x, y })
}
