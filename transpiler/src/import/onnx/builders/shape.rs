//! Shape ops tract lacks or gets wrong: `SpaceToDepth` (its mode), `ReverseSequence`, `CenterCropPad`, `AffineGrid`
//! and `Pad`'s wrap mode.

use std::sync::OnceLock;

use tract_onnx::model::{Onnx, ParsingContext};
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_core::ops::change_axes::AxisOp;
use tract_onnx::tract_hir::internal::*;

use super::native::Native;
use super::{Builder, Built, ints, refuse, same_shape};

/// ONNX `SpaceToDepth` with its `mode` (tract 0.23.9 always uses DCR).
pub(super) fn space_to_depth(_: &ParsingContext, node: &NodeProto) -> Built {
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

/// ONNX `ReverseSequence` with constant sequence lengths: a `GatherElements` along the time axis whose constant
/// indices reverse the first `len[b]` steps of each batch entry.
pub(super) fn reverse_sequence(_: &ParsingContext, node: &NodeProto) -> Built {
    let batch_axis: usize = node.get_attr_opt("batch_axis")?.unwrap_or(1);
    let time_axis: usize = node.get_attr_opt("time_axis")?.unwrap_or(0);
    if batch_axis > 1 || time_axis > 1 || batch_axis == time_axis {
        bail!("ReverseSequence: batch_axis {batch_axis}, time_axis {time_axis}");
    }
    same_shape("ReverseSequence", 2, move |name, model, inputs| {
        use tract_onnx::tract_core::ops::array::GatherElements;
        let lens = model.outlet_fact(inputs[1])?.konst.clone().context("ReverseSequence: constant lengths needed")?;
        let lens = ints(&lens)?;
        let shape =
            model.outlet_fact(inputs[0])?.shape.as_concrete().context("ReverseSequence: symbolic shape")?.to_vec();
        let (b_axis, t_axis) = (batch_axis, time_axis);
        let steps = shape[t_axis] as i64;
        let index = tract_onnx::tract_core::ndarray::ArrayD::from_shape_fn(shape.clone(), |ix| {
            let (b, t) = (ix[b_axis], ix[t_axis] as i64);
            let len = lens.get(b).copied().unwrap_or(0).clamp(0, steps);
            if t < len { len - 1 - t } else { t }
        });
        let index = model.add_const(format!("{name}.index"), Tensor::from(index))?;
        model.wire_node(name, GatherElements { axis: t_axis }, &[inputs[0], index])
    })
}

/// ONNX `CenterCropPad` with a constant shape: a centred slice where an axis shrinks, zero padding where it grows.
pub(super) fn center_crop_pad(_: &ParsingContext, node: &NodeProto) -> Built {
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
pub(super) fn affine_grid(_: &ParsingContext, node: &NodeProto) -> Built {
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

/// tract's own `Pad` builder, which [`pad`] calls for every mode but `wrap`.
static TRACT_PAD: OnceLock<Option<Builder>> = OnceLock::new();

/// Registers [`pad`] over tract's builder, which it calls for every mode but `wrap`.
pub(super) fn register_pad(onnx: &mut Onnx) {
    let original = onnx.op_register.0.get("Pad").copied();
    TRACT_PAD.get_or_init(|| original);
    onnx.op_register.insert("Pad", pad);
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
