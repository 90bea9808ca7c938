//! ONNX op builders that replace tract's where its translation drops an attribute (so that the converter either
//! computes what ONNX says or refuses), or where tract has none and the op decomposes into ops we lower.

use std::sync::OnceLock;

use tract_onnx::model::{Onnx, ParsingContext};
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_core::ops::change_axes::AxisOp;
use tract_onnx::tract_core::ops::cnn::{PaddingSpec, PoolSpec};
use tract_onnx::tract_core::ops::math;
use tract_onnx::tract_core::ops::nn::{DataFormat, sigmoid};
use tract_onnx::tract_hir::internal::*;
use tract_onnx::tract_hir::ops::activations::broadcast_scalar;
use tract_onnx::tract_hir::ops::cnn::HirSumPool;
use tract_onnx::tract_hir::ops::unimpl::UnimplementedOp;

type Built = TractResult<(Box<dyn InferenceOp>, Vec<String>)>;

/// The values of an integer tensor as i64.
fn ints(t: &Tensor) -> TractResult<Vec<i64>> {
    Ok(t.cast_to::<i64>()?.to_plain_array_view::<i64>()?.iter().copied().collect())
}
type Builder = fn(&ParsingContext, &NodeProto) -> Built;

/// tract's own `Attention` builder, which [`attention`] calls once the node passed its checks.
static TRACT_ATTENTION: OnceLock<Option<Builder>> = OnceLock::new();
/// tract's own `Pad` builder, which [`pad`] calls for every mode but `wrap`.
static TRACT_PAD: OnceLock<Option<Builder>> = OnceLock::new();
/// tract's own `RNN`, `GRU` and `LSTM` builders, which [`recurrent`] calls unless the direction is `reverse`.
static TRACT_RECURRENT: OnceLock<[Option<Builder>; 3]> = OnceLock::new();

/// tract's ONNX front end with our builders registered over its own.
pub(super) fn onnx() -> Onnx {
    let mut onnx = tract_onnx::onnx();
    let original = onnx.op_register.0.get("Attention").copied();
    TRACT_ATTENTION.get_or_init(|| original);
    onnx.op_register.insert("Attention", attention);
    let original = onnx.op_register.0.get("Pad").copied();
    TRACT_PAD.get_or_init(|| original);
    onnx.op_register.insert("Pad", pad);
    let originals = ["RNN", "GRU", "LSTM"].map(|op| onnx.op_register.0.get(op).copied());
    TRACT_RECURRENT.get_or_init(|| originals);
    for op in ["RNN", "GRU", "LSTM"] {
        onnx.op_register.insert(op, recurrent);
    }
    onnx.op_register.insert("Celu", celu);
    onnx.op_register.insert("Swish", swish);
    onnx.op_register.insert("SpaceToDepth", space_to_depth);
    onnx.op_register.insert("LpPool", lp_pool);
    onnx.op_register.insert("NegativeLogLikelihoodLoss", nll_loss);
    onnx.op_register.insert("SoftmaxCrossEntropyLoss", softmax_cross_entropy_loss);
    onnx.op_register.insert("CumProd", cum_prod);
    onnx.op_register.insert("BitCast", bit_cast);
    onnx.op_register.insert("ReverseSequence", reverse_sequence);
    onnx.op_register.insert("CenterCropPad", center_crop_pad);
    onnx.op_register.insert("AffineGrid", affine_grid);
    onnx.op_register.insert("QuantizeLinear", quantize_linear);
    onnx.op_register.insert("DequantizeLinear", dequantize_linear);
    onnx.op_register.insert("DynamicQuantizeLinear", |_, _| Ok((expand(DynamicQuantizeLinear), vec![])));
    onnx.op_register.insert("MatMulInteger", |_, _| Ok((expand(IntegerMatMul { requantize: false }), vec![])));
    onnx.op_register.insert("QLinearMatMul", |_, _| Ok((expand(IntegerMatMul { requantize: true }), vec![])));
    onnx
}

/// A node reported as an unsupported op named `what` (the converter lists it with the other unsupported ops).
fn refuse(node: &NodeProto, what: &str) -> Built {
    Ok((UnimplementedOp::new(node.output.len(), what, String::new()).into(), vec![]))
}

/// ONNX `Attention` through tract's builder, except for what tract 0.23.9 would compute wrongly or not at all.
fn attention(ctx: &ParsingContext, node: &NodeProto) -> Built {
    let input = |i: usize| node.input.get(i).is_some_and(|s| !s.is_empty());
    let int = |name: &str, default: i64| node.get_attr_opt::<i64>(name).map(|v| v.unwrap_or(default));
    if int("left_window_size", -1)? >= 0 || int("right_window_size", -1)? >= 0 {
        return refuse(node, "Attention (sliding window)");
    }
    if int("is_causal", 0)? != 0 && input(4) {
        return refuse(node, "Attention (causal with past keys)");
    }
    if node.get_attr_opt::<f32>("softcap")?.unwrap_or(0.0) != 0.0 {
        return refuse(node, "Attention (softcap)");
    }
    if int("qk_matmul_output_mode", 0)? != 0 || node.output.get(3).is_some_and(|s| !s.is_empty()) {
        return refuse(node, "Attention (qk_matmul_output)");
    }
    if input(6) {
        return refuse(node, "Attention (nonpad_kv_seqlen)");
    }
    match TRACT_ATTENTION.get().copied().flatten() {
        Some(build) => build(ctx, node),
        None => refuse(node, "Attention"),
    }
}

/// ONNX `RNN`, `GRU`, `LSTM` through tract's builders, except `direction = reverse`, which tract 0.23.9 runs
/// forward.
fn recurrent(ctx: &ParsingContext, node: &NodeProto) -> Built {
    let which = ["RNN", "GRU", "LSTM"].iter().position(|op| *op == node.op_type);
    if node.get_attr_opt::<String>("direction")?.as_deref() == Some("reverse") {
        return refuse(node, &format!("{} (direction reverse)", node.op_type));
    }
    match which.and_then(|w| TRACT_RECURRENT.get().and_then(|b| b[w])) {
        Some(build) => build(ctx, node),
        None => refuse(node, &node.op_type),
    }
}

