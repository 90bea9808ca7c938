//! ONNX import through tract: the only module that names `tract_onnx`.
//!
//! tract parses the protobuf, infers types and shapes, and wires each ONNX node into its core ops
//! (`into_typed`); we then let it propagate constants (`prop_consts`: the zoo graphs' `ConstantOfShape` weights
//! become real constants) but not run its full declutter, which re-expresses 1×1 convolutions as einsums and merges
//! parallel convolutions — rewrites that would hide the structure our own optimizer and code generators work on.
//!
//! - this file: [`import`], the `catch_unwind` guard, input shapes, and the [`Lowering`] core (values, facts,
//!   emitting nodes);
//! - [`bind`]: `--input-shape` / `--dim` bind symbols everywhere in the protobuf before tract parses it;
//! - [`domains`]: every node's operator domain declared and implemented, before tract (which ignores domains) parses;
//! - [`qdq`]: onnxruntime's QDQ fusion (`DequantizeLinear → Conv / MatMul → QuantizeLinear` as one integer op);
//! - [`lower`]: one module per tract op family, and the one dispatch (`Lowering::lower_node`);
//! - [`convert`]: dtypes, tensors and elementwise functions between tract and the IR;
//! - [`builders`]: our ONNX op builders registered over tract's, one module per family. Where tract 0.23.9 drops an
//!   attribute (Celu's α, Swish's α, SpaceToDepth's mode, Attention's windows and soft cap) the builder computes
//!   what ONNX says or reports the op as unsupported by name; where tract has no builder (LpPool, the two losses,
//!   CumProd, BitCast, CenterCropPad, AffineGrid, ReverseSequence, Pad's wrap mode, quantization) it expands the op
//!   into tract ops we lower, or wraps one of our own ops ([`builders::Native`]).
//!
//! Every tract call runs under `catch_unwind`: a malformed model is an error, never a panic.

mod bind;
mod builders;
mod convert;
mod domains;
mod lower;
mod qdq;

use std::collections::{BTreeMap, HashMap};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::source::TypedSource;
use tract_onnx::tract_hir::infer::Factoid;
use wdnn_descriptor_spec::{DType, Op};
use wdnn_runner_core::Tensor;

use crate::error::{ConvertError, Unsupported};
use crate::ir::{Graph, ValueId};
use convert::dtype_of;

/// Options for reading a model.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// Static shapes for inputs, by name (fixes symbolic dimensions).
    pub input_shapes: Vec<(String, Vec<u64>)>,
    /// Values of symbolic dimensions, by symbol name (`batch`, `sequence`, `DynamicDimension.0`).
    pub dims: Vec<(String, u64)>,
}

/// Reads an ONNX file into the IR.
pub fn import(path: &Path, options: &ImportOptions) -> Result<Graph, ConvertError> {
    let file = path.display().to_string();
    let onnx_err = |detail: String| ConvertError::Onnx { file: file.clone(), detail };
    let meta = std::fs::metadata(path).map_err(|e| ConvertError::Read { file: file.clone(), detail: e.to_string() })?;
    if !meta.is_file() {
        return Err(ConvertError::Read { file, detail: "not a regular file".into() });
    }
    if meta.len() == 0 {
        return Err(onnx_err("the file is empty (0 bytes)".into()));
    }
    let onnx = builders::onnx();
    let mut proto = guarded(|| onnx.proto_model_for_path(path)).map_err(&onnx_err)?;
    let foreign = domains::foreign_ops(&proto);
    if !foreign.is_empty() {
        return Err(ConvertError::UnsupportedOps { file, ops: foreign });
    }
    bind::bind(&mut proto, &options.input_shapes, &options.dims)
        .map_err(|bind::BindError(detail)| ConvertError::ShapeBinding { file: file.clone(), detail })?;
    qdq::fuse(&mut proto);
    // The declared output names, in order: tract labels outlets, and outputs that end up on one outlet (three empty
    // splits folded to one constant) keep only the last label.
    let output_names: Vec<String> =
        proto.graph.as_ref().map(|g| g.output.iter().map(|o| o.name.clone()).collect()).unwrap_or_default();
    let dir = path.parent().and_then(Path::to_str);
    let mut model = guarded(|| {
        let parsed = onnx.parse(&proto, dir)?;
        if !parsed.unresolved_inputs.is_empty() {
            let missing = parsed.unresolved_inputs.join(", ");
            return Err(TractError::msg(format!("could not resolve inputs at top level: {missing}")));
        }
        Ok(parsed.model)
    })
    .map_err(&onnx_err)?;
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
    Lowering::new(&typed, &name, &file, output_names)?.run()
}

