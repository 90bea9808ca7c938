//! ONNX op builders that replace tract's where its translation drops an attribute (so that the converter either
//! computes what ONNX says or refuses) or a value (ReduceMax and ReduceMin over an empty set), or where tract has
//! none and the op decomposes into ops we lower: the registration table ([`onnx`]), then one module per family.
//! Most expansions only need "one output shaped and typed like input 0" from tract's inference rules:
//! [`same_shape`] gives them that without a type of their own.

mod activations;
mod attention;
mod control;
mod losses;
mod native;
mod pool;
mod quant;
mod recurrent;
mod reduce;
mod shape;

use tract_onnx::model::{Onnx, ParsingContext};
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;
use tract_onnx::tract_hir::ops::activations::broadcast_scalar;
use tract_onnx::tract_hir::ops::unimpl::UnimplementedOp;

pub(super) use native::Native;

type Built = TractResult<(Box<dyn InferenceOp>, Vec<String>)>;

type Builder = fn(&ParsingContext, &NodeProto) -> Built;

/// tract's ONNX front end with our builders registered over its own.
pub(super) fn onnx() -> Onnx {
    let mut onnx = tract_onnx::onnx();
    attention::register(&mut onnx);
    shape::register_pad(&mut onnx);
    recurrent::register(&mut onnx);
    quant::register_convs(&mut onnx);
    reduce::register(&mut onnx);
    onnx.op_register.insert("If", control::if_then_else);
    onnx.op_register.insert("Celu", activations::celu);
    onnx.op_register.insert("Swish", activations::swish);
    onnx.op_register.insert("SpaceToDepth", shape::space_to_depth);
    onnx.op_register.insert("LpPool", pool::lp_pool);
    onnx.op_register.insert("NegativeLogLikelihoodLoss", losses::nll_loss);
    onnx.op_register.insert("SoftmaxCrossEntropyLoss", losses::softmax_cross_entropy_loss);
    onnx.op_register.insert("CumProd", native::cum_prod);
    onnx.op_register.insert("BitCast", native::bit_cast);
    onnx.op_register.insert("ReverseSequence", shape::reverse_sequence);
    onnx.op_register.insert("CenterCropPad", shape::center_crop_pad);
    onnx.op_register.insert("AffineGrid", shape::affine_grid);
    onnx.op_register.insert("QuantizeLinear", quant::quantize_linear);
    onnx.op_register.insert("DequantizeLinear", quant::dequantize_linear);
    onnx.op_register.insert("DynamicQuantizeLinear", |_, _| Ok((expand(quant::DynamicQuantizeLinear), vec![])));
    onnx.op_register.insert("MatMulInteger", |_, _| Ok((expand(quant::IntegerMatMul { requantize: false }), vec![])));
    onnx.op_register.insert("QLinearMatMul", |_, _| Ok((expand(quant::IntegerMatMul { requantize: true }), vec![])));
    onnx
}

/// A node reported as an unsupported op named `what` (the converter lists it with the other unsupported ops).
fn refuse(node: &NodeProto, what: &str) -> Built {
    Ok((UnimplementedOp::new(node.output.len(), what, String::new()).into(), vec![]))
}

/// The values of an integer tensor as i64.
fn ints(t: &Tensor) -> TractResult<Vec<i64>> {
    Ok(t.cast_to::<i64>()?.to_plain_array_view::<i64>()?.iter().copied().collect())
}

/// A constant scalar of the input's dtype and rank.
fn scalar(model: &mut TypedModel, inputs: &[OutletId], name: String, v: f32) -> TractResult<OutletId> {
    let t = broadcast_scalar(v, model, inputs)?;
    model.add_const(name, t)
}

/// An expansion whose one output has input 0's dtype and shape: the ONNX op `name` with `inputs` inputs, wired
/// into tract ops by `wire`.
#[derive(Clone)]
struct SameShape<W> {
    name: &'static str,
    inputs: usize,
    wire: W,
}

/// The builder's result for a [`SameShape`] expansion.
fn same_shape<W>(name: &'static str, inputs: usize, wire: W) -> Built
where
    W: Fn(&str, &mut TypedModel, &[OutletId]) -> TractResult<TVec<OutletId>> + Clone + Send + Sync + 'static,
{
    Ok((expand(SameShape { name, inputs, wire }), vec![]))
}

impl<W> std::fmt::Debug for SameShape<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

impl<W> Expansion for SameShape<W>
where
    W: Fn(&str, &mut TypedModel, &[OutletId]) -> TractResult<TVec<OutletId>> + Clone + Send + Sync + 'static,
{
    fn name(&self) -> StaticName {
        self.name.into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_input_arity(inputs, self.inputs)?;
        check_output_arity(outputs, 1)?;
        s.equals(&inputs[0].datum_type, &outputs[0].datum_type)?;
        s.equals(&inputs[0].shape, &outputs[0].shape)?;
        Ok(())
    }

    fn wire(&self, name: &str, model: &mut TypedModel, inputs: &[OutletId]) -> TractResult<TVec<OutletId>> {
        (self.wire)(name, model, inputs)
    }
}
