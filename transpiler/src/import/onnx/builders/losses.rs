//! The two losses tract lacks: `NegativeLogLikelihoodLoss` and `SoftmaxCrossEntropyLoss` (NLL of a LogSoftmax).

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_core::ops::change_axes::AxisOp;
use tract_onnx::tract_core::ops::math;
use tract_onnx::tract_hir::internal::*;

use super::Built;

/// How a loss reduces over its elements (ONNX `reduction`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reduction {
    None,
    Sum,
    Mean,
}

/// The attributes of the two losses.
#[derive(Debug, Clone)]
struct LossAttrs {
    ignore_index: Option<i64>,
    reduction: Reduction,
    weighted: bool,
}

fn loss_attrs(node: &NodeProto) -> TractResult<LossAttrs> {
    let reduction = match node.get_attr_opt::<String>("reduction")?.as_deref().unwrap_or("mean") {
        "none" => Reduction::None,
        "sum" => Reduction::Sum,
        "mean" => Reduction::Mean,
        other => bail!("reduction {other:?}"),
    };
    let weighted = node.input.get(2).is_some_and(|s| !s.is_empty());
    Ok(LossAttrs { ignore_index: node.get_attr_opt("ignore_index")?, reduction, weighted })
}

fn loss_rules<'r, 'p: 'r, 's: 'r>(
    attrs: &LossAttrs,
    s: &mut Solver<'r>,
    inputs: &'p [TensorProxy],
    outputs: &'p [TensorProxy],
) -> InferenceResult {
    check_input_arity(inputs, 2 + attrs.weighted as usize)?;
    s.equals(&outputs[0].datum_type, &inputs[0].datum_type)?;
    if attrs.reduction == Reduction::None {
        s.equals(&outputs[0].shape, &inputs[1].shape)?;
    } else {
        s.equals(&outputs[0].rank, 0)?;
    }
    if let Some(log_prob) = outputs.get(1) {
        s.equals(&log_prob.datum_type, &inputs[0].datum_type)?;
        s.equals(&log_prob.shape, &inputs[0].shape)?;
    }
    Ok(())
}

/// ONNX `NegativeLogLikelihoodLoss` on `x` `[N, C, d…]`, `target` `[N, d…]` and optional `weight` `[C]`:
/// `−x[n, t, d]·w[t]` picked with a one-hot mask, 0 where the target is `ignore_index`, then reduced.
fn wire_nll(
    name: &str,
    model: &mut TypedModel,
    attrs: &LossAttrs,
    x: OutletId,
    target: OutletId,
    weight: Option<OutletId>,
) -> TractResult<OutletId> {
    use tract_onnx::tract_core::ops::array::Gather;
    use tract_onnx::tract_core::ops::binary::TypedBinOp;
    use tract_onnx::tract_core::ops::logic::{Iff, comp_eq, comp_ne};
    use tract_onnx::tract_core::ops::nn::{Reduce, Reducer};

    let x_fact = model.outlet_fact(x)?.clone();
    let t_fact = model.outlet_fact(target)?.clone();
    let (dt, tdt) = (x_fact.datum_type, t_fact.datum_type);
    let rank = x_fact.rank();
    let x_shape = x_fact.shape.as_concrete().context("loss: symbolic input shape")?.to_vec();
    let t_shape = t_fact.shape.as_concrete().context("loss: symbolic target shape")?.to_vec();
    if rank < 2 || t_shape.len() != rank - 1 {
        bail!("loss: input of rank {rank} with a target of rank {}", t_shape.len());
    }
    let classes = x_shape[1];
    let konst = |model: &mut TypedModel, what: &str, t: Tensor| model.add_const(format!("{name}.{what}"), t);
    let filled = |v: f64, dt: DatumType, shape: &[usize]| -> TractResult<Tensor> {
        let mut t = tensor0(v).cast_to_dt(dt)?.into_owned();
        while t.rank() < shape.len() {
            t.insert_axis(0)?;
        }
        t.broadcast_to_shape(shape)
    };
    // valid: the target is not ignore_index; safe: the target, with ignored entries pointing at class 0.
    let (valid, safe) = match attrs.ignore_index {
        Some(ignore) => {
            let ign = konst(model, "ignore_index", filled(ignore as f64, tdt, &t_shape)?)?;
            let valid = model.wire_node(format!("{name}.valid"), TypedBinOp(comp_ne(), None), &[target, ign])?[0];
            let zero = konst(model, "target_zero", filled(0.0, tdt, &t_shape)?)?;
            let safe = model.wire_node(format!("{name}.safe_target"), Iff, &[valid, target, zero])?[0];
            (Some(valid), safe)
        }
        None => (None, target),
    };
    let t1 = model.wire_node(format!("{name}.target_axis"), AxisOp::Add(1), &[safe])?[0];
    let mut range_shape = vec![1usize; rank];
    range_shape[1] = classes;
    let range = tract_onnx::tract_core::ndarray::ArrayD::from_shape_fn(range_shape, |ix| ix[1] as i64);
    let range = Tensor::from(range).cast_to_dt(tdt)?.into_owned();
    let range = konst(model, "classes", range)?;
    let hit = model.wire_node(format!("{name}.one_hot"), TypedBinOp(comp_eq(), None), &[t1, range])?[0];
    let zeros = konst(model, "zeros", filled(0.0, dt, &x_shape)?)?;
    let picked = model.wire_node(format!("{name}.pick"), Iff, &[hit, x, zeros])?[0];
    let picked = model.wire_node(format!("{name}.picked"), Reduce::new(tvec!(1), Reducer::Sum), &[picked])?[0];
    let picked = model.wire_node(format!("{name}.picked_rm"), AxisOp::Rm(1), &[picked])?[0];
    let mut w = match weight {
        Some(w) => model.wire_node(format!("{name}.weight"), Gather::new(0), &[w, safe])?[0],
        None => konst(model, "ones", filled(1.0, dt, &t_shape)?)?,
    };
    if let Some(valid) = valid {
        let zero = konst(model, "weight_zero", filled(0.0, dt, &t_shape)?)?;
        w = model.wire_node(format!("{name}.weight_valid"), Iff, &[valid, w, zero])?[0];
    }
    let prod = model.wire_node(format!("{name}.weighted"), math::mul(), &[picked, w])?[0];
    let loss = model.wire_node(format!("{name}.loss"), math::neg(), &[prod])?[0];
    let total = |model: &mut TypedModel, what: &str, v: OutletId| -> TractResult<OutletId> {
        let axes: TVec<usize> = (0..t_shape.len()).collect();
        let s = model.wire_node(format!("{name}.{what}"), Reduce::new(axes, Reducer::Sum), &[v])?[0];
        let dims: TVec<TDim> = t_shape.iter().map(|_| 1.to_dim()).collect();
        Ok(model.wire_node(format!("{name}.{what}_scalar"), AxisOp::Reshape(0, dims, tvec!()), &[s])?[0])
    };
    match attrs.reduction {
        Reduction::None => Ok(loss),
        Reduction::Sum => total(model, "sum", loss),
        Reduction::Mean => {
            let sum = total(model, "sum", loss)?;
            let count = total(model, "weight_sum", w)?;
            Ok(model.wire_node(format!("{name}.mean"), math::div(), &[sum, count])?[0])
        }
    }
}