/// Runs `f`, turning both errors and panics into a message: the error's chain of causes on one line (`{:#}`), never
/// its `Debug` form, which carries a backtrace when `RUST_BACKTRACE` is set.
fn guarded<T>(f: impl FnOnce() -> TractResult<T>) -> Result<T, String> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(format!("{e:#}")),
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
            let known: Vec<String> =
                inputs.iter().map(|o| model.node(o.node).name.clone()).map(|n| format!("`{n}`")).collect();
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
    /// The model's output names as the ONNX file declares them (used where there is one per output outlet).
    output_names: Vec<String>,
}

/// Why one node could not be lowered: the op label for the grouped error.
struct NotSupported(String);

type Lowered = Result<(), NotSupported>;

fn unsupported<T>(what: impl Into<String>) -> Result<T, NotSupported> {
    Err(NotSupported(what.into()))
}

impl<'m> Lowering<'m> {
    fn new(
        model: &'m TypedModel,
        name: &str,
        file: &str,
        output_names: Vec<String>,
    ) -> Result<Lowering<'m>, ConvertError> {
        Ok(Lowering {
            model,
            file: file.to_string(),
            graph: Graph::new(name),
            values: HashMap::new(),
            unsupported: BTreeMap::new(),
            output_names,
        })
    }

    fn run(mut self) -> Result<Graph, ConvertError> {
        let file = self.file.clone();
        let onnx_err = |detail: String| ConvertError::Onnx { file: file.clone(), detail };
        let order = self.model.eval_order().map_err(|e| onnx_err(format!("{e:#}")))?;
        let inputs = self.model.input_outlets().map_err(|e| onnx_err(format!("{e:#}")))?.to_vec();
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
        let outlets = self.model.output_outlets().map_err(|e| onnx_err(format!("{e:#}")))?;
        let declared = self.output_names.len() == outlets.len();
        for (i, outlet) in outlets.iter().enumerate() {
            let label = || self.model.outlet_label(*outlet).map(str::to_string);
            let name = (declared.then(|| self.output_names[i].clone()))
                .or_else(label)
                .unwrap_or_else(|| self.model.node(outlet.node).name.clone());
            let value = *self.values.get(outlet).ok_or_else(|| onnx_err(format!("output `{name}` was not lowered")))?;
            self.graph.outputs.push((name, value));
        }
        Ok(self.graph)
    }

    /// The static dtype and shape of an outlet, None when a dimension is symbolic.
    fn fact(&self, outlet: OutletId) -> Result<Option<(DType, Vec<u64>)>, NotSupported> {
        let fact = self.model.outlet_fact(outlet).map_err(|e| NotSupported(format!("{e:#}")))?;
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

    /// A float scalar constant of `dtype` (f32 or f16; an f16 one goes through a `Cast` that folding removes).
    fn float_scalar(&mut self, name: &str, v: f32, dtype: DType) -> Result<ValueId, NotSupported> {
        let c = self.graph.add_constant(name, Tensor::new(&[], &[v]).map_err(|e| NotSupported(e.to_string()))?);
        match dtype {
            DType::F32 => Ok(c),
            DType::F16 | DType::F64 => Ok(self.emit_temp(&format!("{name}.cast"), Op::Cast, &[c], dtype, &[])),
            other => unsupported(format!("{} on {other}", "float constant")),
        }
    }
}