fn unary_rules<'r, 'p: 'r, 's: 'r>(
    s: &mut Solver<'r>,
    inputs: &'p [TensorProxy],
    outputs: &'p [TensorProxy],
) -> InferenceResult {
    check_input_arity(inputs, 1)?;
    check_output_arity(outputs, 1)?;
    s.equals(&inputs[0].datum_type, &outputs[0].datum_type)?;
    s.equals(&inputs[0].shape, &outputs[0].shape)?;
    Ok(())
}

/// A constant scalar of the input's dtype and rank.
fn scalar(model: &mut TypedModel, inputs: &[OutletId], name: String, v: f32) -> TractResult<OutletId> {
    let t = broadcast_scalar(v, model, inputs)?;
    model.add_const(name, t)
}

/// ONNX `Celu`: `max(0, x) + min(0, α·(exp(x/α) − 1))` (tract 0.23.9 leaves out the factor α).
fn celu(_: &ParsingContext, node: &NodeProto) -> Built {
    let alpha: f32 = node.get_attr_opt("alpha")?.unwrap_or(1.0);
    Ok((expand(Celu(alpha.to_bits())), vec![]))
}

#[derive(Debug, Clone, Hash)]
struct Celu(u32);

impl Expansion for Celu {
    fn name(&self) -> StaticName {
        "Celu".into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        unary_rules(s, inputs, outputs)
    }

    fn wire(&self, name: &str, model: &mut TypedModel, inputs: &[OutletId]) -> TractResult<TVec<OutletId>> {
        let alpha = f32::from_bits(self.0);
        let zero = scalar(model, inputs, format!("{name}.zero"), 0.0)?;
        let one = scalar(model, inputs, format!("{name}.one"), 1.0)?;
        let a = scalar(model, inputs, format!("{name}.alpha"), alpha)?;
        let x = inputs[0];
        let scaled = model.wire_node(format!("{name}.x_over_alpha"), math::div(), &[x, a])?;
        let e = model.wire_node(format!("{name}.exp"), math::exp(), &scaled)?;
        let em1 = model.wire_node(format!("{name}.minus_one"), math::sub(), &[e[0], one])?;
        let neg = model.wire_node(format!("{name}.times_alpha"), math::mul(), &[em1[0], a])?;
        let neg = model.wire_node(format!("{name}.neg_part"), math::min(), &[zero, neg[0]])?;
        let pos = model.wire_node(format!("{name}.pos_part"), math::max(), &[zero, x])?;
        model.wire_node(name, math::add(), &[pos[0], neg[0]])
    }
}

/// ONNX `Swish`: `x · sigmoid(α·x)` (tract 0.23.9 ignores α).
fn swish(_: &ParsingContext, node: &NodeProto) -> Built {
    let alpha: f32 = node.get_attr_opt("alpha")?.unwrap_or(1.0);
    Ok((expand(Swish(alpha.to_bits())), vec![]))
}

#[derive(Debug, Clone, Hash)]
struct Swish(u32);

impl Expansion for Swish {
    fn name(&self) -> StaticName {
        "Swish".into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        unary_rules(s, inputs, outputs)
    }

    fn wire(&self, name: &str, model: &mut TypedModel, inputs: &[OutletId]) -> TractResult<TVec<OutletId>> {
        let a = scalar(model, inputs, format!("{name}.alpha"), f32::from_bits(self.0))?;
        let ax = model.wire_node(format!("{name}.alpha_x"), math::mul(), &[inputs[0], a])?;
        let gate = model.wire_node(format!("{name}.sigmoid"), sigmoid(), &ax)?;
        model.wire_node(name, math::mul(), &[inputs[0], gate[0]])
    }
}

/// ONNX `SpaceToDepth` with its `mode` (tract 0.23.9 always uses DCR).
fn space_to_depth(_: &ParsingContext, node: &NodeProto) -> Built {
    let blocksize: usize = node.get_attr_opt("blocksize")?.unwrap_or(2);
    let mode: String = node.get_attr_opt("mode")?.unwrap_or_else(|| "DCR".to_string());
    let crd = match mode.as_str() {
        "DCR" => false,
        "CRD" => true,
        other => bail!("SpaceToDepth mode {other:?}"),
    };
    if blocksize == 0 {
        bail!("SpaceToDepth blocksize 0");
    }
    Ok((expand(SpaceToDepth { blocksize, crd }), vec![]))
}

#[derive(Debug, Clone, Hash)]
struct SpaceToDepth {
    blocksize: usize,
    crd: bool,
}

impl Expansion for SpaceToDepth {
    fn name(&self) -> StaticName {
        "SpaceToDepth".into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_input_arity(inputs, 1)?;
        check_output_arity(outputs, 1)?;
        s.equals(&inputs[0].rank, 4)?;
        s.equals(&outputs[0].rank, 4)?;
        s.equals(&outputs[0].datum_type, &inputs[0].datum_type)?;
        let b = self.blocksize;
        s.given(&inputs[0].shape, move |s, shape| {
            let out: TVec<TDim> =
                tvec!(shape[0].clone(), shape[1].clone() * b * b, shape[2].clone() / b, shape[3].clone() / b);
            s.equals(&outputs[0].shape, ShapeFactoid::from(out))
        })
    }

    fn wire(&self, name: &str, model: &mut TypedModel, inputs: &[OutletId]) -> TractResult<TVec<OutletId>> {
        let shape = model.outlet_fact(inputs[0])?.shape.to_tvec();
        let b = self.blocksize;
        if shape[2].to_usize()? % b != 0 || shape[3].to_usize()? % b != 0 {
            bail!("SpaceToDepth: spatial sizes must be multiples of the block size");
        }
        let (c, bd): (TDim, TDim) = (shape[1].clone(), b.into());
        let split = AxisOp::Reshape(
            2,
            tvec!(shape[2].clone(), shape[3].clone()),
            tvec!(shape[2].clone() / b, bd.clone(), shape[3].clone() / b, bd.clone()),
        );
        // [N, C, H/b, b, W/b, b] → DCR: [N, b, b, C, H/b, W/b]; CRD: [N, C, b, b, H/b, W/b].
        let ops = if self.crd {
            vec![
                split,
                AxisOp::Move(3, 2),
                AxisOp::Move(5, 3),
                AxisOp::Reshape(1, tvec!(c.clone(), bd.clone(), bd.clone()), tvec!(c * b * b)),
            ]
        } else {
            vec![
                split,
                AxisOp::Move(3, 1),
                AxisOp::Move(5, 2),
                AxisOp::Reshape(1, tvec!(bd.clone(), bd.clone(), c.clone()), tvec!(c * b * b)),
            ]
        };
        let mut wire = tvec!(inputs[0]);
        for (i, op) in ops.into_iter().enumerate() {
            wire = model.wire_node(format!("{name}.{i}"), op, &wire)?;
        }
        Ok(wire)
    }
}

