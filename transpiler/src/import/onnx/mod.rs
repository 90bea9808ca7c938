//! ONNX import through tract: the only module that names `tract_onnx`.
//!
//! tract parses the protobuf, infers types and shapes, and wires each ONNX node into its core ops
//! (`into_typed`); we then let it propagate constants (`prop_consts`: the zoo graphs' `ConstantOfShape` weights
//! become real constants) but not run its full declutter, which re-expresses 1×1 convolutions as einsums and merges
//! parallel convolutions — rewrites that would hide the structure our own optimizer and code generators work on.
//! Each tract op is then lowered by one `lower_*` function, dispatched from [`lower_node`].
//!
//! tract's ONNX front end comes with our [`builders`] registered over some of its own: where tract 0.23.9 drops an
//! attribute (Celu's α, Swish's α, SpaceToDepth's mode, Attention's windows and soft cap) the builder computes what
//! ONNX says or reports the op as unsupported by name; where tract has no builder (LpPool, the two losses,
//! CumProd, BitCast, CenterCropPad, AffineGrid, ReverseSequence, Pad's wrap mode) it expands the op into tract ops we
//! lower, or wraps one of our own ops ([`builders::Native`]).
//!
//! Every tract call runs under `catch_unwind`: a malformed model is an error, never a panic.

mod builders;

use std::collections::{BTreeMap, HashMap};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::array::{
    CumSum, Gather, GatherElements, GatherNd, MultiBroadcastTo, OneHot, Pad, PadMode as TractPadMode, ScatterElements,
    ScatterNd, ScatterReduction as TractScatterReduction, Slice, StridedSlice, Tile, Topk, Trilu, TypedConcat,
};
use tract_onnx::tract_core::ops::binary::TypedBinOp;
use tract_onnx::tract_core::ops::cast::Cast;
use tract_onnx::tract_core::ops::change_axes::AxisOp;
use tract_onnx::tract_core::ops::cnn::{Conv, Deconv, KernelFormat, MaxPool, PoolSpec, SumPool};
use tract_onnx::tract_core::ops::downsample::Downsample;
use tract_onnx::tract_core::ops::einsum::EinSum;
use tract_onnx::tract_core::ops::element_wise::ElementWiseOp;
use tract_onnx::tract_core::ops::konst::Const;
use tract_onnx::tract_core::ops::logic::Iff;
use tract_onnx::tract_core::ops::lstm_cell::LstmEpilogue;
use tract_onnx::tract_core::ops::math::IsInf;
use tract_onnx::tract_core::ops::nn::resize::{CoordTransformer, Interpolator};
use tract_onnx::tract_core::ops::nn::{
    DataFormat, GeluApproximate, GeluExact, LeakyRelu, Reduce, Reducer, Silu, Softmax, SoftmaxKind,
};
use tract_onnx::tract_core::ops::nn::{GridSample, InterpolationMode, PaddingMode as GridPaddingMode};
use tract_onnx::tract_core::ops::scan::{InputMapping, Scan};
use tract_onnx::tract_core::ops::source::TypedSource;
use tract_onnx::tract_hir::infer::Factoid;
use tract_onnx_opl::lrn::Lrn;
use tract_onnx_opl::resize::{CoordTransform, Nearest, Resize};
use tract_transformers::ops::sdpa::Sdpa;
use wdnn_descriptor_spec::op::{GridSamplePadding, ScatterReduction};
use wdnn_descriptor_spec::{
    BinaryFn, DType, NearestMode, Op, PadMode, ReduceFn, ResizeCoordinates, ResizeMode, UnaryFn,
};
use wdnn_runner_core::Tensor;

use crate::error::{ConvertError, Unsupported};
use crate::ir::{Graph, ValueId};

/// Options for reading a model.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// Static shapes for inputs, by name (fixes symbolic dimensions).
    pub input_shapes: Vec<(String, Vec<u64>)>,
}

/// Reads an ONNX file into the IR.
pub fn import(path: &Path, options: &ImportOptions) -> Result<Graph, ConvertError> {
    let file = path.display().to_string();
    let onnx_err = |detail: String| ConvertError::Onnx { file: file.clone(), detail };
    let mut model = guarded(|| builders::onnx().model_for_path(path)).map_err(&onnx_err)?;
    let unimplemented = unimplemented_ops(&model);
    if !unimplemented.is_empty() {
        return Err(ConvertError::UnsupportedOps { file, ops: unimplemented });
    }
    fix_input_shapes(&mut model, options, &file)?;
    let typed = guarded(move || {
        let mut typed = model.into_typed()?;
        typed.prop_consts()?;
        typed.into_compact()
    })
    .map_err(&onnx_err)?;
    let name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "model".to_string());
    Lowering::new(&typed, &name, &file)?.run()
}

/// Runs `f`, turning both errors and panics into a message.
fn guarded<T>(f: impl FnOnce() -> TractResult<T>) -> Result<T, String> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(format!("{e:?}")),
        Err(panic) => {
            let msg = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown panic".to_string());
            Err(format!("tract panicked: {msg}"))
        }
    }
}

/// ONNX op types tract does not know, with the nodes using them.
fn unimplemented_ops(model: &InferenceModel) -> Vec<Unsupported> {
    let mut by_op = BTreeMap::<String, Vec<String>>::new();
    for node in model.nodes() {
        let op_name = node.op.name();
        if let Some(inner) = op_name.strip_prefix("Unimplemented(").and_then(|s| s.strip_suffix(')')) {
            by_op.entry(inner.to_string()).or_default().push(node.name.clone());
        }
    }
    by_op.into_iter().map(|(op, nodes)| Unsupported { op, nodes }).collect()
}

fn fix_input_shapes(model: &mut InferenceModel, options: &ImportOptions, file: &str) -> Result<(), ConvertError> {
    let inputs: Vec<OutletId> = model.input_outlets().map(|o| o.to_vec()).unwrap_or_default();
    for (name, dims) in &options.input_shapes {
        let bad = |detail: String| ConvertError::BadInputShape { file: file.to_string(), input: name.clone(), detail };
        let index = inputs.iter().position(|o| model.node(o.node).name == *name).ok_or_else(|| {
            let known: Vec<String> = inputs.iter().map(|o| model.node(o.node).name.clone()).collect();
            bad(format!("the model has no such input (its inputs: {})", known.join(", ")))
        })?;
        let fact = model.input_fact(index).map_err(|e| bad(e.to_string()))?.clone();
        if let Some(rank) = fact.shape.rank().concretize()
            && rank as usize != dims.len()
        {
            return Err(bad(format!("the input has rank {rank}, {} dimensions given", dims.len())));
        }
        let dt = fact.datum_type.concretize().unwrap_or(f32::datum_type());
        let shape: Vec<usize> = dims.iter().map(|&d| d as usize).collect();
        model.set_input_fact(index, InferenceFact::dt_shape(dt, &shape)).map_err(|e| bad(e.to_string()))?;
    }
    Ok(())
}

/// Lowers a typed tract model into the IR, collecting every unsupported op before failing.
struct Lowering<'m> {
    model: &'m TypedModel,
    file: String,
    graph: Graph,
    values: HashMap<OutletId, ValueId>,
    unsupported: BTreeMap<String, Vec<String>>,
}

/// Why one node could not be lowered: the op label for the grouped error.
struct NotSupported(String);

type Lowered = Result<(), NotSupported>;

fn unsupported<T>(what: impl Into<String>) -> Result<T, NotSupported> {
    Err(NotSupported(what.into()))
}

