//! ONNX import through tract: the only module that names `tract_onnx`.
//!
//! tract parses the protobuf, infers types and shapes, and wires each ONNX node into its core ops
//! (`into_typed`); we then let it propagate constants (`prop_consts`: the zoo graphs' `ConstantOfShape` weights
//! become real constants) but not run its full declutter, which re-expresses 1×1 convolutions as einsums and merges
//! parallel convolutions — rewrites that would hide the structure our own optimizer and code generators work on.
//! Each tract op is then lowered by one `lower_*` function, dispatched from [`lower_node`].
//!
//! Every tract call runs under `catch_unwind`: a malformed model is an error, never a panic.

use std::collections::{BTreeMap, HashMap};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::array::{
    Gather, GatherElements, MultiBroadcastTo, Pad, PadMode as TractPadMode, Slice, Tile, TypedConcat,
};
use tract_onnx::tract_core::ops::binary::TypedBinOp;
use tract_onnx::tract_core::ops::cast::Cast;
use tract_onnx::tract_core::ops::change_axes::AxisOp;
use tract_onnx::tract_core::ops::cnn::{Conv, Deconv, KernelFormat, MaxPool, PoolSpec, SumPool};
use tract_onnx::tract_core::ops::einsum::EinSum;
use tract_onnx::tract_core::ops::element_wise::ElementWiseOp;
use tract_onnx::tract_core::ops::konst::Const;
use tract_onnx::tract_core::ops::logic::Iff;
use tract_onnx::tract_core::ops::nn::resize::{CoordTransformer, Interpolator};
use tract_onnx::tract_core::ops::nn::{DataFormat, Reduce, Reducer, Softmax, SoftmaxKind};
use tract_onnx::tract_core::ops::source::TypedSource;
use tract_onnx::tract_hir::infer::Factoid;
use tract_onnx_opl::lrn::Lrn;
use tract_onnx_opl::resize::{CoordTransform, Nearest, Resize};
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
    let mut model = guarded(|| tract_onnx::onnx().model_for_path(path)).map_err(&onnx_err)?;
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

    fn lower_node(&mut self, node: &TypedNode) -> Lowered {
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
            "Dropout" | "Identity" => {
                if node.outputs.len() > 1 && !self.model.outlet_successors(OutletId::new(node.id, 1)).is_empty() {
                    return unsupported("Dropout (mask output)");
                }
                let x = self.input(node, 0)?;
                self.alias(node, 0, x);
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
            if !pool.normalize {
                return unsupported("SumPool (unnormalized)");
            }
            let (kernel_shape, strides, dilations, pads) = self.pool_geometry(node, &pool.pool_spec)?;
            let x = self.input(node, 0)?;
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
        if let Some(einsum) = op.downcast_ref::<EinSum>() {
            return self.lower_einsum(node, einsum);
        }
        if let Some(bin) = op.downcast_ref::<TypedBinOp>() {
            let fun = binary_fn(bin.0.name())?;
            let inputs = self.inputs(node)?;
            return self.emit(node, Op::Binary { fun }, &inputs);
        }
        if let Some(fun) = comparison_fn(&name) {
            let inputs = self.inputs(node)?;
            return self.emit(node, Op::Binary { fun }, &inputs);
        }
        if name == "CompNE" {
            let inputs = self.inputs(node)?;
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
        if let Some(ew) = op.downcast_ref::<ElementWiseOp>() {
            let fun = unary_fn(ew)?;
            let x = self.input(node, 0)?;
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
        let w = self.input(node, 1)?;
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

    /// Lowers a two-input einsum to a batched `MatMul`, with transposes and reshapes around it where the axes are
    /// not already in `[batch…, m…, k…] × [batch…, k…, n…]` order.
    fn lower_einsum(&mut self, node: &TypedNode, einsum: &EinSum) -> Lowered {
        if einsum.q_params.is_some() || node.inputs.len() != 2 {
            return unsupported("EinSum (quantized or not two inputs)");
        }
        let expr = einsum.axes.to_string();
        let plan = EinsumPlan::parse(&expr).ok_or_else(|| NotSupported(format!("EinSum ({expr})")))?;
        let a = self.input(node, 0)?;
        let b = self.input(node, 1)?;
        let a_value = self.graph.value(a).clone();
        let b_value = self.graph.value(b).clone();
        let size_of = |c: char| -> Option<u64> {
            plan.a
                .iter()
                .position(|&x| x == c)
                .map(|i| a_value.shape[i])
                .or_else(|| plan.b.iter().position(|&x| x == c).map(|i| b_value.shape[i]))
        };
        // Every shared axis must have the same extent in both operands (no broadcasting of size-1 batch axes).
        for &c in plan.batch.iter().chain(&plan.k) {
            let ia = plan.a.iter().position(|&x| x == c);
            let ib = plan.b.iter().position(|&x| x == c);
            if let (Some(ia), Some(ib)) = (ia, ib)
                && a_value.shape[ia] != b_value.shape[ib]
            {
                return unsupported(format!("EinSum ({expr}, broadcast axis)"));
            }
        }
        let product = |axes: &[char]| axes.iter().map(|&c| size_of(c).unwrap_or(1)).product::<u64>();
        let batch: Vec<u64> = plan.batch.iter().map(|&c| size_of(c).unwrap_or(1)).collect();
        let (m, k, n) = (product(&plan.m), product(&plan.k), product(&plan.n));
        let dtype = a_value.dtype;

        // A as [batch…, M, K] (or [batch…, K, M] with transpose_a when that avoids a transpose).
        let a_mk: Vec<char> = plan.batch.iter().chain(&plan.m).chain(&plan.k).copied().collect();
        let a_km: Vec<char> = plan.batch.iter().chain(&plan.k).chain(&plan.m).copied().collect();
        let (a_order, transpose_a) = if plan.a == a_km && plan.a != a_mk { (a_km, true) } else { (a_mk, false) };
        let b_kn: Vec<char> = plan.batch.iter().chain(&plan.k).chain(&plan.n).copied().collect();
        let b_nk: Vec<char> = plan.batch.iter().chain(&plan.n).chain(&plan.k).copied().collect();
        let (b_order, transpose_b) = if plan.b == b_nk && plan.b != b_kn { (b_nk, true) } else { (b_kn, false) };

        let mut a_dims = batch.clone();
        a_dims.extend(if transpose_a { [k, m] } else { [m, k] });
        let mut b_dims = batch.clone();
        b_dims.extend(if transpose_b { [n, k] } else { [k, n] });
        let a3 = self.arrange(&node.name, "a", a, &plan.a, &a_order, &a_dims);
        let b3 = self.arrange(&node.name, "b", b, &plan.b, &b_order, &b_dims);

        let mut out_dims = batch;
        out_dims.extend([m, n]);
        let natural: Vec<char> = plan.batch.iter().chain(&plan.m).chain(&plan.n).copied().collect();
        let out_outlet = OutletId::new(node.id, 0);
        let (_, final_shape) = self.fact(out_outlet)?.ok_or_else(|| NotSupported("EinSum (symbolic)".into()))?;
        let op = Op::MatMul { transpose_a, transpose_b, epilogue: vec![] };
        if natural == plan.out && out_dims.iter().product::<u64>() == final_shape.iter().product::<u64>() {
            if out_dims == final_shape {
                return self.emit(node, op, &[a3, b3]);
            }
            let mm = self.emit_temp(&format!("{}.matmul", node.name), op, &[a3, b3], dtype, &out_dims);
            return self.emit(node, Op::Reshape, &[mm]);
        }
        let mm = self.emit_temp(&format!("{}.matmul", node.name), op, &[a3, b3], dtype, &out_dims);
        let natural_dims: Vec<u64> = natural.iter().map(|&c| size_of(c).unwrap_or(1)).collect();
        let unflat = self.emit_temp(&format!("{}.unflatten", node.name), Op::Reshape, &[mm], dtype, &natural_dims);
        let perm: Vec<u32> = plan.out.iter().map(|c| natural.iter().position(|x| x == c).unwrap_or(0) as u32).collect();
        self.emit(node, Op::Transpose { perm }, &[unflat])
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

/// The roles of an einsum's axes: batch (both inputs and output), m (A and output), n (B and output), k (both
/// inputs, summed).
struct EinsumPlan {
    a: Vec<char>,
    b: Vec<char>,
    out: Vec<char>,
    batch: Vec<char>,
    m: Vec<char>,
    k: Vec<char>,
    n: Vec<char>,
}

impl EinsumPlan {
    fn parse(expr: &str) -> Option<EinsumPlan> {
        let (inputs, out) = expr.split_once("->")?;
        let (a, b) = inputs.split_once(',')?;
        let (a, b, out): (Vec<char>, Vec<char>, Vec<char>) =
            (a.chars().collect(), b.chars().collect(), out.chars().collect());
        let (mut batch, mut m, mut k, mut n) = (vec![], vec![], vec![], vec![]);
        for &c in &out {
            match (a.contains(&c), b.contains(&c)) {
                (true, true) => batch.push(c),
                (true, false) => m.push(c),
                (false, true) => n.push(c),
                (false, false) => return None,
            }
        }
        for &c in &a {
            if !out.contains(&c) {
                if !b.contains(&c) {
                    return None; // an axis summed within A alone
                }
                k.push(c);
            }
        }
        if b.iter().any(|c| !out.contains(c) && !a.contains(c)) {
            return None;
        }
        // Batch axes must lead the output for the matmul result to be in output order without a transpose; other
        // orders are handled by a final transpose.
        Some(EinsumPlan { a, b, out, batch, m, k, n })
    }
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
        other => return unsupported(format!("dtype {other:?}")),
    })
}

/// Copies a tract tensor into a host tensor of the same dtype (little-endian bytes).
fn tensor_from_tract(t: &tract_onnx::prelude::Tensor) -> Result<Tensor, NotSupported> {
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
        other => return unsupported(format!("binary {other}")),
    })
}

fn comparison_fn(name: &str) -> Option<BinaryFn> {
    Some(match name {
        "CompEq" => BinaryFn::Equal,
        "CompLT" => BinaryFn::Less,
        "CompLTE" => BinaryFn::LessOrEqual,
        "CompGT" => BinaryFn::Greater,
        "CompGTE" => BinaryFn::GreaterOrEqual,
        _ => return None,
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
            let debug = format!("{:?}", op.0);
            if let Some(alpha) = debug.strip_prefix("LeakyRelu { alpha: ").and_then(|s| s.strip_suffix(" }")) {
                let alpha = alpha.parse().map_err(|_| NotSupported(format!("unary {debug}")))?;
                return Ok(UnaryFn::LeakyRelu { alpha });
            }
            return unsupported(format!("unary {other}"));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::EinsumPlan;

    #[test]
    fn einsum_roles() {
        let p = EinsumPlan::parse("bmk,bkn->bmn").unwrap();
        assert_eq!((p.batch, p.m, p.k, p.n), (vec!['b'], vec!['m'], vec!['k'], vec!['n']));
        assert!(EinsumPlan::parse("ij,jk->ik").is_some());
        assert!(EinsumPlan::parse("ii,j->j").is_none());
    }
}
