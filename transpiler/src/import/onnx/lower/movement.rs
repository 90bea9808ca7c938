//! Data movement: axis changes (reshapes and moves), `Concat`, slices (`Slice`, ONNX `Slice` as `StridedSlice`,
//! `Downsample`), `MultiBroadcastTo` (Expand), `Tile` and `Pad`.

use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::array::{
    MultiBroadcastTo, Pad, PadMode as TractPadMode, Slice, StridedSlice, Tile, TypedConcat,
};
use tract_onnx::tract_core::ops::change_axes::AxisOp;
use tract_onnx::tract_core::ops::downsample::Downsample;
use wdnn_descriptor_spec::{Op, PadMode};

use super::super::{Lowered, Lowering, NotSupported, unsupported};

pub(super) fn lower<'m>(l: &mut Lowering<'m>, node: &'m TypedNode) -> Option<Lowered> {
    Some(if let Some(axis_op) = node.op_as::<AxisOp>() {
        l.lower_axis_op(node, axis_op)
    } else if let Some(concat) = node.op_as::<TypedConcat>() {
        l.lower_concat(node, concat)
    } else if let Some(slice) = node.op_as::<Slice>() {
        l.lower_slice(node, slice)
    } else if let Some(ss) = node.op_as::<StridedSlice>() {
        l.lower_strided_slice(node, ss)
    } else if let Some(ds) = node.op_as::<Downsample>() {
        l.lower_downsample(node, ds)
    } else if node.op_as::<MultiBroadcastTo>().is_some() {
        l.lower_expand(node)
    } else if node.op_as::<Tile>().is_some() {
        l.lower_tile(node)
    } else if let Some(pad) = node.op_as::<Pad>() {
        l.lower_pad(node, pad)
    } else {
        return None;
    })
}

impl Lowering<'_> {
    fn lower_axis_op(&mut self, node: &TypedNode, axis_op: &AxisOp) -> Lowered {
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
        self.emit(node, op, &[x])
    }

    fn lower_concat(&mut self, node: &TypedNode, concat: &TypedConcat) -> Lowered {
        let inputs = self.inputs(node)?;
        self.emit(node, Op::Concat { axis: concat.axis as u32 }, &inputs)
    }

    fn lower_slice(&mut self, node: &TypedNode, slice: &Slice) -> Lowered {
        let start = slice.start.to_i64().map_err(|_| NotSupported("Slice (symbolic start)".into()))?;
        let x = self.input(node, 0)?;
        let op = Op::Slice { axes: vec![slice.axis as u32], starts: vec![start], steps: vec![1] };
        self.emit(node, op, &[x])
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
                .map_err(|e| NotSupported(format!("{e:#}")))
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

    fn lower_downsample(&mut self, node: &TypedNode, ds: &Downsample) -> Lowered {
        let x = self.input(node, 0)?;
        let len = self.graph.value(x).shape.get(ds.axis).copied().unwrap_or(0) as i64;
        let start = if ds.stride > 0 { ds.modulo as i64 } else { len - 1 };
        let op = Op::Slice { axes: vec![ds.axis as u32], starts: vec![start], steps: vec![ds.stride as i64] };
        self.emit(node, op, &[x])
    }

    fn lower_expand(&mut self, node: &TypedNode) -> Lowered {
        let x = self.input(node, 0)?;
        self.emit(node, Op::Expand, &[x])
    }

    fn lower_tile(&mut self, node: &TypedNode) -> Lowered {
        let x = self.input(node, 0)?;
        self.emit(node, Op::Tile, &[x])
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
}