/// ONNX `LpPool` (tract has none): `(Σ_window |x|^p)^(1/p)`, the sum an unnormalized `SumPool`.
fn lp_pool(_: &ParsingContext, node: &NodeProto) -> Built {
    let kernel_shape: TVec<usize> = node.get_attr_tvec("kernel_shape")?;
    let rank = kernel_shape.len();
    let p: usize = node.get_attr_opt("p")?.unwrap_or(2);
    let strides: Option<TVec<usize>> = node.get_attr_opt_tvec("strides")?;
    let dilations: Option<TVec<usize>> = node.get_attr_opt_tvec("dilations")?;
    let ceil_mode = node.get_attr_opt::<i64>("ceil_mode")?.unwrap_or(0) == 1;
    let padding = match node.get_attr_opt_tvec::<usize>("pads")? {
        Some(pads) if pads.len() == 2 * rank => {
            PaddingSpec::ExplicitOnnxPool(pads[..rank].into(), pads[rank..].into(), ceil_mode)
        }
        Some(pads) => bail!("LpPool: {} pads for {rank} spatial axes", pads.len()),
        None => match node.get_attr_opt::<String>("auto_pad")?.as_deref().unwrap_or("NOTSET") {
            "NOTSET" => PaddingSpec::ExplicitOnnxPool(tvec!(0; rank), tvec!(0; rank), ceil_mode),
            "VALID" => PaddingSpec::Valid,
            "SAME_UPPER" => PaddingSpec::SameUpper,
            "SAME_LOWER" => PaddingSpec::SameLower,
            other => bail!("LpPool auto_pad {other:?}"),
        },
    };
    let pool_spec = PoolSpec::new(DataFormat::NCHW, kernel_shape, padding, dilations, strides, 0, 0);
    Ok((expand(LpPool { pool: HirSumPool::new(pool_spec, false, false), p }), vec![]))
}

#[derive(Debug, Clone)]
struct LpPool {
    pool: HirSumPool,
    p: usize,
}

impl Expansion for LpPool {
    fn name(&self) -> StaticName {
        "LpPool".into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        self.pool.rules(s, inputs, outputs)
    }