impl<'m> Lowering<'m> {
    fn new(model: &'m TypedModel, name: &str, file: &str) -> Result<Lowering<'m>, ConvertError> {
        Ok(Lowering {
            model,
            file: file.to_string(),
            graph: Graph::new(name),
            values: HashMap::new(),
            unsupported: BTreeMap::new(),
        })
    }

    fn run(mut self) -> Result<Graph, ConvertError> {
        let file = self.file.clone();
        let onnx_err = |detail: String| ConvertError::Onnx { file: file.clone(), detail };
        let order = self.model.eval_order().map_err(|e| onnx_err(format!("{e:?}")))?;
        let inputs = self.model.input_outlets().map_err(|e| onnx_err(format!("{e:?}")))?.to_vec();
        for outlet in &inputs {
            let node = self.model.node(outlet.node);
            let fact = self.fact(*outlet).map_err(|NotSupported(s)| onnx_err(s))?;
            let (dtype, shape) = match fact {
                Some(ds) => ds,
                None => {
                    return Err(ConvertError::SymbolicInput {
                        file: self.file.clone(),
                        input: node.name.clone(),
                        shape: format!("{:?}", node.outputs[0].fact.shape),
                    });
                }
            };
            let id = self.graph.add_value(&node.name, dtype, &shape);
            self.graph.inputs.push(id);
            self.values.insert(*outlet, id);
        }
        for &id in &order {
            let node = self.model.node(id);
            if node.op_as::<TypedSource>().is_some() {
                continue;
            }
            if let Err(NotSupported(what)) = self.lower_node(node) {
                self.unsupported.entry(what).or_default().push(node.name.clone());
            }
        }
        if !self.unsupported.is_empty() {
            let ops = self.unsupported.into_iter().map(|(op, nodes)| Unsupported { op, nodes }).collect();
            return Err(ConvertError::UnsupportedOps { file: self.file, ops });
        }
        for outlet in self.model.output_outlets().map_err(|e| onnx_err(format!("{e:?}")))? {
            let name = self
                .model
                .outlet_label(*outlet)
                .map(str::to_string)
                .unwrap_or_else(|| self.model.node(outlet.node).name.clone());
            let value = *self.values.get(outlet).ok_or_else(|| onnx_err(format!("output `{name}` was not lowered")))?;
            self.graph.outputs.push((name, value));
        }
        Ok(self.graph)
    }

    /// The static dtype and shape of an outlet, None when a dimension is symbolic.
    fn fact(&self, outlet: OutletId) -> Result<Option<(DType, Vec<u64>)>, NotSupported> {
        let fact = self.model.outlet_fact(outlet).map_err(|e| NotSupported(format!("{e:?}")))?;
        let dtype = dtype_of(fact.datum_type)?;
        let shape: Option<Vec<u64>> = fact.shape.iter().map(|d| d.to_i64().ok().map(|v| v as u64)).collect();
        Ok(shape.map(|s| (dtype, s)))
    }

    fn input(&self, node: &TypedNode, slot: usize) -> Result<ValueId, NotSupported> {
        let outlet =
            node.inputs.get(slot).ok_or_else(|| NotSupported(format!("{} (missing input {slot})", node.op.name())))?;
        // An input whose producer failed to lower is reported under the producer's op, not here.
        self.values
            .get(outlet)
            .copied()
            .ok_or_else(|| NotSupported(format!("{} (input of unsupported op)", node.op.name())))
    }

    fn inputs(&self, node: &TypedNode) -> Result<Vec<ValueId>, NotSupported> {
        (0..node.inputs.len()).map(|slot| self.input(node, slot)).collect()
    }

    /// Creates the IR value for output `slot` of `node`.
    fn output(&mut self, node: &TypedNode, slot: usize) -> Result<ValueId, NotSupported> {
        let outlet = OutletId::new(node.id, slot);
        let (dtype, shape) = self.fact(outlet)?.ok_or_else(|| {
            NotSupported(format!("{} (output shape still symbolic: fix the input shapes)", node.op.name()))
        })?;
        let name = self.model.outlet_label(outlet).map(str::to_string).unwrap_or_else(|| node.name.clone());
        let id = self.graph.add_value(&name, dtype, &shape);
        self.values.insert(outlet, id);
        Ok(id)
    }

    /// Adds an IR node computing `op` from `inputs` into output 0 of `node`.
    fn emit(&mut self, node: &TypedNode, op: Op, inputs: &[ValueId]) -> Lowered {
        let out = self.output(node, 0)?;
        self.graph.add_node(&node.name, op, inputs, &[out]);
        Ok(())
    }

    /// Adds an intermediate value and the node computing it; for lowerings that need several IR nodes.
    fn emit_temp(&mut self, name: &str, op: Op, inputs: &[ValueId], dtype: DType, shape: &[u64]) -> ValueId {
        let out = self.graph.add_value(name, dtype, shape);
        self.graph.add_node(name, op, inputs, &[out]);
        out
    }

    fn alias(&mut self, node: &TypedNode, slot: usize, to: ValueId) {
        self.values.insert(OutletId::new(node.id, slot), to);
    }

    fn constant_of(&self, id: ValueId) -> Option<&Tensor> {
        self.graph.constant(id)
    }

    fn lower_node(&mut self, node: &'m TypedNode) -> Lowered {
        let op: &dyn TypedOp = node.op.as_ref();
        if let Some(k) = op.downcast_ref::<Const>() {
            let tensor = tensor_from_tract(k.val())?;
            let name = self.model.outlet_label(OutletId::new(node.id, 0)).unwrap_or(&node.name).to_string();
            let id = self.graph.add_constant(&name, tensor);
            self.alias(node, 0, id);
            return Ok(());
        }
        let name = op.name();
        match name.as_ref() {
            "Identity" => {
                let x = self.input(node, 0)?;
                self.alias(node, 0, x);
                return Ok(());
            }
            "Dropout" => {
                // tract's declutter removes a Dropout exactly when it provably acts as in inference (no training
                // mode, or a zero ratio); then the output is the input and the mask is all true.
                if !matches!(op.declutter(self.model, node), Ok(Some(_))) {
                    return unsupported("Dropout (training mode)");
                }
                let x = self.input(node, 0)?;
                self.alias(node, 0, x);
                if node.outputs.len() > 1 {
                    let shape = self.graph.value(x).shape.clone();
                    let ones = vec![true; shape.iter().product::<u64>() as usize];
                    let mask = Tensor::new(&shape, &ones).map_err(|e| NotSupported(e.to_string()))?;
                    let id = self.graph.add_constant(&format!("{}.mask", node.name), mask);
                    self.alias(node, 1, id);
                }
                return Ok(());
            }
            _ => {}
        }
        if let Some(conv) = op.downcast_ref::<Conv>() {
            return self.lower_conv(node, conv);
        }
        if let Some(deconv) = op.downcast_ref::<Deconv>() {
            return self.lower_deconv(node, deconv);
        }
        if let Some(pool) = op.downcast_ref::<MaxPool>() {
            if pool.with_index_outputs.is_some() {
                return unsupported("MaxPool (with indices output)");
            }
            let (kernel_shape, strides, dilations, pads) = self.pool_geometry(node, &pool.pool_spec)?;
            let x = self.input(node, 0)?;
            return self.emit(node, Op::MaxPool { kernel_shape, strides, dilations, pads, channels_last: false }, &[x]);
        }
        if let Some(pool) = op.downcast_ref::<SumPool>() {
            let (kernel_shape, strides, dilations, pads) = self.pool_geometry(node, &pool.pool_spec)?;
            let x = self.input(node, 0)?;
            if pool.normalize {
                let op = Op::AveragePool {
                    kernel_shape,
                    strides,
                    dilations,
                    pads,
                    count_include_pad: pool.count_include_pad,
                    channels_last: false,
                };
                return self.emit(node, op, &[x]);
            }
            // A window sum: the average over the window's positions inside the input, times their number.
            let (dtype, out_shape) =
                self.fact(OutletId::new(node.id, 0))?.ok_or_else(|| NotSupported("SumPool (symbolic)".into()))?;
            let in_shape = self.graph.value(x).shape.clone();
            let counts = window_counts(&in_shape[2..], &out_shape[2..], &kernel_shape, &strides, &dilations, &pads);
            let mut count_shape = vec![1, 1];
            count_shape.extend_from_slice(&out_shape[2..]);
            if dtype != DType::F32 {
                return unsupported(format!("SumPool (unnormalized, {dtype})"));
            }
            let counts = Tensor::new(&count_shape, &counts).map_err(|e| NotSupported(e.to_string()))?;
            let counts = self.graph.add_constant(&format!("{}.counts", node.name), counts);
            let op = Op::AveragePool {
                kernel_shape,
                strides,
                dilations,
                pads,
                count_include_pad: false,
                channels_last: false,
            };
            let avg = self.emit_temp(&format!("{}.average", node.name), op, &[x], dtype, &out_shape);
            return self.emit(node, Op::Binary { fun: BinaryFn::Mul }, &[avg, counts]);
        }
        if let Some(einsum) = op.downcast_ref::<EinSum>() {
            return self.lower_einsum(node, einsum);
        }
        if let Some(bin) = op.downcast_ref::<TypedBinOp>() {
            let inputs = self.inputs(node)?;
            if bin.0.name() == "NE" {
                let shape = self.fact(OutletId::new(node.id, 0))?.map(|f| f.1).unwrap_or_default();
                let eq = self.emit_temp(
                    &format!("{}.eq", node.name),
                    Op::Binary { fun: BinaryFn::Equal },
                    &inputs,
                    DType::Bool,
                    &shape,
                );
                return self.emit(node, Op::Unary { fun: UnaryFn::Not }, &[eq]);
            }
            let fun = binary_fn(bin.0.name())?;
            return self.emit(node, Op::Binary { fun }, &inputs);
        }
        if let Some(ew) = op.downcast_ref::<ElementWiseOp>() {
            let x = self.input(node, 0)?;
            if ew.0.downcast_ref::<Silu>().is_some() {
                // x · sigmoid(x)
                let value = self.graph.value(x).clone();
                let name = format!("{}.sigmoid", node.name);
                let sig = self.emit_temp(&name, Op::Unary { fun: UnaryFn::Sigmoid }, &[x], value.dtype, &value.shape);
                return self.emit(node, Op::Binary { fun: BinaryFn::Mul }, &[x, sig]);
            }
            let fun = unary_fn(ew)?;
            return self.emit(node, Op::Unary { fun }, &[x]);
        }
        if op.downcast_ref::<Cast>().is_some() {
            let x = self.input(node, 0)?;
            return self.emit(node, Op::Cast, &[x]);
        }
        if let Some(axis_op) = op.downcast_ref::<AxisOp>() {
            let x = self.input(node, 0)?;
            let op = match axis_op {
                &AxisOp::Move(from, to) => {
                    let rank = self.graph.value(x).shape.len();
                    let mut perm: Vec<u32> = (0..rank as u32).collect();
                    let moved = perm.remove(from);
                    perm.insert(to, moved);
                    Op::Transpose { perm }
                }
                _ => Op::Reshape,
            };
            return self.emit(node, op, &[x]);
        }
        if let Some(concat) = op.downcast_ref::<TypedConcat>() {
            let inputs = self.inputs(node)?;
            return self.emit(node, Op::Concat { axis: concat.axis as u32 }, &inputs);
        }
        if let Some(slice) = op.downcast_ref::<Slice>() {
            let start = slice.start.to_i64().map_err(|_| NotSupported("Slice (symbolic start)".into()))?;
            let x = self.input(node, 0)?;
            let op = Op::Slice { axes: vec![slice.axis as u32], starts: vec![start], steps: vec![1] };
            return self.emit(node, op, &[x]);
        }
        if let Some(scan) = op.downcast_ref::<Scan>() {
            return self.lower_scan(node, scan);
        }
        if let Some(lstm) = op.downcast_ref::<LstmEpilogue>() {
            return self.lower_lstm_epilogue(node, lstm.hidden as u64);
        }
        if let Some(cs) = op.downcast_ref::<CumSum>() {
            let x = self.input(node, 0)?;
            let op = Op::CumSum { axis: cs.axis as u32, exclusive: cs.exclusive, reverse: cs.reverse };
            return self.emit(node, op, &[x]);
        }
        if let Some(native) = op.downcast_ref::<builders::Native>() {
            let inputs = self.inputs(node)?;
            return self.emit(node, native.op.clone(), &inputs);
        }
        if let Some(topk) = op.downcast_ref::<Topk>() {
            let x = self.input(node, 0)?;
            let (values, indices) = (self.output(node, 0)?, self.output(node, 1)?);
            let op = Op::TopK { axis: topk.axis as u32, largest: topk.largest };
            self.graph.add_node(&node.name, op, &[x], &[values, indices]);
            return Ok(());
        }
        if let Some(g) = op.downcast_ref::<GatherNd>() {
            let inputs = self.inputs(node)?;
            return self.emit(node, Op::GatherNd { batch_dims: g.batch_dims as u32 }, &inputs);
        }
        if let Some(sc) = op.downcast_ref::<ScatterNd>() {
            let inputs = self.inputs(node)?;
            return self.emit(node, Op::ScatterNd { reduction: scatter_reduction(sc.reduction) }, &inputs);
        }
        if let Some(sc) = op.downcast_ref::<ScatterElements>() {
            let inputs = self.inputs(node)?;
            let op = Op::ScatterElements { axis: sc.axis as u32, reduction: scatter_reduction(sc.reduction) };
            return self.emit(node, op, &inputs);
        }
        if let Some(gs) = op.downcast_ref::<GridSample>() {
            let inputs = self.inputs(node)?;
            let mode = match gs.mode {
                InterpolationMode::Bilinear => ResizeMode::Linear,
                InterpolationMode::Nearest => ResizeMode::Nearest,
                InterpolationMode::Bicubic => ResizeMode::Cubic,
            };
            let padding = match gs.padding_mode {
                GridPaddingMode::Zeros => GridSamplePadding::Zeros,
                GridPaddingMode::Border => GridSamplePadding::Border,
                GridPaddingMode::Reflection => GridSamplePadding::Reflection,
            };
            return self.emit(node, Op::GridSample { mode, padding, align_corners: gs.align_corners }, &inputs);
        }
        if let Some(sdpa) = op.downcast_ref::<Sdpa>() {
            return self.lower_sdpa(node, sdpa);
        }
        if let Some(one_hot) = op.downcast_ref::<OneHot>() {
            return self.lower_one_hot(node, one_hot);
        }
        if let Some(trilu) = op.downcast_ref::<Trilu>() {
            return self.lower_trilu(node, trilu.upper);
        }
        if let Some(ss) = op.downcast_ref::<StridedSlice>() {
            return self.lower_strided_slice(node, ss);
        }
        if let Some(ds) = op.downcast_ref::<Downsample>() {
            let x = self.input(node, 0)?;
            let len = self.graph.value(x).shape.get(ds.axis).copied().unwrap_or(0) as i64;
            let start = if ds.stride > 0 { ds.modulo as i64 } else { len - 1 };
            let op = Op::Slice { axes: vec![ds.axis as u32], starts: vec![start], steps: vec![ds.stride as i64] };
            return self.emit(node, op, &[x]);
        }
        if let Some(gather) = op.downcast_ref::<Gather>() {
            let inputs = self.inputs(node)?;
            return self.emit(node, Op::Gather { axis: gather.axis as u32 }, &inputs);
        }
        if let Some(gather) = op.downcast_ref::<GatherElements>() {
            let inputs = self.inputs(node)?;
            return self.emit(node, Op::GatherElements { axis: gather.axis as u32 }, &inputs);
        }
        if op.downcast_ref::<MultiBroadcastTo>().is_some() {
            let x = self.input(node, 0)?;
            return self.emit(node, Op::Expand, &[x]);
        }
        if op.downcast_ref::<Tile>().is_some() {
            let x = self.input(node, 0)?;
            return self.emit(node, Op::Tile, &[x]);
        }
        if op.downcast_ref::<Iff>().is_some() {
            let inputs = self.inputs(node)?;
            return self.emit(node, Op::Where, &inputs);
        }
        if let Some(pad) = op.downcast_ref::<Pad>() {
            return self.lower_pad(node, pad);
        }
        if let Some(softmax) = op.downcast_ref::<Softmax>() {
            return self.lower_softmax(node, softmax);
        }
        if let Some(reduce) = op.downcast_ref::<Reduce>() {
            return self.lower_reduce(node, reduce);
        }
        if let Some(lrn) = op.downcast_ref::<Lrn>() {
            let x = self.input(node, 0)?;
            let op = Op::Lrn { size: lrn.size as u32, alpha: lrn.alpha, beta: lrn.beta, bias: lrn.bias };
            return self.emit(node, op, &[x]);
        }
        if let Some(resize) = op.downcast_ref::<Resize>() {
            return self.lower_resize(node, resize);
        }
        unsupported(name.to_string())
    }

    fn lower_conv(&mut self, node: &TypedNode, conv: &Conv) -> Lowered {
        if conv.q_params.is_some() {
            return unsupported("Conv (quantized)");
        }
        if !matches!(conv.pool_spec.data_format, DataFormat::NCHW) || !matches!(conv.kernel_fmt, KernelFormat::OIHW) {
            return unsupported(format!("Conv ({:?} data, {:?} kernel)", conv.pool_spec.data_format, conv.kernel_fmt));
        }
        let (_, strides, dilations, pads) = self.pool_geometry(node, &conv.pool_spec)?;
        let x = self.input(node, 0)?;
        let w = self.input(node, 1)?;
        let mut inputs = vec![x, w];
        if let Some(bias) = self.bias_input(node, 2, conv.pool_spec.output_channels)? {
            inputs.push(bias);
        }
        let op =
            Op::Conv { group: conv.group as u32, strides, dilations, pads, channels_last: false, epilogue: vec![] };
        self.emit(node, op, &inputs)
    }

    fn lower_deconv(&mut self, node: &TypedNode, deconv: &Deconv) -> Lowered {
        if !matches!(deconv.pool_spec.data_format, DataFormat::NCHW)
            || !matches!(deconv.kernel_format, KernelFormat::OIHW)
        {
            return unsupported("ConvTranspose (layout)");
        }
        let x = self.input(node, 0)?;
        let w = self.deconv_kernel_to_onnx(node, deconv.group)?;
        let in_shape = self.graph.value(x).shape.clone();
        let spatial: Vec<usize> = in_shape[2..].iter().map(|&d| d as usize).collect();
        let padded = deconv.pool_spec.padding.compute_for_deconv(
            &spatial,
            &deconv.pool_spec.kernel_shape,
            &deconv.pool_spec.dilations(),
            &deconv.pool_spec.strides(),
            &deconv.adjustments,
        );
        let padded = padded.map_err(|e| NotSupported(format!("ConvTranspose ({e})")))?;
        let mut pads: Vec<u32> = padded.iter().map(|p| p.pad_before as u32).collect();
        pads.extend(padded.iter().map(|p| p.pad_after as u32));
        let strides = deconv.pool_spec.strides().iter().map(|&s| s as u32).collect();
        let dilations = deconv.pool_spec.dilations().iter().map(|&s| s as u32).collect();
        let mut inputs = vec![x, w];
        if let Some(bias) = self.bias_input(node, 2, deconv.pool_spec.output_channels)? {
            inputs.push(bias);
        }
        let op = Op::ConvTranspose {
            group: deconv.group as u32,
            strides,
            dilations,
            pads,
            channels_last: false,
            epilogue: vec![],
        };
        self.emit(node, op, &inputs)
    }

    /// tract hands `Deconv` its kernel regrouped as `[group·O/group, I/group, k…]` (ONNX's `[I, O/group, k…]` split
    /// by group, the two channel axes swapped, merged again); this undoes that for our ONNX-layout ConvTranspose.
    /// For a constant kernel the reshapes and the transpose fold away.
    fn deconv_kernel_to_onnx(&mut self, node: &TypedNode, group: usize) -> Result<ValueId, NotSupported> {
        let w = self.input(node, 1)?;
        let value = self.graph.value(w).clone();
        let (g, shape) = (group as u64, &value.shape);
        if shape.len() < 3 || g == 0 || shape[0] % g != 0 {
            return unsupported("ConvTranspose (kernel shape)");
        }
        let (og, ig, k) = (shape[0] / g, shape[1], &shape[2..]);
        let grouped: Vec<u64> = [g, og, ig].iter().chain(k).copied().collect();
        let swapped: Vec<u64> = [g, ig, og].iter().chain(k).copied().collect();
        let onnx: Vec<u64> = [g * ig, og].iter().chain(k).copied().collect();
        let mut perm: Vec<u32> = vec![0, 2, 1];
        perm.extend(3..grouped.len() as u32);
        let name = &node.name;
        let split = self.emit_temp(&format!("{name}.kernel.split"), Op::Reshape, &[w], value.dtype, &grouped);
        let t = self.emit_temp(&format!("{name}.kernel.swap"), Op::Transpose { perm }, &[split], value.dtype, &swapped);
        Ok(self.emit_temp(&format!("{name}.kernel.onnx"), Op::Reshape, &[t], value.dtype, &onnx))
    }

    /// A conv bias as an `[O]` tensor, or None when absent or all zeros.
    fn bias_input(&mut self, node: &TypedNode, slot: usize, channels: usize) -> Result<Option<ValueId>, NotSupported> {
        if node.inputs.len() <= slot {
            return Ok(None);
        }
        let bias = self.input(node, slot)?;
        let value = self.graph.value(bias).clone();
        if value.numel() == channels as u64 && value.shape.len() == 1 {
            return Ok(Some(bias));
        }
        let Some(constant) = &value.constant else { return unsupported("Conv (non-constant scalar bias)") };
        let values = constant.to_vec::<f32>().map_err(|e| NotSupported(format!("Conv bias ({e})")))?;
        if values.iter().all(|v| *v == 0.0) {
            return Ok(None);
        }
        let full = vec![values[0]; channels];
        let tensor = Tensor::new(&[channels as u64], &full).map_err(|e| NotSupported(e.to_string()))?;
        Ok(Some(self.graph.add_constant(&format!("{}.bias", node.name), tensor)))
    }

    /// Kernel shape, strides, dilations and explicit pads (begins then ends) of a pooling or conv spec.
    #[allow(clippy::type_complexity)]
    fn pool_geometry(
        &self,
        node: &TypedNode,
        spec: &PoolSpec,
    ) -> Result<(Vec<u32>, Vec<u32>, Vec<u32>, Vec<u32>), NotSupported> {
        let x = self.input(node, 0)?;
        let shape = &self.graph.value(x).shape;
        let spatial: Vec<usize> = match spec.data_format {
            DataFormat::NCHW => shape[2..].iter().map(|&d| d as usize).collect(),
            other => return unsupported(format!("{} ({other:?} layout)", node.op.name())),
        };
        let padded = spec.computed_padding(&spatial);
        let mut pads: Vec<u32> = padded.iter().map(|p| p.pad_before as u32).collect();
        pads.extend(padded.iter().map(|p| p.pad_after as u32));
        let to_u32 = |v: &[usize]| v.iter().map(|&d| d as u32).collect::<Vec<u32>>();
        Ok((to_u32(&spec.kernel_shape), to_u32(&spec.strides()), to_u32(&spec.dilations()), pads))
    }

    /// A tract `Scan` (what ONNX `LSTM`, `GRU`, `RNN` and `Scan` become), unrolled: shapes are static, so the
    /// iteration count is known, and the body is lowered once per iteration, its scanned inputs sliced out of the
    /// outer ones, its states carried from one iteration to the next, its scanned outputs concatenated. The body's
    /// constants are lowered once for all iterations.
    fn lower_scan(&mut self, node: &'m TypedNode, scan: &'m Scan) -> Lowered {
        if scan.skip != 0 || scan.external_state {
            return unsupported("Scan (skip or external state)");
        }
        let body: &'m TypedModel = &scan.body;
        let outer = self.inputs(node)?;
        let mut iters: Option<u64> = None;
        for (slot, m) in scan.input_mapping.iter().enumerate() {
            if let InputMapping::Scan(info) = m {
                let len = *self
                    .graph
                    .value(outer[slot])
                    .shape
                    .get(info.axis)
                    .ok_or_else(|| NotSupported("Scan (axis)".into()))?;
                let chunk = info.chunk.unsigned_abs() as u64;
                if chunk == 0 || len % chunk != 0 || (info.chunk < 0 && chunk != 1) {
                    return unsupported("Scan (chunk)");
                }
                if iters.replace(len / chunk).is_some_and(|n| n != len / chunk) {
                    return unsupported("Scan (iteration counts differ)");
                }
            }
        }
        let iters = iters.ok_or_else(|| NotSupported("Scan (no scanned input)".into()))?;
        let body_inputs = body.input_outlets().map_err(|e| NotSupported(format!("Scan body ({e})")))?.to_vec();
        let body_outputs = body.output_outlets().map_err(|e| NotSupported(format!("Scan body ({e})")))?.to_vec();
        if body_inputs.len() != scan.input_mapping.len() || body_outputs.len() != scan.output_mapping.len() {
            return unsupported("Scan (mappings)");
        }
        let order = body.eval_order().map_err(|e| NotSupported(format!("Scan body ({e})")))?;
        let saved_model = std::mem::replace(&mut self.model, body);
        let saved_values = std::mem::take(&mut self.values);
        let result = self.unroll_scan(node, scan, &outer, iters, (&body_inputs, &body_outputs), &order);
        self.model = saved_model;
        self.values = saved_values;
        let (scanned, last) = result?;
        for (ix, mapping) in scan.output_mapping.iter().enumerate() {
            if let Some((slot, info)) = mapping.scan {
                let parts = &scanned[ix];
                let out = OutletId::new(node.id, slot);
                let (dtype, shape) = self.fact(out)?.ok_or_else(|| NotSupported("Scan (symbolic output)".into()))?;
                let id = self.graph.add_value(&format!("{}.{slot}", node.name), dtype, &shape);
                let mut ordered = parts.clone();
                if info.chunk < 0 {
                    ordered.reverse();
                }
                self.graph.add_node(
                    &format!("{}.concat{slot}", node.name),
                    Op::Concat { axis: info.axis as u32 },
                    &ordered,
                    &[id],
                );
                self.values.insert(out, id);
            }
            if let (Some(slot), Some(v)) = (mapping.last_value_slot, last[ix]) {
                self.alias(node, slot, v);
            }
        }
        Ok(())
    }

    /// The iterations of [`Self::lower_scan`], with `self.model` the body: per body output, its value at every
    /// iteration (scanned outputs) and at the last one.
    #[allow(clippy::type_complexity)]
    fn unroll_scan(
        &mut self,
        node: &TypedNode,
        scan: &Scan,
        outer: &[ValueId],
        iters: u64,
        (body_inputs, body_outputs): (&[OutletId], &[OutletId]),
        order: &[usize],
    ) -> Result<(Vec<Vec<ValueId>>, Vec<Option<ValueId>>), NotSupported> {
        let body = self.model;
        // Constants once.
        let mut consts = HashMap::new();
        for &id in order {
            let n = body.node(id);
            if n.op_as::<Const>().is_some() {
                self.lower_node(n)?;
                consts.insert(OutletId::new(id, 0), self.values[&OutletId::new(id, 0)]);
            }
        }
        let mut states: Vec<ValueId> =
            scan.input_mapping.iter().enumerate().filter(|(_, m)| m.is_state()).map(|(slot, _)| outer[slot]).collect();
        let mut scanned = vec![Vec::new(); body_outputs.len()];
        let mut last = vec![None; body_outputs.len()];
        for i in 0..iters {
            self.values = consts.clone();
            let mut next_state = states.iter();
            for (slot, m) in scan.input_mapping.iter().enumerate() {
                let value = match m {
                    InputMapping::Full => outer[slot],
                    InputMapping::State => *next_state.next().ok_or_else(|| NotSupported("Scan (states)".into()))?,
                    InputMapping::Scan(info) => {
                        let x = self.graph.value(outer[slot]).clone();
                        let chunk = info.chunk.unsigned_abs() as u64;
                        let start = if info.chunk < 0 { x.shape[info.axis] - 1 - i } else { i * chunk };
                        let mut shape = x.shape.clone();
                        shape[info.axis] = chunk;
                        let op = Op::Slice { axes: vec![info.axis as u32], starts: vec![start as i64], steps: vec![1] };
                        let name = format!("{}.iter{i}.in{slot}", node.name);
                        self.emit_temp(&name, op, &[outer[slot]], x.dtype, &shape)
                    }
                };
                self.values.insert(body_inputs[slot], value);
            }
            for &id in order {
                let n = body.node(id);
                if n.op_as::<TypedSource>().is_some() || n.op_as::<Const>().is_some() {
                    continue;
                }
                self.lower_node(n)?;
            }
            let values: Vec<ValueId> = body_outputs
                .iter()
                .map(|o| self.values.get(o).copied().ok_or_else(|| NotSupported("Scan (body output)".into())))
                .collect::<Result<_, _>>()?;
            states.clear();
            for (ix, (mapping, &v)) in scan.output_mapping.iter().zip(&values).enumerate() {
                if mapping.scan.is_some() {
                    scanned[ix].push(v);
                }
                if i + 1 == iters {
                    last[ix] = Some(v);
                }
                if mapping.state {
                    states.push(v);
                }
            }
        }
        Ok((scanned, last))
    }

    /// tract's fused LSTM cell: gate pre-activations `[…, 4h]` (ONNX order i, o, f, c) and the previous cell
    /// `[…, h]` give `Ct = σ(f)·c_prev + σ(i)·tanh(c)` and `Ht = σ(o)·tanh(Ct)`.
    fn lower_lstm_epilogue(&mut self, node: &TypedNode, hidden: u64) -> Lowered {
        let (pre, c_prev) = (self.input(node, 0)?, self.input(node, 1)?);
        let p = self.graph.value(pre).clone();
        let last = p.shape.len().checked_sub(1).ok_or_else(|| NotSupported("LstmEpilogue (rank)".into()))?;
        if p.shape[last] != 4 * hidden {
            return unsupported("LstmEpilogue (shape)");
        }
        let mut gate_shape = p.shape.clone();
        gate_shape[last] = hidden;
        let name = node.name.clone();
        let gate = |this: &mut Self, k: u64, what: &str, fun: UnaryFn| {
            let op = Op::Slice { axes: vec![last as u32], starts: vec![(k * hidden) as i64], steps: vec![1] };
            let raw = this.emit_temp(&format!("{name}.{what}.pre"), op, &[pre], p.dtype, &gate_shape);
            this.emit_temp(&format!("{name}.{what}"), Op::Unary { fun }, &[raw], p.dtype, &gate_shape)
        };
        let i = gate(self, 0, "i", UnaryFn::Sigmoid);
        let o = gate(self, 1, "o", UnaryFn::Sigmoid);
        let f = gate(self, 2, "f", UnaryFn::Sigmoid);
        let c = gate(self, 3, "c", UnaryFn::Tanh);
        let (h_out, c_out) = (self.output(node, 0)?, self.output(node, 1)?);
        let ct_shape = self.graph.value(c_out).shape.clone();
        let kept = self.emit_temp(
            &format!("{name}.kept"),
            Op::Binary { fun: BinaryFn::Mul },
            &[f, c_prev],
            p.dtype,
            &ct_shape,
        );
        let added =
            self.emit_temp(&format!("{name}.added"), Op::Binary { fun: BinaryFn::Mul }, &[i, c], p.dtype, &gate_shape);
        self.graph.add_node(&format!("{name}.cell"), Op::Binary { fun: BinaryFn::Add }, &[kept, added], &[c_out]);
        let squashed = self.emit_temp(
            &format!("{name}.tanh_cell"),
            Op::Unary { fun: UnaryFn::Tanh },
            &[c_out],
            p.dtype,
            &ct_shape,
        );
        self.graph.add_node(&format!("{name}.hidden"), Op::Binary { fun: BinaryFn::Mul }, &[o, squashed], &[h_out]);
        Ok(())
    }

    /// A float scalar constant of `dtype` (f32 or f16; an f16 one goes through a `Cast` that folding removes).
    fn float_scalar(&mut self, name: &str, v: f32, dtype: DType) -> Result<ValueId, NotSupported> {
        let c = self.graph.add_constant(name, Tensor::new(&[], &[v]).map_err(|e| NotSupported(e.to_string()))?);
        match dtype {
            DType::F32 => Ok(c),
            DType::F16 | DType::F64 => Ok(self.emit_temp(&format!("{name}.cast"), Op::Cast, &[c], dtype, &[])),
            other => unsupported(format!("{} on {other}", "float constant")),
        }
    }

    /// Scaled dot-product attention (ONNX `Attention`, which tract turns into `Sdpa` on `[B, H, S, D]` tensors):
    /// `softmax(Q·Kᵀ·scale + mask)·V`, K and V heads repeated for grouped-query attention, a bool mask meaning
    /// "attend" where true.
    fn lower_sdpa(&mut self, node: &TypedNode, sdpa: &Sdpa) -> Lowered {
        if sdpa.is_causal {
            return unsupported("SDPA (causal with symbolic sequence lengths)");
        }
        let (q, k, v) = (self.input(node, 0)?, self.input(node, 1)?, self.input(node, 2)?);
        let (qv, kv, vv) = (self.graph.value(q).clone(), self.graph.value(k).clone(), self.graph.value(v).clone());
        let [b, hq, sq, d] = qv.shape[..] else { return unsupported("SDPA (rank)") };
        let ([_, hk, skv, _], [_, _, _, dv]) = (&kv.shape[..], &vv.shape[..]) else {
            return unsupported("SDPA (rank)");
        };
        let (hk, skv, dv) = (*hk, *skv, *dv);
        if hk == 0 || hq % hk != 0 {
            return unsupported("SDPA (head counts)");
        }
        let dtype = qv.dtype;
        let name = node.name.clone();
        let repeat = |this: &mut Self, x: ValueId, which: &str, last: u64| {
            let g = hq / hk;
            if g == 1 {
                return x;
            }
            let dt = this.graph.value(x).dtype;
            let r = this.emit_temp(&format!("{name}.{which}.unsqueeze"), Op::Reshape, &[x], dt, &[b, hk, 1, skv, last]);
            let e = this.emit_temp(&format!("{name}.{which}.expand"), Op::Expand, &[r], dt, &[b, hk, g, skv, last]);
            this.emit_temp(&format!("{name}.{which}.heads"), Op::Reshape, &[e], dt, &[b, hq, skv, last])
        };
        let k = repeat(self, k, "k", d);
        let v = repeat(self, v, "v", dv);
        let scores_shape = [b, hq, sq, skv];
        let mm = Op::MatMul { transpose_a: false, transpose_b: true, epilogue: vec![] };
        let scores = self.emit_temp(&format!("{name}.scores"), mm, &[q, k], dtype, &scores_shape);
        let scale = match &sdpa.scale {
            Some(t) => t.cast_to_scalar::<f32>().map_err(|e| NotSupported(format!("SDPA scale ({e})")))?,
            None => 1.0 / (d as f32).sqrt(),
        };
        let scale = self.float_scalar(&format!("{name}.scale"), scale, dtype)?;
        let mut logits = self.emit_temp(
            &format!("{name}.scaled"),
            Op::Binary { fun: BinaryFn::Mul },
            &[scores, scale],
            dtype,
            &scores_shape,
        );
        if node.inputs.len() > 3 {
            let mut mask = self.input(node, 3)?;
            let m = self.graph.value(mask).clone();
            if m.dtype == DType::Bool {
                let zero = self.float_scalar(&format!("{name}.mask.zero"), 0.0, dtype)?;
                let ninf = self.float_scalar(&format!("{name}.mask.ninf"), f32::NEG_INFINITY, dtype)?;
                mask = self.emit_temp(&format!("{name}.mask.bias"), Op::Where, &[mask, zero, ninf], dtype, &m.shape);
            } else if m.dtype != dtype {
                mask = self.emit_temp(&format!("{name}.mask.cast"), Op::Cast, &[mask], dtype, &m.shape);
            }
            logits = self.emit_temp(
                &format!("{name}.masked"),
                Op::Binary { fun: BinaryFn::Add },
                &[logits, mask],
                dtype,
                &scores_shape,
            );
            let mut probs =
                self.emit_temp(&format!("{name}.softmax"), Op::Softmax { axis: 3 }, &[logits], dtype, &scores_shape);
            // ONNX: a row whose keys are all masked out attends to nothing (zeros, not the NaN of exp(−∞ + ∞)).
            let ms = self.graph.value(mask).shape.clone();
            let mut row_shape = ms.clone();
            if let Some(last) = row_shape.last_mut() {
                *last = 1;
            }
            let axes = vec![ms.len().saturating_sub(1) as u32];
            let row_max = self.emit_temp(
                &format!("{name}.mask.row_max"),
                Op::Reduce { fun: ReduceFn::Max, axes },
                &[mask],
                dtype,
                &row_shape,
            );
            let isinf = Op::Unary { fun: UnaryFn::IsInf { detect_positive: false, detect_negative: true } };
            let dead = self.emit_temp(&format!("{name}.mask.dead_rows"), isinf, &[row_max], DType::Bool, &row_shape);
            let zero = self.float_scalar(&format!("{name}.zero"), 0.0, dtype)?;
            probs = self.emit_temp(&format!("{name}.probs"), Op::Where, &[dead, zero, probs], dtype, &scores_shape);
            let mm = Op::MatMul { transpose_a: false, transpose_b: false, epilogue: vec![] };
            return self.emit(node, mm, &[probs, v]);
        }
        let probs =
            self.emit_temp(&format!("{name}.softmax"), Op::Softmax { axis: 3 }, &[logits], dtype, &scores_shape);
        let mm = Op::MatMul { transpose_a: false, transpose_b: false, epilogue: vec![] };
        self.emit(node, mm, &[probs, v])
    }

    /// ONNX `OneHot`: `Where(Equal(indices (negative ones + depth), range), on, off)`; out-of-range indices match no
    /// position and give `off` everywhere.
    fn lower_one_hot(&mut self, node: &TypedNode, one_hot: &OneHot) -> Lowered {
        let (_, out_shape) =
            self.fact(OutletId::new(node.id, 0))?.ok_or_else(|| NotSupported("OneHot (symbolic)".into()))?;
        let out_dtype = dtype_of(one_hot.on.datum_type())?;
        let mut x = self.input(node, 0)?;
        let name = node.name.clone();
        let value = self.graph.value(x).clone();
        if value.dtype != DType::I64 {
            // ONNX casts float (and other integer) indices to int64.
            x = self.emit_temp(&format!("{name}.indices"), Op::Cast, &[x], DType::I64, &value.shape);
        }
        let depth = one_hot.dim as i64;
        let scalar = |v: i64| Tensor::new(&[], &[v]).map_err(|e| NotSupported(e.to_string()));
        let zero = self.graph.add_constant(&format!("{name}.zero"), scalar(0)?);
        let depth_c = self.graph.add_constant(&format!("{name}.depth"), scalar(depth)?);
        let shape = value.shape.clone();
        let negative = self.emit_temp(
            &format!("{name}.negative"),
            Op::Binary { fun: BinaryFn::Less },
            &[x, zero],
            DType::Bool,
            &shape,
        );
        let wrapped = self.emit_temp(
            &format!("{name}.wrapped"),
            Op::Binary { fun: BinaryFn::Add },
            &[x, depth_c],
            DType::I64,
            &shape,
        );
        let fixed = self.emit_temp(&format!("{name}.fixed"), Op::Where, &[negative, wrapped, x], DType::I64, &shape);
        let mut unsqueezed = shape.clone();
        unsqueezed.insert(one_hot.axis, 1);
        let idx = self.emit_temp(&format!("{name}.unsqueeze"), Op::Reshape, &[fixed], DType::I64, &unsqueezed);
        let mut range_shape = vec![1u64; out_shape.len()];
        range_shape[one_hot.axis] = depth as u64;
        let range: Vec<i64> = (0..depth).collect();
        let range = Tensor::new(&range_shape, &range).map_err(|e| NotSupported(e.to_string()))?;
        let range = self.graph.add_constant(&format!("{name}.range"), range);
        let hit = self.emit_temp(
            &format!("{name}.hit"),
            Op::Binary { fun: BinaryFn::Equal },
            &[idx, range],
            DType::Bool,
            &out_shape,
        );
        let on = self.graph.add_constant(&format!("{name}.on"), tensor_from_tract(&one_hot.on)?);
        let off = self.graph.add_constant(&format!("{name}.off"), tensor_from_tract(&one_hot.off)?);
        if self.graph.value(on).dtype != out_dtype {
            return unsupported("OneHot (values dtype)");
        }
        self.emit(node, Op::Where, &[hit, on, off])
    }

    /// ONNX `Trilu` with a constant `k`: `Where(mask, x, 0)` with the triangle as a constant mask over the last two
    /// axes.
    fn lower_trilu(&mut self, node: &TypedNode, upper: bool) -> Lowered {
        let x = self.input(node, 0)?;
        let value = self.graph.value(x).clone();
        let k = self.konst(node, 1, "k")?;
        let k = k.cast_to_scalar::<i64>().map_err(|e| NotSupported(format!("Trilu k ({e})")))?;
        let rank = value.shape.len();
        if rank < 2 {
            return unsupported("Trilu (rank < 2)");
        }
        let (rows, cols) = (value.shape[rank - 2], value.shape[rank - 1]);
        let keep: Vec<bool> = (0..rows as i64)
            .flat_map(|r| (0..cols as i64).map(move |c| if upper { c >= r + k } else { c <= r + k }))
            .collect();
        let mask = Tensor::new(&[rows, cols], &keep).map_err(|e| NotSupported(e.to_string()))?;
        let mask = self.graph.add_constant(&format!("{}.mask", node.name), mask);
        let zero = self.graph.add_constant(&format!("{}.zero", node.name), Tensor::zeros(value.dtype, &[]));
        self.emit(node, Op::Where, &[mask, x, zero])
    }

    /// The constant value of input `slot`, as tract holds it.
    fn konst(
        &self,
        node: &TypedNode,
        slot: usize,
        what: &str,
    ) -> Result<Arc<tract_onnx::prelude::Tensor>, NotSupported> {
        node.inputs
            .get(slot)
            .and_then(|&o| self.model.outlet_fact(o).ok())
            .and_then(|f| f.konst.clone())
            .ok_or_else(|| NotSupported(format!("{} (non-constant {what})", node.op.name())))
    }

    /// ONNX `Slice` with its parameters as inputs (constant once the shape inputs are known): one `Slice`.
    fn lower_strided_slice(&mut self, node: &TypedNode, ss: &StridedSlice) -> Lowered {
        if ss.shrink_axis_mask != 0 {
            return unsupported("StridedSlice (shrink mask)");
        }
        let ints = |t: &tract_onnx::prelude::Tensor| -> Result<Vec<i64>, NotSupported> {
            let t = t.cast_to::<i64>().map_err(|e| NotSupported(format!("StridedSlice ({e})")))?;
            t.to_plain_array_view::<i64>()
                .map(|v| v.iter().copied().collect())
                .map_err(|e| NotSupported(format!("{e:?}")))
        };
        let x = self.input(node, 0)?;
        let in_shape = self.graph.value(x).shape.clone();
        let rank = in_shape.len() as i64;
        let (begin, end) = (self.konst(node, 1, "starts")?, self.konst(node, 2, "ends")?);
        let axes: Vec<usize> = match ss.optional_axes_input {
            Some(i) => ints(&*self.konst(node, i, "axes")?)?
                .into_iter()
                .map(|a| if a < 0 { a + rank } else { a })
                .map(|a| usize::try_from(a).ok().filter(|&a| a < in_shape.len()))
                .collect::<Option<_>>()
                .ok_or_else(|| NotSupported("StridedSlice (axis out of range)".into()))?,
            None => (0..in_shape.len()).collect(),
        };
        let strides: Vec<i32> = match ss.optional_steps_input {
            Some(i) => ints(&*self.konst(node, i, "steps")?)?
                .into_iter()
                .map(|s| s.clamp(i32::MIN as i64, i32::MAX as i64) as i32)
                .collect(),
            None => vec![1; axes.len()],
        };
        let mut starts = Vec::with_capacity(axes.len());
        for (ix, &axis) in axes.iter().enumerate() {
            let dim = TDim::from(in_shape[axis] as i64);
            let d = ss
                .prepare_one_dim(ix, &dim, &begin, &end, &strides)
                .map_err(|e| NotSupported(format!("StridedSlice ({e})")))?;
            let start = d.begin.to_i64().map_err(|_| NotSupported("StridedSlice (symbolic start)".into()))?;
            starts.push((axis as u32, start, d.stride as i64));
        }
        starts.sort_by_key(|s| s.0);
        if starts.windows(2).any(|w| w[0].0 == w[1].0) || starts.iter().any(|s| s.2 == 0) {
            return unsupported("StridedSlice (repeated axis or zero step)");
        }
        let op = Op::Slice {
            axes: starts.iter().map(|s| s.0).collect(),
            starts: starts.iter().map(|s| s.1).collect(),
            steps: starts.iter().map(|s| s.2).collect(),
        };
        self.emit(node, op, &[x])
    }

    fn lower_pad(&mut self, node: &TypedNode, pad: &Pad) -> Lowered {
        let (mode, value) = match &pad.mode {
            TractPadMode::Constant(v) => {
                let v = v.cast_to_scalar::<f64>().map_err(|e| NotSupported(format!("Pad value ({e})")))?;
                (PadMode::Constant, v)
            }
            TractPadMode::Reflect => (PadMode::Reflect, 0.0),
            TractPadMode::Edge => (PadMode::Edge, 0.0),
        };
        let mut pads: Vec<i64> = pad.pads.iter().map(|p| p.0 as i64).collect();
        pads.extend(pad.pads.iter().map(|p| p.1 as i64));
        let x = self.input(node, 0)?;
        self.emit(node, Op::Pad { pads, mode, value }, &[x])
    }

    /// Softmax over one axis, or over trailing axes `a..rank` (opset < 13) by flattening them into one.
    fn lower_softmax(&mut self, node: &TypedNode, softmax: &Softmax) -> Lowered {
        if softmax.quant_output_dt.is_some() {
            return unsupported("Softmax (quantized)");
        }
        let x = self.input(node, 0)?;
        let value = self.graph.value(x).clone();
        let rank = value.shape.len();
        let first = *softmax.axes.iter().min().ok_or_else(|| NotSupported("Softmax (no axis)".into()))?;
        let trailing = softmax.axes.len() == rank - first && softmax.axes.iter().all(|&a| a >= first);
        if !trailing && softmax.axes.len() != 1 {
            return unsupported("Softmax (several non-trailing axes)");
        }
        let make = |axis: u32| match softmax.kind {
            SoftmaxKind::LogSoftmax => Op::LogSoftmax { axis },
            _ => Op::Softmax { axis },
        };
        if softmax.axes.len() == 1 {
            return self.emit(node, make(first as u32), &[x]);
        }
        let mut flat = value.shape[..first].to_vec();
        flat.push(value.shape[first..].iter().product());
        let name = &node.name;
        let flattened = self.emit_temp(&format!("{name}.flatten"), Op::Reshape, &[x], value.dtype, &flat);
        let soft = self.emit_temp(&format!("{name}.softmax"), make(first as u32), &[flattened], value.dtype, &flat);
        self.emit(node, Op::Reshape, &[soft])
    }

    fn lower_reduce(&mut self, node: &TypedNode, reduce: &Reduce) -> Lowered {
        let x = self.input(node, 0)?;
        let axes: Vec<u32> = reduce.axes.iter().map(|&a| a as u32).collect();
        let op = match reduce.reducer {
            Reducer::Sum => Op::Reduce { fun: ReduceFn::Sum, axes },
            Reducer::Prod => Op::Reduce { fun: ReduceFn::Prod, axes },
            Reducer::Max => Op::Reduce { fun: ReduceFn::Max, axes },
            Reducer::Min => Op::Reduce { fun: ReduceFn::Min, axes },
            Reducer::ArgMax(last) | Reducer::ArgMin(last) => {
                let [axis] = axes.as_slice() else { return unsupported("ArgMax/ArgMin (several axes)") };
                let axis = *axis;
                if matches!(reduce.reducer, Reducer::ArgMax(_)) {
                    Op::ArgMax { axis, select_last_index: last }
                } else {
                    Op::ArgMin { axis, select_last_index: last }
                }
            }
            Reducer::MeanOfSquares => {
                let value = self.graph.value(x).clone();
                let squared = self.emit_temp(
                    &format!("{}.square", node.name),
                    Op::Unary { fun: UnaryFn::Square },
                    &[x],
                    value.dtype,
                    &value.shape,
                );
                return self.emit(node, Op::Reduce { fun: ReduceFn::Mean, axes }, &[squared]);
            }
            _ => return unsupported(format!("Reduce<{:?}>", reduce.reducer)),
        };
        self.emit(node, op, &[x])
    }

    fn lower_resize(&mut self, node: &TypedNode, resize: &Resize) -> Lowered {
        if resize.antialias {
            return unsupported("Resize (antialias)");
        }
        let x = self.input(node, 0)?;
        let in_shape = self.graph.value(x).shape.clone();
        let out = OutletId::new(node.id, 0);
        let (_, out_shape) = self.fact(out)?.ok_or_else(|| NotSupported("Resize (symbolic output)".into()))?;
        let mut scales: Vec<f32> = in_shape.iter().zip(&out_shape).map(|(&i, &o)| o as f32 / i as f32).collect();
        if let Some(slot) = resize.optional_scales_input
            && let Ok(s) = self.input(node, slot)
            && let Some(c) = self.constant_of(s)
            && let Ok(given) = c.to_vec::<f32>()
            && given.len() == scales.len()
        {
            scales = given;
        }
        let mode = match resize.interpolator {
            Interpolator::Linear => ResizeMode::Linear,
            Interpolator::Nearest => ResizeMode::Nearest,
            Interpolator::Cubic => ResizeMode::Cubic,
        };
        let CoordTransform::Plain(transformer) = &resize.coord_transformer else {
            return unsupported("Resize (tf_crop_and_resize)");
        };
        let coordinates = match transformer {
            CoordTransformer::HalfPixel => ResizeCoordinates::HalfPixel,
            CoordTransformer::AlignCorners => ResizeCoordinates::AlignCorners,
            CoordTransformer::Asymmetric => ResizeCoordinates::Asymmetric,
            CoordTransformer::PytorchHalfPixel => ResizeCoordinates::PytorchHalfPixel,
            CoordTransformer::TfHalfPixelForNn => ResizeCoordinates::TfHalfPixelForNn,
            CoordTransformer::HalfPixelSymmetric => ResizeCoordinates::HalfPixelSymmetric,
        };
        let nearest = match resize.nearest {
            Nearest::Floor => NearestMode::Floor,
            Nearest::Ceil => NearestMode::Ceil,
            Nearest::RoundPreferFloor => NearestMode::RoundPreferFloor,
            Nearest::RoundPreferCeil => NearestMode::RoundPreferCeil,
        };
        let op = Op::Resize {
            mode,
            coordinates,
            nearest,
            scales,
            cubic_coeff_a: f32::from_bits(resize.cubic_coeff_a_bits),
            exclude_outside: resize.exclude_outside,
        };
        self.emit(node, op, &[x])
    }

    /// Lowers an einsum of one or two inputs. A letter repeated within an input (a diagonal) is taken with a
    /// transpose, a reshape and a strided slice; letters of one input that neither the other input nor the output
    /// has are summed away first; two inputs then become one batched `MatMul` (batch axes broadcast as numpy does),
    /// with transposes and reshapes around it; a last transpose puts the axes in the output's order.
    fn lower_einsum(&mut self, node: &TypedNode, einsum: &EinSum) -> Lowered {
        if einsum.q_params.is_some() {
            return unsupported("EinSum (quantized)");
        }
        let expr = einsum.axes.to_string();
        let bad = || NotSupported(format!("EinSum ({expr})"));
        let (ins, out) = expr.split_once("->").ok_or_else(bad)?;
        let specs: Vec<Vec<char>> = ins.split(',').map(|s| s.chars().collect()).collect();
        let out: Vec<char> = out.chars().collect();
        let repeated = |s: &[char]| s.iter().enumerate().any(|(i, c)| s[..i].contains(c));
        if specs.len() != node.inputs.len() || specs.len() > 2 || repeated(&out) {
            return Err(bad());
        }
        let mut operands = Vec::with_capacity(specs.len());
        for (slot, spec) in specs.iter().enumerate() {
            let x = self.input(node, slot)?;
            let other: Vec<char> =
                specs.iter().enumerate().filter(|(i, _)| *i != slot).flat_map(|(_, s)| s.clone()).collect();
            let keep = |c: &char| out.contains(c) || other.contains(c);
            operands.push(self.einsum_operand(&node.name, slot, x, spec, &keep).ok_or_else(bad)?);
        }
        let (value, chars) = match operands.as_slice() {
            [one] => one.clone(),
            [a, b] => self.einsum_matmul(&node.name, a, b, &out).ok_or_else(bad)?,
            _ => return Err(bad()),
        };
        if chars.len() != out.len() || out.iter().any(|c| !chars.contains(c)) {
            return Err(bad());
        }
        let perm: Vec<u32> = out.iter().map(|c| chars.iter().position(|x| x == c).unwrap_or(0) as u32).collect();
        if perm.iter().enumerate().all(|(i, &p)| i as u32 == p) {
            return self.emit(node, Op::Reshape, &[value]);
        }
        self.emit(node, Op::Transpose { perm }, &[value])
    }

    /// One einsum input with its diagonals taken and the letters `keep` rejects summed away: the value and the
    /// letters of its axes, or None when extents disagree.
    fn einsum_operand(
        &mut self,
        base: &str,
        slot: usize,
        x: ValueId,
        spec: &[char],
        keep: &dyn Fn(&char) -> bool,
    ) -> Option<(ValueId, Vec<char>)> {
        let mut value = x;
        let mut chars = spec.to_vec();
        let v = self.graph.value(x).clone();
        if v.shape.len() != chars.len() {
            return None;
        }
        let mut shape = v.shape.clone();
        let mut step = 0;
        // Diagonals: bring the two axes of a repeated letter last, flatten them, and keep every (n + 1)-th value.
        while let Some(q) = (0..chars.len()).find(|&q| chars[..q].contains(&chars[q])) {
            let p = chars.iter().position(|c| *c == chars[q])?;
            let n = shape[p];
            if shape[q] != n {
                return None;
            }
            let mut order: Vec<usize> = (0..chars.len()).filter(|&i| i != p && i != q).collect();
            order.extend([p, q]);
            let perm: Vec<u32> = order.iter().map(|&i| i as u32).collect();
            let moved: Vec<u64> = order.iter().map(|&i| shape[i]).collect();
            let name = format!("{base}.in{slot}.diag{step}");
            step += 1;
            value = self.emit_temp(&format!("{name}.transpose"), Op::Transpose { perm }, &[value], v.dtype, &moved);
            let mut flat = moved[..moved.len() - 2].to_vec();
            flat.push(n * n);
            value = self.emit_temp(&format!("{name}.flatten"), Op::Reshape, &[value], v.dtype, &flat);
            let axis = (flat.len() - 1) as u32;
            let mut diag = flat.clone();
            *diag.last_mut()? = n;
            let op = Op::Slice { axes: vec![axis], starts: vec![0], steps: vec![n as i64 + 1] };
            value = self.emit_temp(&format!("{name}.slice"), op, &[value], v.dtype, &diag);
            let c = chars[p];
            chars = order[..order.len() - 2].iter().map(|&i| chars[i]).chain([c]).collect();
            shape = diag;
        }
        let summed: Vec<usize> = (0..chars.len()).filter(|&i| !keep(&chars[i])).collect();
        if !summed.is_empty() {
            let axes: Vec<u32> = summed.iter().map(|&i| i as u32).collect();
            let kept: Vec<usize> = (0..chars.len()).filter(|i| !summed.contains(i)).collect();
            let out_shape: Vec<u64> = kept.iter().map(|&i| shape[i]).collect();
            let name = format!("{base}.in{slot}.sum");
            value = self.emit_temp(&name, Op::Reduce { fun: ReduceFn::Sum, axes }, &[value], v.dtype, &out_shape);
            chars = kept.iter().map(|&i| chars[i]).collect();
        }
        Some((value, chars))
    }

    /// Two einsum operands (every letter of each in the other or in the output) as one batched `MatMul`: the result
    /// and its letters, batch letters first, then A's, then B's. None when a summed extent differs or batch
    /// extents do not broadcast.
    fn einsum_matmul(
        &mut self,
        base: &str,
        (a, sa): &(ValueId, Vec<char>),
        (b, sb): &(ValueId, Vec<char>),
        out: &[char],
    ) -> Option<(ValueId, Vec<char>)> {
        let (av, bv) = (self.graph.value(*a).clone(), self.graph.value(*b).clone());
        let ea = |c: char| sa.iter().position(|&x| x == c).map(|i| av.shape[i]);
        let eb = |c: char| sb.iter().position(|&x| x == c).map(|i| bv.shape[i]);
        let batch: Vec<char> = out.iter().copied().filter(|c| sa.contains(c) && sb.contains(c)).collect();
        let m: Vec<char> = sa.iter().copied().filter(|c| out.contains(c) && !sb.contains(c)).collect();
        let n: Vec<char> = sb.iter().copied().filter(|c| out.contains(c) && !sa.contains(c)).collect();
        let k: Vec<char> = sa.iter().copied().filter(|c| sb.contains(c) && !out.contains(c)).collect();
        if k.iter().any(|&c| ea(c) != eb(c)) {
            return None;
        }
        let mut out_batch = Vec::with_capacity(batch.len());
        for &c in &batch {
            let (x, y) = (ea(c)?, eb(c)?);
            out_batch.push(match (x, y) {
                _ if x == y => x,
                (1, y) => y,
                (x, 1) => x,
                _ => return None,
            });
        }
        let product = |e: &dyn Fn(char) -> Option<u64>, cs: &[char]| cs.iter().map(|&c| e(c)).product::<Option<u64>>();
        let (mm, kk, nn) = (product(&ea, &m)?, product(&ea, &k)?, product(&eb, &n)?);
        let concat = |parts: &[&[char]]| parts.concat();
        // A as [batch…, M, K], or as [batch…, K, M] with transpose_a when that spares a transpose; B likewise.
        let (a_mk, a_km) = (concat(&[&batch, &m, &k]), concat(&[&batch, &k, &m]));
        let (transpose_a, a_order) = if *sa == a_km && *sa != a_mk { (true, a_km) } else { (false, a_mk) };
        let (b_kn, b_nk) = (concat(&[&batch, &k, &n]), concat(&[&batch, &n, &k]));
        let (transpose_b, b_order) = if *sb == b_nk && *sb != b_kn { (true, b_nk) } else { (false, b_kn) };
        let batch_a: Vec<u64> = batch.iter().map(|&c| ea(c)).collect::<Option<_>>()?;
        let batch_b: Vec<u64> = batch.iter().map(|&c| eb(c)).collect::<Option<_>>()?;
        let a_dims: Vec<u64> = batch_a.iter().copied().chain(if transpose_a { [kk, mm] } else { [mm, kk] }).collect();
        let b_dims: Vec<u64> = batch_b.iter().copied().chain(if transpose_b { [nn, kk] } else { [kk, nn] }).collect();
        let a3 = self.arrange(base, "a", *a, sa, &a_order, &a_dims);
        let b3 = self.arrange(base, "b", *b, sb, &b_order, &b_dims);
        let mut mm_dims = out_batch.clone();
        mm_dims.extend([mm, nn]);
        let op = Op::MatMul { transpose_a, transpose_b, epilogue: vec![] };
        let product = self.emit_temp(&format!("{base}.matmul"), op, &[a3, b3], av.dtype, &mm_dims);
        let chars = concat(&[&batch, &m, &n]);
        let mut natural = out_batch;
        natural.extend(m.iter().map(|&c| ea(c).unwrap_or(1)));
        natural.extend(n.iter().map(|&c| eb(c).unwrap_or(1)));
        let value = if natural == mm_dims {
            product
        } else {
            self.emit_temp(&format!("{base}.unflatten"), Op::Reshape, &[product], av.dtype, &natural)
        };
        Some((value, chars))
    }

    /// Brings `value` (axes `from`) into axis order `to`, then reshapes it to `dims`; returns the new value.
    fn arrange(
        &mut self,
        base: &str,
        which: &str,
        value: ValueId,
        from: &[char],
        to: &[char],
        dims: &[u64],
    ) -> ValueId {
        let v = self.graph.value(value).clone();
        let mut current = value;
        if from != to {
            let perm: Vec<u32> = to.iter().map(|c| from.iter().position(|x| x == c).unwrap_or(0) as u32).collect();
            let shape: Vec<u64> = perm.iter().map(|&p| v.shape[p as usize]).collect();
            // A constant operand's transpose is folded away by `passes::fold_constants`.
            let name = format!("{base}.{which}.transpose");
            current = self.emit_temp(&name, Op::Transpose { perm }, &[current], v.dtype, &shape);
        }
        if self.graph.value(current).shape != dims {
            let name = format!("{base}.{which}.reshape");
            current = self.emit_temp(&name, Op::Reshape, &[current], v.dtype, dims);
        }
        current
    }
}

/// For each output position of a pooling window (row-major over the spatial axes), the number of window positions
/// inside the input.
fn window_counts(
    input: &[u64],
    output: &[u64],
    kernel: &[u32],
    strides: &[u32],
    dilations: &[u32],
    pads: &[u32],
) -> Vec<f32> {
    let rank = input.len();
    let at = |v: &[u32], d: usize, default: u32| v.get(d).copied().unwrap_or(default) as i64;
    let per_axis: Vec<Vec<f32>> = (0..rank)
        .map(|d| {
            (0..output[d] as i64)
                .map(|o| {
                    let (k, s, dil, pad) = (at(kernel, d, 1), at(strides, d, 1), at(dilations, d, 1), at(pads, d, 0));
                    (0..k).filter(|&i| (0..input[d] as i64).contains(&(o * s + i * dil - pad))).count() as f32
                })
                .collect()
        })
        .collect();
    per_axis.iter().fold(vec![1.0f32], |acc, axis| acc.iter().flat_map(|&a| axis.iter().map(move |&c| a * c)).collect())
}

fn dtype_of(dt: DatumType) -> Result<DType, NotSupported> {
    Ok(match dt {
        DatumType::F32 => DType::F32,
        DatumType::F16 => DType::F16,
        DatumType::F64 => DType::F64,
        DatumType::I8 => DType::I8,
        DatumType::I16 => DType::I16,
        DatumType::I32 => DType::I32,
        DatumType::I64 => DType::I64,
        DatumType::U8 => DType::U8,
        DatumType::U16 => DType::U16,
        DatumType::U32 => DType::U32,
        DatumType::U64 => DType::U64,
        DatumType::Bool => DType::Bool,
        // Shape values (ONNX `Shape`, `Size`): int64 in ONNX.
        DatumType::TDim => DType::I64,
        other => return unsupported(format!("dtype {other:?}")),
    })
}

/// Copies a tract tensor into a host tensor of the same dtype (little-endian bytes).
fn tensor_from_tract(t: &tract_onnx::prelude::Tensor) -> Result<Tensor, NotSupported> {
    if t.datum_type() == DatumType::TDim {
        let ints = t.cast_to::<i64>().map_err(|e| NotSupported(format!("symbolic shape value ({e})")))?;
        return tensor_from_tract(&ints);
    }
    let dtype = dtype_of(t.datum_type())?;
    let shape: Vec<u64> = t.shape().iter().map(|&d| d as u64).collect();
    macro_rules! le {
        ($ty:ty) => {{
            let view = t.to_plain_array_view::<$ty>().map_err(|e| NotSupported(format!("{e:?}")))?;
            view.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>()
        }};
    }
    let bytes = match dtype {
        DType::F32 => le!(f32),
        DType::F64 => le!(f64),
        DType::F16 => le!(tract_onnx::prelude::f16),
        DType::I8 => le!(i8),
        DType::I16 => le!(i16),
        DType::I32 => le!(i32),
        DType::I64 => le!(i64),
        DType::U8 => le!(u8),
        DType::U16 => le!(u16),
        DType::U32 => le!(u32),
        DType::U64 => le!(u64),
        DType::Bool => {
            let view = t.to_plain_array_view::<bool>().map_err(|e| NotSupported(format!("{e:?}")))?;
            view.iter().map(|&b| b as u8).collect()
        }
    };
    Tensor::from_bytes(dtype, &shape, bytes).map_err(|e| NotSupported(e.to_string()))
}

fn scatter_reduction(r: TractScatterReduction) -> ScatterReduction {
    match r {
        TractScatterReduction::None => ScatterReduction::None,
        TractScatterReduction::Add => ScatterReduction::Add,
        TractScatterReduction::Mul => ScatterReduction::Mul,
        TractScatterReduction::Min => ScatterReduction::Min,
        TractScatterReduction::Max => ScatterReduction::Max,
    }
}

/// Copies a host tensor into a tract tensor (for ops of ours that tract evaluates while propagating constants).
fn tensor_to_tract(t: &Tensor) -> TractResult<tract_onnx::prelude::Tensor> {
    use tract_onnx::prelude::Tensor as T;
    let shape: Vec<usize> = t.shape().iter().map(|&d| d as usize).collect();
    Ok(match t.dtype() {
        DType::F32 => T::from_shape(&shape, &t.to_vec::<f32>()?)?,
        DType::F64 => T::from_shape(&shape, &t.to_vec::<f64>()?)?,
        DType::F16 => {
            let v: Vec<tract_onnx::prelude::f16> =
                t.bytes().chunks_exact(2).map(|b| tract_onnx::prelude::f16::from_le_bytes([b[0], b[1]])).collect();
            T::from_shape(&shape, &v)?
        }
        DType::I8 => T::from_shape(&shape, &t.to_vec::<i8>()?)?,
        DType::I16 => T::from_shape(&shape, &t.to_vec::<i16>()?)?,
        DType::I32 => T::from_shape(&shape, &t.to_vec::<i32>()?)?,
        DType::I64 => T::from_shape(&shape, &t.to_vec::<i64>()?)?,
        DType::U8 => T::from_shape(&shape, &t.to_vec::<u8>()?)?,
        DType::U16 => T::from_shape(&shape, &t.to_vec::<u16>()?)?,
        DType::U32 => T::from_shape(&shape, &t.to_vec::<u32>()?)?,
        DType::U64 => T::from_shape(&shape, &t.to_vec::<u64>()?)?,
        DType::Bool => T::from_shape(&shape, &t.to_vec::<bool>()?)?,
    })
}

fn binary_fn(name: &str) -> Result<BinaryFn, NotSupported> {
    Ok(match name {
        "Add" => BinaryFn::Add,
        "Sub" => BinaryFn::Sub,
        "Mul" => BinaryFn::Mul,
        "Div" => BinaryFn::Div,
        "Pow" => BinaryFn::Pow,
        "Max" => BinaryFn::Max,
        "Min" => BinaryFn::Min,
        "Rem" => BinaryFn::FMod,
        "And" => BinaryFn::And,
        "Or" => BinaryFn::Or,
        "Xor" => BinaryFn::Xor,
        "BitAnd" => BinaryFn::BitwiseAnd,
        "BitOr" => BinaryFn::BitwiseOr,
        "BitXor" => BinaryFn::BitwiseXor,
        "ShiftLeft" => BinaryFn::BitShiftLeft,
        "ShiftRight" => BinaryFn::BitShiftRight,
        "Eq" => BinaryFn::Equal,
        "LT" => BinaryFn::Less,
        "LTE" => BinaryFn::LessOrEqual,
        "GT" => BinaryFn::Greater,
        "GTE" => BinaryFn::GreaterOrEqual,
        other => return unsupported(format!("binary {other}")),
    })
}

fn unary_fn(op: &ElementWiseOp) -> Result<UnaryFn, NotSupported> {
    let name = op.0.name();
    Ok(match name.as_str() {
        "Abs" => UnaryFn::Abs,
        "Neg" => UnaryFn::Neg,
        "Exp" => UnaryFn::Exp,
        "Ln" => UnaryFn::Log,
        "Sqrt" => UnaryFn::Sqrt,
        "Rsqrt" => UnaryFn::Rsqrt,
        "Recip" => UnaryFn::Reciprocal,
        "Square" => UnaryFn::Square,
        "Sigmoid" => UnaryFn::Sigmoid,
        "Tanh" => UnaryFn::Tanh,
        "Erf" => UnaryFn::Erf,
        "Floor" => UnaryFn::Floor,
        "Ceil" => UnaryFn::Ceil,
        "RoundHalfToEven" => UnaryFn::Round,
        "Sign" => UnaryFn::Sign,
        "Sin" => UnaryFn::Sin,
        "Cos" => UnaryFn::Cos,
        "Tan" => UnaryFn::Tan,
        "Asin" => UnaryFn::Asin,
        "Acos" => UnaryFn::Acos,
        "Atan" => UnaryFn::Atan,
        "Sinh" => UnaryFn::Sinh,
        "Cosh" => UnaryFn::Cosh,
        "Asinh" => UnaryFn::Asinh,
        "Acosh" => UnaryFn::Acosh,
        "Atanh" => UnaryFn::Atanh,
        "Not" => UnaryFn::Not,
        "BitNot" => UnaryFn::BitwiseNot,
        "IsNan" => UnaryFn::IsNaN,
        "HardSwish" => UnaryFn::HardSwish,
        other => {
            if let Some(leaky) = op.0.downcast_ref::<LeakyRelu>() {
                return Ok(UnaryFn::LeakyRelu { alpha: leaky.alpha });
            }
            if let Some(inf) = op.0.downcast_ref::<IsInf>() {
                let (detect_positive, detect_negative) = (inf.detect_positive, inf.detect_negative);
                return Ok(UnaryFn::IsInf { detect_positive, detect_negative });
            }
            if op.0.downcast_ref::<GeluExact>().is_some() {
                return Ok(UnaryFn::Gelu { approximate: false });
            }
            if let Some(gelu) = op.0.downcast_ref::<GeluApproximate>() {
                if gelu.fast_impl {
                    return unsupported("unary GeluApproximate (fast)");
                }
                return Ok(UnaryFn::Gelu { approximate: true });
            }
            return unsupported(format!("unary {other}"));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::window_counts;

    #[test]
    fn window_counts_exclude_padding() {
        // 1-D: input 4, kernel 3, stride 1, pads 1/1 → windows [-1, 1], [0, 2], [1, 3], [2, 4].
        assert_eq!(window_counts(&[4], &[4], &[3], &[1], &[1], &[1, 1]), vec![2.0, 3.0, 3.0, 2.0]);
        // 2-D: the product of the per-axis counts.
        let c = window_counts(&[2, 3], &[1, 2], &[2, 2], &[1, 2], &[1, 1], &[0, 0, 0, 1]);
        assert_eq!(c, vec![4.0, 2.0]);
    }
}
