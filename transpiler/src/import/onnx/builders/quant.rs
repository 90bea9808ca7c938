//! Quantization, computed in f32 the way ONNX defines it: `QuantizeLinear`, `DequantizeLinear`,
//! `DynamicQuantizeLinear`, `MatMulInteger` and `QLinearMatMul`.

use std::sync::OnceLock;

use tract_onnx::model::{Onnx, ParsingContext};
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_core::ops::change_axes::AxisOp;
use tract_onnx::tract_core::ops::math;
use tract_onnx::tract_hir::internal::*;
use tract_onnx::tract_hir::ops::cnn::Conv as HirConv;

use super::{Builder, Built, refuse, scalar};

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
pub(super) fn quantize_linear(_: &ParsingContext, node: &NodeProto) -> Built {
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
pub(super) fn dequantize_linear(_: &ParsingContext, node: &NodeProto) -> Built {
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
pub(super) struct DynamicQuantizeLinear;

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

/// The output shape of a numpy-style matmul: batch dimensions broadcast, 1-D operands promoted and dropped.
fn matmul_shape(a: &[TDim], b: &[TDim]) -> TractResult<TVec<TDim>> {
    if a.is_empty() || b.is_empty() {
        bail!("integer MatMul of a scalar");
    }
    let batch = |s: &[TDim]| -> TVec<TDim> { if s.len() > 2 { s[..s.len() - 2].into() } else { tvec!() } };
    let (ba, bb) = (batch(a), batch(b));
    let n = ba.len().max(bb.len());
    let mut out: TVec<TDim> = tvec!();
    for i in 0..n {
        let da = (i + ba.len()).checked_sub(n).map(|j| ba[j].clone()).unwrap_or_else(|| 1.to_dim());
        let db = (i + bb.len()).checked_sub(n).map(|j| bb[j].clone()).unwrap_or_else(|| 1.to_dim());
        out.push(if da.is_one() { db } else { da });
    }
    if a.len() > 1 {
        out.push(a[a.len() - 2].clone());
    }
    if b.len() > 1 {
        out.push(b[b.len() - 1].clone());
    }
    Ok(out)
}

/// The einsum of a numpy-style matmul of ranks `ra` and `rb` (batch axes aligned from the right; an operand of
/// lower rank is shared across the other's leading batch axes).
fn matmul_expr(ra: usize, rb: usize) -> TractResult<String> {
    if ra == 0 || rb == 0 || ra.max(rb) > 10 {
        bail!("integer MatMul of ranks {ra} and {rb}");
    }
    let (la, lb) = (ra.saturating_sub(2), rb.saturating_sub(2));
    let n = la.max(lb);
    let letters: String = "abcdefgh".chars().take(n).collect();
    let operand = |batch: usize, rank: usize, rows: &str| {
        let mut s = letters[n - batch..].to_string();
        if rank > 1 {
            s.push_str(rows);
        } else {
            s.push('k');
        }
        s
    };
    let (ea, eb) = (operand(la, ra, "mk"), operand(lb, rb, "kn"));
    let mut out = letters.clone();
    if ra > 1 {
        out.push('m');
    }
    if rb > 1 {
        out.push('n');
    }
    Ok(format!("{ea},{eb}->{out}"))
}

/// ONNX `MatMulInteger` (`(a − a_zp)·(b − b_zp)` in int32) and `QLinearMatMul` (that product times
/// `a_scale·b_scale / y_scale`, plus `y_zp`, rounded and saturated): the integer product is computed exactly in
/// f32 as long as its values stay below 2²⁴.
#[derive(Debug, Clone, Hash)]
pub(super) struct IntegerMatMul {
    pub(super) requantize: bool,
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
        s.given_2(&a.shape, &b.shape, move |s, sa, sb| {
            let out = matmul_shape(&sa, &sb)?;
            s.equals(&outputs[0].shape, ShapeFactoid::from(out))
        })
    }

    fn wire(&self, name: &str, model: &mut TypedModel, inputs: &[OutletId]) -> TractResult<TVec<OutletId>> {
        use tract_onnx::tract_core::ops::einsum::EinSum;
        use tract_onnx::tract_core::ops::math::round_half_to_even;
        let [a, b, a_zp, b_zp, a_scale, b_scale, y_scale] =
            self.slots().map(|s| s.and_then(|i| inputs.get(i).copied()));
        let (a, b) = (a.context("no A")?, b.context("no B")?);
        let (ra, rb) = (model.outlet_fact(a)?.rank(), model.outlet_fact(b)?.rank());
        let expr = matmul_expr(ra, rb)?;
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
            let rank = model.outlet_fact(v)?.rank();
            let zp = per_axis(model, &format!("{name}.{which}_zero_point"), zp, rank, axis)?;
            Ok(model.wire_node(format!("{name}.{which}_centred"), math::sub(), &[v, zp])?[0])
        };
        let a = centred(model, "a", a, a_zp, -2)?;
        let b = centred(model, "b", b, b_zp, -1)?;
        let c = model.wire_node(format!("{name}.product"), EinSum::new(expr.parse()?, DatumType::F32), &[a, b])?[0];
        if !self.requantize {
            return Ok(tvec!(cast_to(model, name, c, DatumType::I32)?));
        }
        let (a_scale, b_scale, y_scale) =
            (a_scale.context("no a_scale")?, b_scale.context("no b_scale")?, y_scale.context("no y_scale")?);
        let rank = model.outlet_fact(c)?.rank();
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

/// tract's `ConvInteger` and `QLinearConv` builders: their parsing of the convolution attributes (padding,
/// strides, groups) is reused, their quantized `Conv` is not (the IR has no integer convolution).
static TRACT_CONVS: OnceLock<[Option<Builder>; 2]> = OnceLock::new();

/// Registers `ConvInteger` and `QLinearConv` as [`IntegerConv`] expansions over tract's builders.
pub(super) fn register_convs(onnx: &mut Onnx) {
    let originals = ["ConvInteger", "QLinearConv"].map(|op| onnx.op_register.0.get(op).copied());
    TRACT_CONVS.get_or_init(|| originals);
    onnx.op_register.insert("ConvInteger", integer_conv);
    onnx.op_register.insert("QLinearConv", integer_conv);
}

fn integer_conv(ctx: &ParsingContext, node: &NodeProto) -> Built {
    let requantize = node.op_type == "QLinearConv";
    let Some(build) = TRACT_CONVS.get().and_then(|b| b[usize::from(requantize)]) else {
        return refuse(node, &node.op_type);
    };
    let (op, closures) = build(ctx, node)?;
    let conv = op
        .as_op()
        .downcast_ref::<Box<dyn Expansion>>()
        .and_then(|e| e.as_any().downcast_ref::<HirConv>())
        .cloned()
        .with_context(|| format!("{}: tract's builder did not give a convolution", node.op_type))?;
    Ok((expand(IntegerConv { conv, requantize }), closures))
}

/// ONNX `ConvInteger` (`conv(x − x_zp, w − w_zp)` in int32) and `QLinearConv` (that sum plus the int32 bias,
/// times `x_scale·w_scale / y_scale` per output channel, plus `y_zp`, rounded half to even and saturated, as
/// onnxruntime's kernels requantize): the integer sums are computed exactly by a float convolution as long as
/// they stay below 2²⁴.
#[derive(Debug, Clone, Hash)]
struct IntegerConv {
    /// tract's convolution with the quantized input positions, used for its shape rules.
    conv: HirConv,
    requantize: bool,
}

impl Expansion for IntegerConv {
    fn name(&self) -> StaticName {
        if self.requantize { "QLinearConv" } else { "ConvInteger" }.into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        self.conv.rules(s, inputs, outputs)
    }

    fn wire(&self, name: &str, model: &mut TypedModel, inputs: &[OutletId]) -> TractResult<TVec<OutletId>> {
        use tract_onnx::tract_core::ops::math::round_half_to_even;
        let c = &self.conv;
        let slot = |s: Option<usize>| s.and_then(|i| inputs.get(i).copied());
        let x = inputs[0];
        let w = slot(c.k_input).or_else(|| inputs.get(1).copied()).context("no W")?;
        let rank = model.outlet_fact(x)?.rank();
        let centred = |model: &mut TypedModel, which: &str, v: OutletId, zp: Option<OutletId>, axis: i64| {
            let v = cast_to(model, &format!("{name}.{which}_f32"), v, DatumType::F32)?;
            let Some(zp) = zp else { return Ok(v) };
            let zp = cast_to(model, &format!("{name}.{which}_zero_point_f32"), zp, DatumType::F32)?;
            let zp = per_axis(model, &format!("{name}.{which}_zero_point"), zp, rank, axis)?;
            TractResult::Ok(model.wire_node(format!("{name}.{which}_centred"), math::sub(), &[v, zp])?[0])
        };
        let xf = centred(model, "x", x, slot(c.x_zero_point_input), 1)?;
        let wf = centred(model, "w", w, slot(c.k_zero_point_input), 0)?;
        let float = HirConv {
            x_scale_input: None,
            x_zero_point_input: None,
            k_input: None,
            k_scale_input: None,
            k_zero_point_input: None,
            y_scale_input: None,
            y_zero_point_input: None,
            bias_input: None,
            override_output_datum_type: None,
            ..c.clone()
        };
        let mut acc = float.wire(&format!("{name}.conv"), model, &[xf, wf])?[0];
        if !self.requantize {
            return Ok(tvec!(cast_to(model, name, acc, DatumType::I32)?));
        }
        if let Some(bias) = slot(c.bias_input) {
            let bias = cast_to(model, &format!("{name}.bias_f32"), bias, DatumType::F32)?;
            let bias = per_axis(model, &format!("{name}.bias"), bias, rank, 1)?;
            acc = model.wire_node(format!("{name}.biased"), math::add(), &[acc, bias])?[0];
        }
        let scale = |model: &mut TypedModel, which: &str, v: Option<OutletId>| -> TractResult<OutletId> {
            let v = cast_to(model, &format!("{name}.{which}_f32"), v.context("no scale")?, DatumType::F32)?;
            per_axis(model, &format!("{name}.{which}"), v, rank, 1)
        };
        let sx = scale(model, "x_scale", slot(c.x_scale_input))?;
        let sw = scale(model, "w_scale", slot(c.k_scale_input))?;
        let sy = scale(model, "y_scale", slot(c.y_scale_input))?;
        let f = model.wire_node(format!("{name}.scale_xw"), math::mul(), &[sx, sw])?[0];
        let f = model.wire_node(format!("{name}.scale"), math::div(), &[f, sy])?[0];
        let d = model.wire_node(format!("{name}.scaled"), math::mul(), &[acc, f])?[0];
        let y_zp = slot(c.y_zero_point_input);
        let to = match y_zp {
            Some(zp) => model.outlet_fact(zp)?.datum_type,
            None => DatumType::U8,
        };
        let (lo, hi): (f32, f32) = match to {
            DatumType::U8 => (0.0, 255.0),
            DatumType::I8 => (-128.0, 127.0),
            other => bail!("QLinearConv to {other:?}"),
        };
        let mut d = model.wire_node(format!("{name}.round"), round_half_to_even(), &[d])?[0];
        if let Some(zp) = y_zp {
            let zp = cast_to(model, &format!("{name}.y_zero_point_f32"), zp, DatumType::F32)?;
            let zp = per_axis(model, &format!("{name}.y_zero_point"), zp, rank, 1)?;
            d = model.wire_node(format!("{name}.shifted"), math::add(), &[d, zp])?[0];
        }
        let lo = scalar(model, &[d], format!("{name}.lo"), lo)?;
        let hi = scalar(model, &[d], format!("{name}.hi"), hi)?;
        let d = model.wire_node(format!("{name}.max"), math::max(), &[d, lo])?[0];
        let d = model.wire_node(format!("{name}.min"), math::min(), &[d, hi])?[0];
        Ok(tvec!(cast_to(model, name, d, to)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_matmul_broadcasts_like_matmul() {
        assert_eq!(matmul_expr(2, 2).unwrap(), "mk,kn->mn");
        // onnxruntime.quantization's transformer layers: [batch, seq, k] × [k, n].
        assert_eq!(matmul_expr(3, 2).unwrap(), "amk,kn->amn");
        assert_eq!(matmul_expr(2, 4).unwrap(), "mk,abkn->abmn");
        assert_eq!(matmul_expr(1, 3).unwrap(), "k,akn->an");
        assert_eq!(matmul_expr(3, 1).unwrap(), "amk,k->am");
        let d = |v: &[i64]| -> TVec<TDim> { v.iter().map(|&x| x.to_dim()).collect() };
        assert_eq!(matmul_shape(&d(&[2, 16, 64]), &d(&[64, 32])).unwrap(), d(&[2, 16, 32]));
        assert_eq!(matmul_shape(&d(&[1, 5, 3, 4]), &d(&[7, 1, 4, 6])).unwrap(), d(&[7, 5, 3, 6]));
        assert_eq!(matmul_shape(&d(&[4]), &d(&[4, 6])).unwrap(), d(&[6]));
        assert!(matmul_shape(&d(&[]), &d(&[4])).is_err());
    }
}
