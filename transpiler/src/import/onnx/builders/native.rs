//! Our own ops inside tract's model, for ONNX ops tract lacks entirely ([`Native`]), and the builders that emit
//! one: `CumProd` and `BitCast`.

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

use super::super::convert::{dtype_of, tensor_from_tract, tensor_to_tract};
use super::{Built, refuse, same_shape};

/// ONNX `CumProd` (tract has none): our op, through [`Native`].
pub(super) fn cum_prod(_: &ParsingContext, node: &NodeProto) -> Built {
    let exclusive = node.get_attr_opt::<i64>("exclusive")?.unwrap_or(0) == 1;
    let reverse = node.get_attr_opt::<i64>("reverse")?.unwrap_or(0) == 1;
    same_shape("CumProd", 2, move |name, model, inputs| {
        let axis = model.outlet_fact(inputs[1])?.konst.clone().context("CumProd: the axis must be a constant")?;
        let axis = axis.cast_to_scalar::<i64>()?;
        let rank = model.outlet_fact(inputs[0])?.rank() as i64;
        let axis = if axis < 0 { axis + rank } else { axis };
        if !(0..rank).contains(&axis) {
            bail!("CumProd: axis {axis} out of range for rank {rank}");
        }
        let op = wdnn_descriptor_spec::Op::CumProd { axis: axis as u32, exclusive, reverse };
        model.wire_node(name, Native { op, dtype: None, shape: None }, &[inputs[0]])
    })
}

/// ONNX `BitCast` (tract has none): the same bytes read as another dtype of the same size.
pub(super) fn bit_cast(_: &ParsingContext, node: &NodeProto) -> Built {
    let to: i64 = node.get_attr("to")?;
    let to = tract_onnx::pb::tensor_proto::DataType::try_from(to as i32)
        .map_err(|_| format_err!("BitCast to unknown type {to}"))
        .and_then(DatumType::try_from);
    match to {
        Ok(to) if dtype_of(to).is_ok() => Ok((expand(BitCast(to)), vec![])),
        _ => refuse(node, "BitCast (dtype)"),
    }
}

#[derive(Debug, Clone, Hash)]
struct BitCast(DatumType);

impl Expansion for BitCast {
    fn name(&self) -> StaticName {
        "BitCast".into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_input_arity(inputs, 1)?;
        check_output_arity(outputs, 1)?;
        s.equals(&outputs[0].datum_type, self.0)?;
        s.equals(&inputs[0].shape, &outputs[0].shape)?;
        Ok(())
    }

    fn wire(&self, name: &str, model: &mut TypedModel, inputs: &[OutletId]) -> TractResult<TVec<OutletId>> {
        let from = model.outlet_fact(inputs[0])?.datum_type;
        if from.size_of() != self.0.size_of() {
            bail!("BitCast between sizes ({from:?} to {:?})", self.0);
        }
        let op = Native { op: wdnn_descriptor_spec::Op::BitCast, dtype: Some(self.0), shape: None };
        model.wire_node(name, op, inputs)
    }
}

/// One of our ops inside tract's typed model, for ONNX ops tract lacks: its output has `shape` (or input 0's) and
/// `dtype` (or input 0's), tract evaluates it with the reference kernels, and the lowering emits `op` as is.
#[derive(Debug, Clone, PartialEq)]
pub(in crate::import::onnx) struct Native {
    pub(in crate::import::onnx) op: wdnn_descriptor_spec::Op,
    pub(super) dtype: Option<DatumType>,
    /// The output's shape when it is not input 0's.
    pub(super) shape: Option<Vec<usize>>,
}

// The op's floats are attributes, never NaN.
impl Eq for Native {}

impl Op for Native {
    fn name(&self) -> StaticName {
        self.op.name().into()
    }

    op_as_typed_op!();
}

impl EvalOp for Native {
    op_out_of_plan!();

    fn eval(&self, _: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let err = |e: super::super::NotSupported| format_err!("{}: {}", self.op.name(), e.0);
        let hosts: Vec<wdnn_runner_core::Tensor> =
            inputs.iter().map(|t| tensor_from_tract(t)).collect::<Result<_, _>>().map_err(err)?;
        let x = hosts.first().context("no input")?;
        let dtype = match self.dtype {
            Some(dt) => dtype_of(dt).map_err(err)?,
            None => x.dtype(),
        };
        let refs: Vec<&wdnn_runner_core::Tensor> = hosts.iter().collect();
        let shape = match &self.shape {
            Some(s) => s.iter().map(|&d| d as u64).collect(),
            None => x.shape().to_vec(),
        };
        let y = wdnn_runner_fallback::eval(&self.op, &refs, &[(dtype, shape)])?;
        let y = y.first().context("no result")?;
        Ok(tvec!(tensor_to_tract(y)?.into_tvalue()))
    }
}

impl TypedOp for Native {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let x = inputs.first().context("no input")?;
        let dt = self.dtype.unwrap_or(x.datum_type);
        Ok(tvec!(match &self.shape {
            Some(shape) => dt.fact(shape),
            None => dt.fact(x.shape.clone()),
        }))
    }

    as_op!();
}