/// ONNX `NegativeLogLikelihoodLoss` (tract has none).
pub(super) fn nll_loss(_: &ParsingContext, node: &NodeProto) -> Built {
    Ok((expand(NllLoss(loss_attrs(node)?)), vec![]))
}

#[derive(Debug, Clone)]
struct NllLoss(LossAttrs);

impl Expansion for NllLoss {
    fn name(&self) -> StaticName {
        "NegativeLogLikelihoodLoss".into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_output_arity(outputs, 1)?;
        loss_rules(&self.0, s, inputs, outputs)
    }

    fn wire(&self, name: &str, model: &mut TypedModel, inputs: &[OutletId]) -> TractResult<TVec<OutletId>> {
        Ok(tvec!(wire_nll(name, model, &self.0, inputs[0], inputs[1], inputs.get(2).copied())?))
    }
}

/// ONNX `SoftmaxCrossEntropyLoss` (tract has none): the NLL loss of `LogSoftmax(scores)` along axis 1, and the
/// log-probabilities as an optional second output.
pub(super) fn softmax_cross_entropy_loss(_: &ParsingContext, node: &NodeProto) -> Built {
    let outputs = node.output.iter().filter(|o| !o.is_empty()).count();
    Ok((expand(SoftmaxCrossEntropyLoss(loss_attrs(node)?, outputs)), vec![]))
}

#[derive(Debug, Clone)]
struct SoftmaxCrossEntropyLoss(LossAttrs, usize);

impl Expansion for SoftmaxCrossEntropyLoss {
    fn name(&self) -> StaticName {
        "SoftmaxCrossEntropyLoss".into()
    }

    fn nboutputs(&self) -> TractResult<usize> {
        Ok(self.1)
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_output_arity(outputs, self.1)?;
        loss_rules(&self.0, s, inputs, outputs)
    }

    fn wire(&self, name: &str, model: &mut TypedModel, inputs: &[OutletId]) -> TractResult<TVec<OutletId>> {
        use tract_onnx::tract_core::ops::nn::{Softmax, SoftmaxKind};
        let log_prob = model.wire_node(
            format!("{name}.log_prob"),
            Softmax::new(tvec!(1), None, SoftmaxKind::LogSoftmax),
            &[inputs[0]],
        )?[0];
        let loss = wire_nll(&format!("{name}.nll"), model, &self.0, log_prob, inputs[1], inputs.get(2).copied())?;
        Ok(if self.1 > 1 { tvec!(loss, log_prob) } else { tvec!(loss) })
    }
}
