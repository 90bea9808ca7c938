//! Reductions and scans along an axis: `Reduce` (ArgMax/ArgMin, mean of squares), `Softmax`, `CumSum` and `TopK`.

use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::array::{CumSum, Topk};
use tract_onnx::tract_core::ops::nn::{Reduce, Reducer, Softmax, SoftmaxKind};
use wdnn_descriptor_spec::{Op, ReduceFn, UnaryFn};

use super::super::{Lowered, Lowering, NotSupported, unsupported};

pub(super) fn lower<'m>(l: &mut Lowering<'m>, node: &'m TypedNode) -> Option<Lowered> {
    Some(if let Some(reduce) = node.op_as::<Reduce>() {
        l.lower_reduce(node, reduce)
    } else if let Some(softmax) = node.op_as::<Softmax>() {
        l.lower_softmax(node, softmax)
    } else if let Some(cs) = node.op_as::<CumSum>() {
        l.lower_cum_sum(node, cs)
    } else if let Some(topk) = node.op_as::<Topk>() {
        l.lower_top_k(node, topk)
    } else {
        return None;
    })
}

impl Lowering<'_> {
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

    fn lower_cum_sum(&mut self, node: &TypedNode, cs: &CumSum) -> Lowered {
        let x = self.input(node, 0)?;
        let op = Op::CumSum { axis: cs.axis as u32, exclusive: cs.exclusive, reverse: cs.reverse };
        self.emit(node, op, &[x])
    }

    fn lower_top_k(&mut self, node: &TypedNode, topk: &Topk) -> Lowered {
        let x = self.input(node, 0)?;
        let (values, indices) = (self.output(node, 0)?, self.output(node, 1)?);
        let op = Op::TopK { axis: topk.axis as u32, largest: topk.largest };
        self.graph.add_node(&node.name, op, &[x], &[values, indices]);
        Ok(())
    }
}
