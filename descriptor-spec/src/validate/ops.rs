//! Per-op structure (SPEC §5): each kernel's input and output counts, ranks, attribute lengths, axes and element
//! counts fit its op. What needs values (an index in range, a NaN) stays with the kernels, which report it by name.

use crate::DType;
use crate::graph::{Graph, KernelPayload, TensorDesc};
use crate::op::{EpilogueStep, Op, UnaryFn};
use crate::shape::broadcast_shape as broadcast;

/// A failed check: the field and what is wrong with it.
pub(super) type Check = std::result::Result<(), (String, String)>;

fn fail(field: impl Into<String>, detail: impl Into<String>) -> Check {
    Err((field.into(), detail.into()))
}

/// Checks kernel `index` of a graph whose ids are in range.
pub(super) fn check(graph: &Graph, index: usize) -> Check {
    let k = &graph.kernels[index];
    if k.op.has_unknown() {
        // Reported by name where the op is looked up (UnknownOp at decode, Unsupported in a backend).
        return Ok(());
    }
    let ins: Vec<&TensorDesc> = k.inputs.iter().map(|&i| &graph.tensors[i as usize]).collect();
    let outs: Vec<&TensorDesc> = k.outputs.iter().map(|&o| &graph.tensors[o as usize]).collect();
    let arity = |min: usize, max: usize| -> Check {
        if ins.len() < min || ins.len() > max {
            let want = if min == max {
                format!("{min}")
            } else if max == usize::MAX {
                format!("at least {min}")
            } else {
                format!("{min} to {max}")
            };
            return fail("inputs", format!("{} inputs, the op takes {want}", ins.len()));
        }
        Ok(())
    };
    let outputs = match k.op {
        Op::LayerNorm { .. } => 1..=3,
        Op::TopK { .. } => 2..=2,
        _ => 1..=1,
    };
    if !outputs.contains(&outs.len()) {
        return fail("outputs", format!("{} outputs, the op has {outputs:?}", outs.len()));
    }
    let y = outs[0];
    if let Some(steps) = k.op.steps() {
        for (s, step) in steps.iter().enumerate() {
            if let EpilogueStep::Binary { operand, .. } = step {
                let Some(t) = ins.get(*operand as usize) else {
                    return fail(format!("op.steps[{s}].operand"), format!("operand {operand} is not an input"));
                };
                if broadcast(&t.shape, &y.shape).as_deref() != Some(&y.shape[..]) {
                    return fail(
                        format!("op.steps[{s}].operand"),
                        format!("operand shape {:?} does not broadcast to the output {:?}", t.shape, y.shape),
                    );
                }
            }
        }
    }
    let x = || ins.first().copied();
    let rank = x().map_or(0, |t| t.shape.len());
    let axis_in = |field: &str, axis: u32, rank: usize| -> Check {
        if axis as usize >= rank.max(1) {
            return fail(format!("op.{field}"), format!("axis {axis} is not below the rank {rank}"));
        }
        Ok(())
    };
    let same_shape = |t: &TensorDesc| -> Check {
        if t.shape != y.shape {
            return fail("outputs[0]", format!("shape {:?} differs from the input's {:?}", y.shape, t.shape));
        }
        Ok(())
    };
    let spatial_attrs = |fields: &[(&str, usize, usize)], channels_last: bool| -> Check {
        let t = x().ok_or(("inputs".to_string(), "no input".to_string()))?;
        if t.shape.len() < 3 || y.shape.len() != t.shape.len() {
            return fail(
                "inputs[0]",
                format!("rank {} (output rank {}) is not N, C and spatial axes", t.shape.len(), y.shape.len()),
            );
        }
        let spatial = t.shape.len() - 2;
        for &(field, len, per) in fields {
            if len != 0 && len != spatial * per {
                return fail(format!("op.{field}"), format!("{len} values for {spatial} spatial axes"));
            }
        }
        let _ = channels_last;
        Ok(())
    };
    match &k.op {
        Op::Unknown => fail("op", "unknown op"),
        Op::Unary { fun } => {
            arity(1, 1)?;
            same_shape(ins[0])?;
            let predicate = matches!(fun, UnaryFn::IsNaN | UnaryFn::IsInf { .. });
            if !predicate && y.dtype != ins[0].dtype {
                return fail("outputs[0]", format!("dtype {} differs from the input's {}", y.dtype, ins[0].dtype));
            }
            if predicate && y.dtype != DType::Bool {
                return fail("outputs[0]", format!("dtype {} where bool is produced", y.dtype));
            }
            Ok(())
        }
        Op::Binary { fun } => {
            arity(2, 2)?;
            if broadcast(&ins[0].shape, &ins[1].shape).as_deref() != Some(&y.shape[..]) {
                return fail(
                    "outputs[0]",
                    format!("shape {:?} is not the broadcast of {:?} and {:?}", y.shape, ins[0].shape, ins[1].shape),
                );
            }
            if fun.is_predicate() && y.dtype != DType::Bool {
                return fail("outputs[0]", format!("dtype {} where bool is produced", y.dtype));
            }
            Ok(())
        }
        Op::Elementwise { .. } | Op::Where => {
            arity(
                if matches!(k.op, Op::Where) { 3 } else { 1 },
                if matches!(k.op, Op::Where) { 3 } else { usize::MAX },
            )?;
            for (j, t) in ins.iter().enumerate() {
                if broadcast(&t.shape, &y.shape).as_deref() != Some(&y.shape[..]) {
                    return fail(
                        format!("inputs[{j}]"),
                        format!("shape {:?} does not broadcast to {:?}", t.shape, y.shape),
                    );
                }
            }
            Ok(())
        }
        Op::Cast => {
            arity(1, 1)?;
            same_shape(ins[0])
        }
        Op::Conv { group, strides, dilations, pads, channels_last, .. }
        | Op::ConvTranspose { group, strides, dilations, pads, channels_last, .. } => {
            arity(2, usize::MAX)?;
            if *group == 0 || strides.contains(&0) || dilations.contains(&0) {
                return fail("op", "group, strides and dilations must be positive");
            }
            spatial_attrs(
                &[("strides", strides.len(), 1), ("dilations", dilations.len(), 1), ("pads", pads.len(), 2)],
                *channels_last,
            )?;
            // Packed weights (SPEC §6.2) are one array; their shape before packing is in the payload.
            let (field, weight_shape) = match &k.payload {
                Some(KernelPayload::Packed { shape, .. }) => ("payload.shape", &shape[..]),
                _ => ("inputs[1]", &ins[1].shape[..]),
            };
            if weight_shape.len() != rank {
                return fail(field, format!("weight rank {} differs from the input rank {rank}", weight_shape.len()));
            }
            Ok(())
        }
        Op::MatMul { .. } => {
            arity(2, usize::MAX)?;
            if ins[0].shape.is_empty() || ins[1].shape.is_empty() {
                return fail("inputs", "MatMul of a scalar");
            }
            Ok(())
        }
        Op::MaxPool { kernel_shape, strides, dilations, pads, channels_last }
        | Op::AveragePool { kernel_shape, strides, dilations, pads, channels_last, .. } => {
            arity(1, 1)?;
            if kernel_shape.contains(&0) || strides.contains(&0) || dilations.contains(&0) {
                return fail("op", "kernel_shape, strides and dilations must be positive");
            }
            if kernel_shape.is_empty() {
                return fail("op.kernel_shape", "empty");
            }
            spatial_attrs(
                &[
                    ("kernel_shape", kernel_shape.len(), 1),
                    ("strides", strides.len(), 1),
                    ("dilations", dilations.len(), 1),
                    ("pads", pads.len(), 2),
                ],
                *channels_last,
            )
        }
        Op::Lrn { size, .. } => {
            arity(1, 1)?;
            if *size == 0 || rank < 2 {
                return fail("op.size", "LRN needs a positive size and a channel axis");
            }
            same_shape(ins[0])
        }
        Op::Softmax { axis } | Op::LogSoftmax { axis } => {
            arity(1, 1)?;
            axis_in("axis", *axis, rank)?;
            same_shape(ins[0])
        }
        Op::CumSum { axis, .. } | Op::CumProd { axis, .. } => {
            arity(1, 2)?;
            axis_in("axis", *axis, rank)?;
            same_shape(ins[0])
        }
        Op::Reduce { axes, .. } => {
            arity(1, usize::MAX)?;
            for (j, a) in axes.iter().enumerate() {
                axis_in(&format!("axes[{j}]"), *a, rank)?;
                if j > 0 && axes[j - 1] >= *a {
                    return fail("op.axes", "axes are not strictly ascending");
                }
            }
            Ok(())
        }
        Op::ArgMax { axis, .. } | Op::ArgMin { axis, .. } => {
            arity(1, 1)?;
            axis_in("axis", *axis, rank)?;
            if y.dtype != DType::I64 {
                return fail("outputs[0]", format!("dtype {} where i64 is produced", y.dtype));
            }
            Ok(())
        }
        Op::TopK { axis, .. } => {
            arity(1, usize::MAX)?;
            axis_in("axis", *axis, rank)?;
            if outs[1].dtype != DType::I64 || outs[0].shape != outs[1].shape {
                return fail("outputs[1]", "indices must be i64 of the values' shape");
            }
            Ok(())
        }
        Op::LayerNorm { axis, .. } => {
            arity(2, 3)?;
            axis_in("axis", *axis, rank)?;
            same_shape(ins[0])
        }
        Op::Reshape | Op::BitCast => {
            arity(1, usize::MAX)?;
            if ins[0].byte_size() != y.byte_size() {
                return fail(
                    "outputs[0]",
                    format!("{} bytes from an input of {} bytes", y.byte_size(), ins[0].byte_size()),
                );
            }
            Ok(())
        }
        Op::Transpose { perm } => {
            arity(1, 1)?;
            let mut seen = vec![false; rank];
            if perm.len() != rank
                || perm.iter().any(|&p| (p as usize) >= rank || std::mem::replace(&mut seen[p as usize], true))
            {
                return fail("op.perm", format!("{perm:?} is not a permutation of {rank} axes"));
            }
            let permuted: Vec<u64> = perm.iter().map(|&p| ins[0].shape[p as usize]).collect();
            if permuted != y.shape {
                return fail("outputs[0]", format!("shape {:?}, the permuted input is {permuted:?}", y.shape));
            }
            Ok(())
        }
        Op::Concat { axis } => {
            arity(1, usize::MAX)?;
            axis_in("axis", *axis, rank)?;
            let a = *axis as usize;
            let mut extent = 0u64;
            for (j, t) in ins.iter().enumerate() {
                let same = t.shape.len() == rank
                    && t.shape.iter().zip(&y.shape).enumerate().all(|(d, (p, q))| d == a || p == q);
                if !same || y.shape.len() != rank {
                    return fail(
                        format!("inputs[{j}]"),
                        format!("shape {:?} does not concatenate into {:?}", t.shape, y.shape),
                    );
                }
                extent = extent.saturating_add(t.shape[a]);
            }
            if extent != y.shape[a] {
                return fail("outputs[0]", format!("extent {} along axis {a}, the inputs give {extent}", y.shape[a]));
            }
            Ok(())
        }
        Op::Slice { axes, starts, steps } => {
            arity(1, usize::MAX)?;
            if axes.len() != starts.len() || axes.len() != steps.len() {
                return fail("op", "axes, starts and steps differ in length");
            }
            if y.shape.len() != rank {
                return fail("outputs[0]", "rank differs from the input's");
            }
            for (j, ((&a, &s), &st)) in axes.iter().zip(starts).zip(steps).enumerate() {
                axis_in(&format!("axes[{j}]"), a, rank)?;
                let (dim, n) = (ins[0].shape[a as usize] as i128, y.shape[a as usize] as i128);
                if st == 0 {
                    return fail(format!("op.steps[{j}]"), "zero step");
                }
                let last = s as i128 + (n - 1) * st as i128;
                if n > 0 && (!(0..dim).contains(&(s as i128)) || !(0..dim).contains(&last)) {
                    return fail(format!("op.starts[{j}]"), format!("reads indices {s}..={last} of an axis of {dim}"));
                }
            }
            Ok(())
        }
        Op::Gather { axis } | Op::GatherElements { axis } => {
            arity(2, 2)?;
            axis_in("axis", *axis, rank)?;
            if !matches!(ins[1].dtype, DType::I32 | DType::I64) {
                return fail("inputs[1]", format!("indices of dtype {}", ins[1].dtype));
            }
            Ok(())
        }
        Op::ScatterElements { axis, .. } => {
            arity(3, 3)?;
            axis_in("axis", *axis, rank)?;
            same_shape(ins[0])
        }
        Op::GatherNd { .. } => arity(2, 2),
        Op::ScatterNd { .. } => {
            arity(3, 3)?;
            same_shape(ins[0])
        }
        Op::Pad { pads, .. } => {
            arity(1, usize::MAX)?;
            if pads.len() != 2 * rank || y.shape.len() != rank {
                return fail("op.pads", format!("{} values for rank {rank}", pads.len()));
            }
            Ok(())
        }
        Op::Expand | Op::Tile => {
            arity(1, usize::MAX)?;
            if y.shape.len() < rank {
                return fail("outputs[0]", "rank below the input's");
            }
            Ok(())
        }
        Op::Resize { scales, .. } => {
            arity(1, usize::MAX)?;
            if scales.len() != rank || y.shape.len() != rank {
                return fail("op.scales", format!("{} scales for rank {rank}", scales.len()));
            }
            Ok(())
        }
        Op::GridSample { .. } => {
            arity(2, 2)?;
            if rank < 3 {
                return fail("inputs[0]", "GridSample needs N, C and spatial axes");
            }
            Ok(())
        }
    }
}