    fn wire(&self, name: &str, model: &mut TypedModel, inputs: &[OutletId]) -> TractResult<TVec<OutletId>> {
        let p = scalar(model, inputs, format!("{name}.p"), self.p as f32)?;
        let abs = model.wire_node(format!("{name}.abs"), math::abs(), inputs)?;
        let pow = model.wire_node(format!("{name}.pow"), math::pow(), &[abs[0], p])?;
        let sum = self.pool.wire(&format!("{name}.sum"), model, &pow)?;
        let inv = broadcast_scalar(1.0 / self.p as f32, model, &sum)?;
        let inv = model.add_const(format!("{name}.inv_p"), inv)?;
        model.wire_node(name, math::pow(), &[sum[0], inv])
    }
}

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
fn nll_loss(_: &ParsingContext, node: &NodeProto) -> Built {
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
fn softmax_cross_entropy_loss(_: &ParsingContext, node: &NodeProto) -> Built {
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

/// ONNX `CumProd` (tract has none): our op, through [`Native`].
fn cum_prod(_: &ParsingContext, node: &NodeProto) -> Built {
    let exclusive = node.get_attr_opt::<i64>("exclusive")?.unwrap_or(0) == 1;
    let reverse = node.get_attr_opt::<i64>("reverse")?.unwrap_or(0) == 1;
    Ok((expand(CumProdExpansion { exclusive, reverse }), vec![]))
}

#[derive(Debug, Clone, Hash)]
struct CumProdExpansion {
    exclusive: bool,
    reverse: bool,
}

impl Expansion for CumProdExpansion {
    fn name(&self) -> StaticName {
        "CumProd".into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_input_arity(inputs, 2)?;
        check_output_arity(outputs, 1)?;
        s.equals(&inputs[0].datum_type, &outputs[0].datum_type)?;
        s.equals(&inputs[0].shape, &outputs[0].shape)?;
        Ok(())
    }

    fn wire(&self, name: &str, model: &mut TypedModel, inputs: &[OutletId]) -> TractResult<TVec<OutletId>> {
        let axis = model.outlet_fact(inputs[1])?.konst.clone().context("CumProd: the axis must be a constant")?;
        let axis = axis.cast_to_scalar::<i64>()?;
        let rank = model.outlet_fact(inputs[0])?.rank() as i64;
        let axis = if axis < 0 { axis + rank } else { axis };
        if !(0..rank).contains(&axis) {
            bail!("CumProd: axis {axis} out of range for rank {rank}");
        }
        let op =
            wdnn_descriptor_spec::Op::CumProd { axis: axis as u32, exclusive: self.exclusive, reverse: self.reverse };
        model.wire_node(name, Native { op, dtype: None, shape: None }, &[inputs[0]])
    }
}

/// ONNX `BitCast` (tract has none): the same bytes read as another dtype of the same size.
fn bit_cast(_: &ParsingContext, node: &NodeProto) -> Built {
    let to: i64 = node.get_attr("to")?;
    let to = tract_onnx::pb::tensor_proto::DataType::try_from(to as i32)
        .map_err(|_| format_err!("BitCast to unknown type {to}"))
        .and_then(DatumType::try_from);
    match to {
        Ok(to) if super::dtype_of(to).is_ok() => Ok((expand(BitCast(to)), vec![])),
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
pub(super) struct Native {
    pub(super) op: wdnn_descriptor_spec::Op,
    dtype: Option<DatumType>,
    /// The output's shape when it is not input 0's.
    shape: Option<Vec<usize>>,
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
        let err = |e: super::NotSupported| format_err!("{}: {}", self.op.name(), e.0);
        let hosts: Vec<wdnn_runner_core::Tensor> =
            inputs.iter().map(|t| super::tensor_from_tract(t)).collect::<Result<_, _>>().map_err(err)?;
        let x = hosts.first().context("no input")?;
        let dtype = match self.dtype {
            Some(dt) => super::dtype_of(dt).map_err(err)?,
            None => x.dtype(),
        };
        let refs: Vec<&wdnn_runner_core::Tensor> = hosts.iter().collect();
        let shape = match &self.shape {
            Some(s) => s.iter().map(|&d| d as u64).collect(),
            None => x.shape().to_vec(),
        };
        let y = wdnn_runner_fallback::eval(&self.op, &refs, &[(dtype, shape)])?;
        let y = y.first().context("no result")?;
        Ok(tvec!(super::tensor_to_tract(y)?.into_tvalue()))
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

/// ONNX `ReverseSequence` with constant sequence lengths: a `GatherElements` along the time axis whose constant
/// indices reverse the first `len[b]` steps of each batch entry.
fn reverse_sequence(_: &ParsingContext, node: &NodeProto) -> Built {
    let batch_axis: usize = node.get_attr_opt("batch_axis")?.unwrap_or(1);
    let time_axis: usize = node.get_attr_opt("time_axis")?.unwrap_or(0);
    if batch_axis > 1 || time_axis > 1 || batch_axis == time_axis {
        bail!("ReverseSequence: batch_axis {batch_axis}, time_axis {time_axis}");
    }
    Ok((expand(ReverseSequence { batch_axis, time_axis }), vec![]))
}

#[derive(Debug, Clone, Hash)]
struct ReverseSequence {
    batch_axis: usize,
    time_axis: usize,
}

impl Expansion for ReverseSequence {
    fn name(&self) -> StaticName {
        "ReverseSequence".into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_input_arity(inputs, 2)?;
        check_output_arity(outputs, 1)?;
        s.equals(&inputs[0].datum_type, &outputs[0].datum_type)?;
        s.equals(&inputs[0].shape, &outputs[0].shape)?;
        Ok(())
    }

    fn wire(&self, name: &str, model: &mut TypedModel, inputs: &[OutletId]) -> TractResult<TVec<OutletId>> {
        use tract_onnx::tract_core::ops::array::GatherElements;
        let lens = model.outlet_fact(inputs[1])?.konst.clone().context("ReverseSequence: constant lengths needed")?;
        let lens = ints(&lens)?;
        let shape =
            model.outlet_fact(inputs[0])?.shape.as_concrete().context("ReverseSequence: symbolic shape")?.to_vec();
        let (b_axis, t_axis) = (self.batch_axis, self.time_axis);
        let steps = shape[t_axis] as i64;
        let index = tract_onnx::tract_core::ndarray::ArrayD::from_shape_fn(shape.clone(), |ix| {
            let (b, t) = (ix[b_axis], ix[t_axis] as i64);
            let len = lens.get(b).copied().unwrap_or(0).clamp(0, steps);
            if t < len { len - 1 - t } else { t }
        });
        let index = model.add_const(format!("{name}.index"), Tensor::from(index))?;
        model.wire_node(name, GatherElements { axis: t_axis }, &[inputs[0], index])
    }
}

/// ONNX `CenterCropPad` with a constant shape: a centred slice where an axis shrinks, zero padding where it grows.
fn center_crop_pad(_: &ParsingContext, node: &NodeProto) -> Built {
    let axes: Option<Vec<i64>> = node.get_attr_opt_vec("axes")?;
    Ok((expand(CenterCropPad { axes }), vec![]))
}

#[derive(Debug, Clone, Hash)]
struct CenterCropPad {
    axes: Option<Vec<i64>>,
}

impl CenterCropPad {
    /// The target extent of every axis, given the input shape and the `shape` input's values.
    fn target(&self, input: &[usize], shape: &[i64]) -> TractResult<Vec<usize>> {
        let rank = input.len() as i64;
        let axes: Vec<i64> = self.axes.clone().unwrap_or_else(|| (0..rank).collect());
        if axes.len() != shape.len() {
            bail!("CenterCropPad: {} axes, {} sizes", axes.len(), shape.len());
        }
        let mut out = input.to_vec();
        for (&a, &size) in axes.iter().zip(shape) {
            let a = if a < 0 { a + rank } else { a };
            let slot = out.get_mut(usize::try_from(a)?).context("CenterCropPad: axis out of range")?;
            *slot = usize::try_from(size)?;
        }
        Ok(out)
    }
}

impl Expansion for CenterCropPad {
    fn name(&self) -> StaticName {
        "CenterCropPad".into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_input_arity(inputs, 2)?;
        check_output_arity(outputs, 1)?;
        s.equals(&inputs[0].datum_type, &outputs[0].datum_type)?;
        s.equals(&inputs[0].rank, &outputs[0].rank)?;
        s.given_2(&inputs[0].shape, &inputs[1].value, move |s, shape, sizes| {
            let Ok(shape) = shape.iter().map(|d| d.to_usize()).collect::<Result<Vec<usize>, _>>() else {
                return Ok(());
            };
            let target = self.target(&shape, &ints(&sizes)?)?;
            s.equals(&outputs[0].shape, ShapeFactoid::from(target))
        })
    }

    fn wire(&self, name: &str, model: &mut TypedModel, inputs: &[OutletId]) -> TractResult<TVec<OutletId>> {
        use tract_onnx::tract_core::ops::array::{Pad, PadMode, Slice};
        let sizes = model.outlet_fact(inputs[1])?.konst.clone().context("CenterCropPad: constant shape needed")?;
        let sizes = ints(&sizes)?;
        let fact = model.outlet_fact(inputs[0])?.clone();
        let shape: Vec<usize> = fact.shape.as_concrete().context("CenterCropPad: symbolic shape")?.to_vec();
        let target = self.target(&shape, &sizes)?;
        let mut wire = inputs[0];
        let mut pads = vec![(0usize, 0usize); shape.len()];
        for (axis, (&dim, &want)) in shape.iter().zip(&target).enumerate() {
            if want < dim {
                let start = (dim - want) / 2;
                wire =
                    model.wire_node(format!("{name}.crop{axis}"), Slice::new(axis, start, start + want), &[wire])?[0];
            } else if want > dim {
                let before = (want - dim) / 2;
                pads[axis] = (before, want - dim - before);
            }
        }
        if pads.iter().any(|&(a, b)| a + b > 0) {
            let zero = tensor0(0f64).cast_to_dt(fact.datum_type)?.into_owned().into_arc_tensor();
            wire = model.wire_node(format!("{name}.pad"), Pad { pads, mode: PadMode::Constant(zero) }, &[wire])?[0];
        }
        Ok(tvec!(wire))
    }
}

/// ONNX `AffineGrid` with a constant size: the constant grid of normalized coordinates `[P, d + 1]` (homogeneous)
/// times θᵀ, as an einsum, reshaped to `[N, spatial…, d]`.
fn affine_grid(_: &ParsingContext, node: &NodeProto) -> Built {
    let align_corners = node.get_attr_opt::<i64>("align_corners")?.unwrap_or(0) == 1;
    Ok((expand(AffineGrid { align_corners }), vec![]))
}

#[derive(Debug, Clone, Hash)]
struct AffineGrid {
    align_corners: bool,
}

impl Expansion for AffineGrid {
    fn name(&self) -> StaticName {
        "AffineGrid".into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_input_arity(inputs, 2)?;
        check_output_arity(outputs, 1)?;
        s.equals(&inputs[0].datum_type, &outputs[0].datum_type)?;
        s.given(&inputs[1].value, move |s, size| {
            let size = ints(&size)?;
            if size.len() < 3 {
                bail!("AffineGrid: size {size:?}");
            }
            let mut shape: TVec<TDim> = tvec!(size[0].to_dim());
            shape.extend(size[2..].iter().map(|d| d.to_dim()));
            shape.push((size.len() - 2).to_dim());
            s.equals(&outputs[0].shape, ShapeFactoid::from(shape))
        })
    }

    fn wire(&self, name: &str, model: &mut TypedModel, inputs: &[OutletId]) -> TractResult<TVec<OutletId>> {
        use tract_onnx::tract_core::ops::einsum::EinSum;
        let size = model.outlet_fact(inputs[1])?.konst.clone().context("AffineGrid: constant size needed")?;
        let size: Vec<usize> = ints(&size)?.into_iter().map(usize::try_from).collect::<Result<_, _>>()?;
        let spatial = size.get(2..).context("AffineGrid: size too short")?.to_vec();
        let d = spatial.len();
        if !(2..=3).contains(&d) {
            bail!("AffineGrid: {d} spatial axes");
        }
        // Coordinates along each spatial axis, in [-1, 1].
        let coords = |n: usize| -> Vec<f64> {
            (0..n)
                .map(|i| match (self.align_corners, n) {
                    (true, 1) => -1.0,
                    (true, _) => -1.0 + 2.0 * i as f64 / (n - 1) as f64,
                    (false, _) => -1.0 + (2 * i + 1) as f64 / n as f64,
                })
                .collect()
        };
        let per_axis: Vec<Vec<f64>> = spatial.iter().map(|&n| coords(n)).collect();
        let points: usize = spatial.iter().product();
        let mut base = Vec::with_capacity(points * (d + 1));
        for p in 0..points {
            // Row-major position; the homogeneous point lists the last axis first (x, y[, z]), then 1.
            let mut rest = p;
            let mut at = vec![0usize; d];
            for axis in (0..d).rev() {
                at[axis] = rest % spatial[axis];
                rest /= spatial[axis];
            }
            base.extend((0..d).rev().map(|axis| per_axis[axis][at[axis]]));
            base.push(1.0);
        }
        let dt = model.outlet_fact(inputs[0])?.datum_type;
        let base = Tensor::from_shape(&[points, d + 1], &base)?.cast_to_dt(dt)?.into_owned();
        let base = model.add_const(format!("{name}.base_grid"), base)?;
        let product = EinSum::new("pk,njk->npj".parse()?, dt);
        let grid = model.wire_node(format!("{name}.grid"), product, &[base, inputs[0]])?[0];
        let to: TVec<TDim> = spatial.iter().map(|d| d.to_dim()).collect();
        model.wire_node(name, AxisOp::Reshape(1, tvec!(points.to_dim()), to), &[grid])
    }
}

/// The ONNX quantization parameters' common attributes: the axis of per-axis scales, no blocks.
fn quant_axis(node: &NodeProto) -> TractResult<Result<i64, &'static str>> {
    if node.get_attr_opt::<i64>("block_size")?.unwrap_or(0) != 0 {
        return Ok(Err("blocked quantization"));
    }
    Ok(Ok(node.get_attr_opt::<i64>("axis")?.unwrap_or(1)))
}

/// `v` (a scalar, or a 1-D per-axis vector for `axis`) made broadcastable against a rank-`rank` tensor.
fn per_axis(model: &mut TypedModel, name: &str, v: OutletId, rank: usize, axis: i64) -> TractResult<OutletId> {
    let fact = model.outlet_fact(v)?.clone();
    let mut wire = v;
    match fact.rank() {
        0 => {}
        1 if fact.shape.volume().is_one() => {
            wire = model.wire_node(format!("{name}.scalar"), AxisOp::Rm(0), &[wire])?[0]
        }
        1 => {
            let axis = if axis < 0 { axis + rank as i64 } else { axis };
            let axis = usize::try_from(axis).ok().filter(|&a| a < rank).context("quantization axis out of range")?;
            for i in axis + 1..rank {
                wire = model.wire_node(format!("{name}.axis{i}"), AxisOp::Add(i - axis), &[wire])?[0];
            }
        }
        r => bail!("quantization parameter of rank {r}"),
    }
    let mut current = model.outlet_fact(wire)?.rank();
    while current < rank {
        wire = model.wire_node(format!("{name}.lead{current}"), AxisOp::Add(0), &[wire])?[0];
        current += 1;
    }
    Ok(wire)
}

fn cast_to(model: &mut TypedModel, name: &str, v: OutletId, dt: DatumType) -> TractResult<OutletId> {
    if model.outlet_fact(v)?.datum_type == dt {
        return Ok(v);
    }
    Ok(model.wire_node(name, tract_onnx::tract_core::ops::cast::cast(dt), &[v])?[0])
}

/// ONNX `QuantizeLinear`: `saturate(round_half_even(x / scale) + zero_point)`, computed in f32 with a division
/// (tract multiplies by a rounded reciprocal, which moves ties).
fn quantize_linear(_: &ParsingContext, node: &NodeProto) -> Built {
    let axis = match quant_axis(node)? {
        Ok(axis) => axis,
        Err(why) => return refuse(node, &format!("QuantizeLinear ({why})")),
    };
    let has_zero_point = node.input.get(2).is_some_and(|s| !s.is_empty());
    let output_dtype = match node.get_attr_opt::<i64>("output_dtype")?.unwrap_or(0) {
        0 => None,
        code => Some(
            tract_onnx::pb::tensor_proto::DataType::try_from(code as i32)
                .map_err(|_| format_err!("QuantizeLinear output_dtype {code}"))
                .and_then(DatumType::try_from)?,
        ),
    };
    let to = if has_zero_point { None } else { Some(output_dtype.unwrap_or(DatumType::U8)) };
    if to.is_some_and(|dt| !matches!(dt, DatumType::U8 | DatumType::I8 | DatumType::U16 | DatumType::I16)) {
        return refuse(node, "QuantizeLinear (output dtype)");
    }
    Ok((expand(QuantizeLinear { axis, to }), vec![]))
}

#[derive(Debug, Clone, Hash)]
struct QuantizeLinear {
    axis: i64,
    /// The output dtype when there is no zero point.
    to: Option<DatumType>,
}

impl Expansion for QuantizeLinear {
    fn name(&self) -> StaticName {
        "QuantizeLinear".into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_output_arity(outputs, 1)?;
        s.equals(&inputs[0].shape, &outputs[0].shape)?;
        match self.to {
            Some(dt) => s.equals(&outputs[0].datum_type, dt)?,
            None => s.equals(&outputs[0].datum_type, &inputs[2].datum_type)?,
        }
        Ok(())
    }

    fn wire(&self, name: &str, model: &mut TypedModel, inputs: &[OutletId]) -> TractResult<TVec<OutletId>> {
        use tract_onnx::tract_core::ops::math::round_half_to_even;
        let rank = model.outlet_fact(inputs[0])?.rank();
        let axis = self.axis;
        let to = match self.to {
            Some(dt) => dt,
            None => model.outlet_fact(inputs[2])?.datum_type,
        };
        let (lo, hi): (f32, f32) = match to {
            DatumType::U8 => (0.0, 255.0),
            DatumType::I8 => (-128.0, 127.0),
            DatumType::U16 => (0.0, 65535.0),
            DatumType::I16 => (-32768.0, 32767.0),
            other => bail!("QuantizeLinear to {other:?}"),
        };
        let x = cast_to(model, &format!("{name}.x_f32"), inputs[0], DatumType::F32)?;
        let scale = cast_to(model, &format!("{name}.scale_f32"), inputs[1], DatumType::F32)?;
        let scale = per_axis(model, &format!("{name}.scale"), scale, rank, axis)?;
        let q = model.wire_node(format!("{name}.div"), math::div(), &[x, scale])?[0];
        let mut q = model.wire_node(format!("{name}.round"), round_half_to_even(), &[q])?[0];
        if let Some(&zp) = inputs.get(2) {
            let zp = cast_to(model, &format!("{name}.zero_point_f32"), zp, DatumType::F32)?;
            let zp = per_axis(model, &format!("{name}.zero_point"), zp, rank, axis)?;
            q = model.wire_node(format!("{name}.add"), math::add(), &[q, zp])?[0];
        }
        let lo = scalar(model, &[q], format!("{name}.lo"), lo)?;
        let hi = scalar(model, &[q], format!("{name}.hi"), hi)?;
        let q = model.wire_node(format!("{name}.max"), math::max(), &[q, lo])?[0];
        let q = model.wire_node(format!("{name}.min"), math::min(), &[q, hi])?[0];
        Ok(tvec!(cast_to(model, name, q, to)?))
    }
}

/// ONNX `DequantizeLinear`: `(x − zero_point) · scale`, computed in f32, in the scale's dtype.
fn dequantize_linear(_: &ParsingContext, node: &NodeProto) -> Built {
    match quant_axis(node)? {
        Ok(axis) => Ok((expand(DequantizeLinear { axis }), vec![])),
        Err(why) => refuse(node, &format!("DequantizeLinear ({why})")),
    }
}

#[derive(Debug, Clone, Hash)]
struct DequantizeLinear {
    axis: i64,
}

impl Expansion for DequantizeLinear {
    fn name(&self) -> StaticName {
        "DequantizeLinear".into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_output_arity(outputs, 1)?;
        s.equals(&inputs[0].shape, &outputs[0].shape)?;
        s.equals(&outputs[0].datum_type, &inputs[1].datum_type)?;
        Ok(())
    }

    fn wire(&self, name: &str, model: &mut TypedModel, inputs: &[OutletId]) -> TractResult<TVec<OutletId>> {
        let rank = model.outlet_fact(inputs[0])?.rank();
        let axis = self.axis;
        let out_dt = model.outlet_fact(inputs[1])?.datum_type;
        let mut x = cast_to(model, &format!("{name}.x_f32"), inputs[0], DatumType::F32)?;
        if let Some(&zp) = inputs.get(2) {
            let zp = cast_to(model, &format!("{name}.zero_point_f32"), zp, DatumType::F32)?;
            let zp = per_axis(model, &format!("{name}.zero_point"), zp, rank, axis)?;
            x = model.wire_node(format!("{name}.sub"), math::sub(), &[x, zp])?[0];
        }
        let scale = cast_to(model, &format!("{name}.scale_f32"), inputs[1], DatumType::F32)?;
        let scale = per_axis(model, &format!("{name}.scale"), scale, rank, axis)?;
        let y = model.wire_node(format!("{name}.mul"), math::mul(), &[x, scale])?[0];
        Ok(tvec!(cast_to(model, name, y, out_dt)?))
    }
}

/// ONNX `DynamicQuantizeLinear`, as its function body: the uint8 scale and zero point that map
/// `[min(x, 0), max(x, 0)]` onto `[0, 255]`, then `QuantizeLinear`.
#[derive(Debug, Clone, Hash)]
struct DynamicQuantizeLinear;

impl Expansion for DynamicQuantizeLinear {
    fn name(&self) -> StaticName {
        "DynamicQuantizeLinear".into()
    }

    fn nboutputs(&self) -> TractResult<usize> {
        Ok(3)
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_input_arity(inputs, 1)?;
        check_output_arity(outputs, 3)?;
        s.equals(&inputs[0].shape, &outputs[0].shape)?;
        s.equals(&outputs[0].datum_type, DatumType::U8)?;
        s.equals(&outputs[1].datum_type, &inputs[0].datum_type)?;
        s.equals(&outputs[1].rank, 0)?;
        s.equals(&outputs[2].datum_type, DatumType::U8)?;
        s.equals(&outputs[2].rank, 0)?;
        Ok(())
    }

    fn wire(&self, name: &str, model: &mut TypedModel, inputs: &[OutletId]) -> TractResult<TVec<OutletId>> {
        use tract_onnx::tract_core::ops::math::round_half_to_even;
        use tract_onnx::tract_core::ops::nn::{Reduce, Reducer};
        let x = inputs[0];
        let rank = model.outlet_fact(x)?.rank();
        let all: TVec<usize> = (0..rank).collect();
        let ones: TVec<TDim> = (0..rank).map(|_| 1.to_dim()).collect();
        let reduce = |model: &mut TypedModel, what: &str, r: Reducer| -> TractResult<OutletId> {
            let v = model.wire_node(format!("{name}.{what}"), Reduce::new(all.clone(), r), &[x])?[0];
            Ok(model.wire_node(format!("{name}.{what}_scalar"), AxisOp::Reshape(0, ones.clone(), tvec!()), &[v])?[0])
        };
        let (min, max) = (reduce(model, "min", Reducer::Min)?, reduce(model, "max", Reducer::Max)?);
        let zero = scalar(model, &[min], format!("{name}.zero"), 0.0)?;
        let qmax = scalar(model, &[min], format!("{name}.qmax"), 255.0)?;
        let min = model.wire_node(format!("{name}.min_adjusted"), math::min(), &[min, zero])?[0];
        let max = model.wire_node(format!("{name}.max_adjusted"), math::max(), &[max, zero])?[0];
        let range = model.wire_node(format!("{name}.range"), math::sub(), &[max, min])?[0];
        let scale = model.wire_node(format!("{name}.scale"), math::div(), &[range, qmax])?[0];
        let scaled = model.wire_node(format!("{name}.min_scaled"), math::div(), &[min, scale])?[0];
        let zp = model.wire_node(format!("{name}.zero_point_fp"), math::sub(), &[zero, scaled])?[0];
        let zp = model.wire_node(format!("{name}.zero_point_lo"), math::max(), &[zp, zero])?[0];
        let zp = model.wire_node(format!("{name}.zero_point_hi"), math::min(), &[zp, qmax])?[0];
        let zp = model.wire_node(format!("{name}.zero_point_round"), round_half_to_even(), &[zp])?[0];
        let zp = cast_to(model, &format!("{name}.zero_point"), zp, DatumType::U8)?;
        let y = QuantizeLinear { axis: 1, to: None }.wire(&format!("{name}.quantize"), model, &[x, scale, zp])?[0];
        Ok(tvec!(y, scale, zp))
    }
}

/// ONNX `MatMulInteger` (`(a − a_zp)·(b − b_zp)` in int32) and `QLinearMatMul` (that product times
/// `a_scale·b_scale / y_scale`, plus `y_zp`, rounded and saturated): the integer product is computed exactly in
/// f32 as long as its values stay below 2²⁴.
#[derive(Debug, Clone, Hash)]
struct IntegerMatMul {
    requantize: bool,
}

impl IntegerMatMul {
    /// The input positions of a, b, a_zp, b_zp, a_scale, b_scale and y_scale.
    fn slots(&self) -> [Option<usize>; 7] {
        if self.requantize {
            // QLinearMatMul(a, a_scale, a_zp, b, b_scale, b_zp, y_scale, y_zp)
            [Some(0), Some(3), Some(2), Some(5), Some(1), Some(4), Some(6)]
        } else {
            // MatMulInteger(A, B, a_zero_point?, b_zero_point?)
            [Some(0), Some(1), Some(2), Some(3), None, None, None]
        }
    }
}

impl Expansion for IntegerMatMul {
    fn name(&self) -> StaticName {
        if self.requantize { "QLinearMatMul" } else { "MatMulInteger" }.into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_output_arity(outputs, 1)?;
        if self.requantize {
            check_input_arity(inputs, 8)?;
            s.equals(&outputs[0].datum_type, &inputs[7].datum_type)?;
        } else {
            s.equals(&outputs[0].datum_type, DatumType::I32)?;
        }
        let (a, b) = (&inputs[0], &inputs[if self.requantize { 3 } else { 1 }]);
        s.equals(&a.rank, &b.rank)?;
        s.equals(&outputs[0].rank, &a.rank)?;
        s.given_2(&a.shape, &b.shape, move |s, sa, sb| {
            let r = sa.len();
            if r < 2 || sb.len() != r {
                bail!("integer MatMul of ranks {} and {}", r, sb.len());
            }
            let mut out: TVec<TDim> = sa[..r - 2].into();
            out.push(sa[r - 2].clone());
            out.push(sb[r - 1].clone());
            s.equals(&outputs[0].shape, ShapeFactoid::from(out))
        })
    }

    fn wire(&self, name: &str, model: &mut TypedModel, inputs: &[OutletId]) -> TractResult<TVec<OutletId>> {
        use tract_onnx::tract_core::ops::einsum::EinSum;
        use tract_onnx::tract_core::ops::math::round_half_to_even;
        let [a, b, a_zp, b_zp, a_scale, b_scale, y_scale] =
            self.slots().map(|s| s.and_then(|i| inputs.get(i).copied()));
        let (a, b) = (a.context("no A")?, b.context("no B")?);
        let rank = model.outlet_fact(a)?.rank();
        // A's zero point may be per row, B's per column.
        let centred = |model: &mut TypedModel,
                       which: &str,
                       v: OutletId,
                       zp: Option<OutletId>,
                       axis: i64|
         -> TractResult<OutletId> {
            let v = cast_to(model, &format!("{name}.{which}_f32"), v, DatumType::F32)?;
            let Some(zp) = zp else { return Ok(v) };
            let zp = cast_to(model, &format!("{name}.{which}_zero_point_f32"), zp, DatumType::F32)?;
            let zp = per_axis(model, &format!("{name}.{which}_zero_point"), zp, rank, axis)?;
            Ok(model.wire_node(format!("{name}.{which}_centred"), math::sub(), &[v, zp])?[0])
        };
        let a = centred(model, "a", a, a_zp, -2)?;
        let b = centred(model, "b", b, b_zp, -1)?;
        let batch: String = "abcdefgh".chars().take(rank.saturating_sub(2)).collect();
        let expr = format!("{batch}mk,{batch}kn->{batch}mn");
        let c = model.wire_node(format!("{name}.product"), EinSum::new(expr.parse()?, DatumType::F32), &[a, b])?[0];
        if !self.requantize {
            return Ok(tvec!(cast_to(model, name, c, DatumType::I32)?));
        }
        let (a_scale, b_scale, y_scale) =
            (a_scale.context("no a_scale")?, b_scale.context("no b_scale")?, y_scale.context("no y_scale")?);
        let f32_scalar = |model: &mut TypedModel, which: &str, v: OutletId| -> TractResult<OutletId> {
            let v = cast_to(model, &format!("{name}.{which}_f32"), v, DatumType::F32)?;
            per_axis(model, &format!("{name}.{which}"), v, rank, -1)
        };
        let (sa, sb, sy) = (
            f32_scalar(model, "a_scale", a_scale)?,
            f32_scalar(model, "b_scale", b_scale)?,
            f32_scalar(model, "y_scale", y_scale)?,
        );
        let f = model.wire_node(format!("{name}.scale_ab"), math::mul(), &[sa, sb])?[0];
        let f = model.wire_node(format!("{name}.scale"), math::div(), &[f, sy])?[0];
        let d = model.wire_node(format!("{name}.scaled"), math::mul(), &[c, f])?[0];
        let y_zp = inputs.get(7).copied().context("no y_zero_point")?;
        let to = model.outlet_fact(y_zp)?.datum_type;
        let (lo, hi): (f32, f32) = match to {
            DatumType::U8 => (0.0, 255.0),
            DatumType::I8 => (-128.0, 127.0),
            other => bail!("QLinearMatMul to {other:?}"),
        };
        let zp = cast_to(model, &format!("{name}.y_zero_point_f32"), y_zp, DatumType::F32)?;
        let zp = per_axis(model, &format!("{name}.y_zero_point"), zp, rank, -1)?;
        let d = model.wire_node(format!("{name}.shifted"), math::add(), &[d, zp])?[0];
        let d = model.wire_node(format!("{name}.round"), round_half_to_even(), &[d])?[0];
        let lo = scalar(model, &[d], format!("{name}.lo"), lo)?;
        let hi = scalar(model, &[d], format!("{name}.hi"), hi)?;
        let d = model.wire_node(format!("{name}.max"), math::max(), &[d, lo])?[0];
        let d = model.wire_node(format!("{name}.min"), math::min(), &[d, hi])?[0];
        Ok(tvec!(cast_to(model, name, d, to)?))
    }
}

/// ONNX `Pad`: tract's, except for `wrap` (which tract lacks), our `Pad` through [`Native`].
fn pad(ctx: &ParsingContext, node: &NodeProto) -> Built {
    if node.get_attr_opt::<String>("mode")?.as_deref() != Some("wrap") {
        return match TRACT_PAD.get().copied().flatten() {
            Some(build) => build(ctx, node),
            None => refuse(node, "Pad"),
        };
    }
    if ctx.onnx_operator_set_version < 11 {
        return refuse(node, "Pad (wrap before opset 11)");
    }
    let has_axes = node.input.get(3).is_some_and(|s| !s.is_empty());
    Ok((expand(WrapPad { has_axes }), vec![]))
}

#[derive(Debug, Clone, Hash)]
struct WrapPad {
    has_axes: bool,
}

impl WrapPad {
    /// All begins, then all ends, for every axis, from the `pads` and optional `axes` inputs.
    fn pads(&self, rank: usize, pads: &[i64], axes: Option<&[i64]>) -> TractResult<Vec<i64>> {
        let axes: Vec<usize> = match axes {
            Some(axes) => axes
                .iter()
                .map(|&a| usize::try_from(if a < 0 { a + rank as i64 } else { a }))
                .collect::<Result<_, _>>()?,
            None => (0..rank).collect(),
        };
        if pads.len() != 2 * axes.len() || axes.iter().any(|&a| a >= rank) {
            bail!("Pad: {} pads for axes {axes:?} of rank {rank}", pads.len());
        }
        let mut all = vec![0; 2 * rank];
        for (i, &a) in axes.iter().enumerate() {
            all[a] = pads[i];
            all[rank + a] = pads[axes.len() + i];
        }
        Ok(all)
    }

    fn output_shape(input: &[usize], pads: &[i64]) -> TractResult<Vec<usize>> {
        let rank = input.len();
        input.iter().enumerate().map(|(d, &n)| Ok(usize::try_from(n as i64 + pads[d] + pads[rank + d])?)).collect()
    }
}

impl Expansion for WrapPad {
    fn name(&self) -> StaticName {
        "Pad".into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_output_arity(outputs, 1)?;
        s.equals(&inputs[0].datum_type, &outputs[0].datum_type)?;
        s.equals(&inputs[0].rank, &outputs[0].rank)?;
        let axes = self.has_axes.then(|| &inputs[3]);
        s.given_2(&inputs[0].shape, &inputs[1].value, move |s, shape, pads| {
            let Ok(shape) = shape.iter().map(|d| d.to_usize()).collect::<Result<Vec<usize>, _>>() else {
                return Ok(());
            };
            let pads = ints(&pads)?;
            match axes {
                Some(axes) => s.given(&axes.value, move |s, axes| {
                    let all = self.pads(shape.len(), &pads, Some(&ints(&axes)?))?;
                    s.equals(&outputs[0].shape, ShapeFactoid::from(Self::output_shape(&shape, &all)?))
                }),
                None => {
                    let all = self.pads(shape.len(), &pads, None)?;
                    s.equals(&outputs[0].shape, ShapeFactoid::from(Self::output_shape(&shape, &all)?))
                }
            }
        })
    }

    fn wire(&self, name: &str, model: &mut TypedModel, inputs: &[OutletId]) -> TractResult<TVec<OutletId>> {
        let konst = |model: &TypedModel, i: usize| -> TractResult<Vec<i64>> {
            let t = model.outlet_fact(inputs[i])?.konst.clone().context("Pad (wrap): constant pads needed")?;
            ints(&t)
        };
        let shape = model.outlet_fact(inputs[0])?.shape.as_concrete().context("Pad: symbolic shape")?.to_vec();
        let axes = if self.has_axes { Some(konst(model, 3)?) } else { None };
        let pads = self.pads(shape.len(), &konst(model, 1)?, axes.as_deref())?;
        let out = Self::output_shape(&shape, &pads)?;
        let op = wdnn_descriptor_spec::Op::Pad { pads, mode: wdnn_descriptor_spec::PadMode::Wrap, value: 0.0 };
        model.wire_node(name, Native { op, dtype: None, shape: Some(out) }, &[inputs[0]])
    }
}
