//! Attention: tract's `Sdpa` (ONNX `Attention`) as MatMul, Softmax and masks.

use tract_onnx::prelude::*;
use tract_transformers::ops::sdpa::Sdpa;
use wdnn_descriptor_spec::{BinaryFn, DType, Op, ReduceFn, UnaryFn};

use super::super::{Lowered, Lowering, NotSupported, unsupported};
use crate::ir::ValueId;

pub(super) fn lower<'m>(l: &mut Lowering<'m>, node: &'m TypedNode) -> Option<Lowered> {
    node.op_as::<Sdpa>().map(|sdpa| l.lower_sdpa(node, sdpa))
}

impl Lowering<'_> {
    /// Scaled dot-product attention (ONNX `Attention`, which tract turns into `Sdpa` on `[B, H, S, D]` tensors):
    /// `softmax(Q·Kᵀ·scale + mask)·V`, K and V heads repeated for grouped-query attention, a bool mask meaning
    /// "attend" where true.
    fn lower_sdpa(&mut self, node: &TypedNode, sdpa: &Sdpa) -> Lowered {
        if sdpa.is_causal {
            return unsupported("SDPA (causal with symbolic sequence lengths)");
        }
        let (q, k, v) = (self.input(node, 0)?, self.input(node, 1)?, self.input(node, 2)?);
        let (qv, kv, vv) = (self.graph.value(q).clone(), self.graph.value(k).clone(), self.graph.value(v).clone());
        let [b, hq, sq, d] = qv.shape[..] else { return unsupported("SDPA (rank)") };
        let ([_, hk, skv, _], [_, _, _, dv]) = (&kv.shape[..], &vv.shape[..]) else {
            return unsupported("SDPA (rank)");
        };
        let (hk, skv, dv) = (*hk, *skv, *dv);
        if hk == 0 || hq % hk != 0 {
            return unsupported("SDPA (head counts)");
        }
        let dtype = qv.dtype;
        let name = node.name.clone();
        let repeat = |this: &mut Self, x: ValueId, which: &str, last: u64| {
            let g = hq / hk;
            if g == 1 {
                return x;
            }
            let dt = this.graph.value(x).dtype;
            let r = this.emit_temp(&format!("{name}.{which}.unsqueeze"), Op::Reshape, &[x], dt, &[b, hk, 1, skv, last]);
            let e = this.emit_temp(&format!("{name}.{which}.expand"), Op::Expand, &[r], dt, &[b, hk, g, skv, last]);
            this.emit_temp(&format!("{name}.{which}.heads"), Op::Reshape, &[e], dt, &[b, hq, skv, last])
        };
        let k = repeat(self, k, "k", d);
        let v = repeat(self, v, "v", dv);
        let scores_shape = [b, hq, sq, skv];
        let mm = Op::MatMul { transpose_a: false, transpose_b: true, epilogue: vec![] };
        let scores = self.emit_temp(&format!("{name}.scores"), mm, &[q, k], dtype, &scores_shape);
        let scale = match &sdpa.scale {
            Some(t) => t.cast_to_scalar::<f32>().map_err(|e| NotSupported(format!("SDPA scale ({e})")))?,
            None => 1.0 / (d as f32).sqrt(),
        };
        let scale = self.float_scalar(&format!("{name}.scale"), scale, dtype)?;
        let mut logits = self.emit_temp(
            &format!("{name}.scaled"),
            Op::Binary { fun: BinaryFn::Mul },
            &[scores, scale],
            dtype,
            &scores_shape,
        );
        if node.inputs.len() > 3 {
            let mut mask = self.input(node, 3)?;
            let m = self.graph.value(mask).clone();
            if m.dtype == DType::Bool {
                let zero = self.float_scalar(&format!("{name}.mask.zero"), 0.0, dtype)?;
                let ninf = self.float_scalar(&format!("{name}.mask.ninf"), f32::NEG_INFINITY, dtype)?;
                mask = self.emit_temp(&format!("{name}.mask.bias"), Op::Where, &[mask, zero, ninf], dtype, &m.shape);
            } else if m.dtype != dtype {
                mask = self.emit_temp(&format!("{name}.mask.cast"), Op::Cast, &[mask], dtype, &m.shape);
            }
            logits = self.emit_temp(
                &format!("{name}.masked"),
                Op::Binary { fun: BinaryFn::Add },
                &[logits, mask],
                dtype,
                &scores_shape,
            );
            let mut probs =
                self.emit_temp(&format!("{name}.softmax"), Op::Softmax { axis: 3 }, &[logits], dtype, &scores_shape);
            // ONNX: a row whose keys are all masked out attends to nothing (zeros, not the NaN of exp(−∞ + ∞)).
            let ms = self.graph.value(mask).shape.clone();
            let mut row_shape = ms.clone();
            if let Some(last) = row_shape.last_mut() {
                *last = 1;
            }
            let axes = vec![ms.len().saturating_sub(1) as u32];
            let row_max = self.emit_temp(
                &format!("{name}.mask.row_max"),
                Op::Reduce { fun: ReduceFn::Max, axes },
                &[mask],
                dtype,
                &row_shape,
            );
            let isinf = Op::Unary { fun: UnaryFn::IsInf { detect_positive: false, detect_negative: true } };
            let dead = self.emit_temp(&format!("{name}.mask.dead_rows"), isinf, &[row_max], DType::Bool, &row_shape);
            let zero = self.float_scalar(&format!("{name}.zero"), 0.0, dtype)?;
            probs = self.emit_temp(&format!("{name}.probs"), Op::Where, &[dead, zero, probs], dtype, &scores_shape);
            let mm = Op::MatMul { transpose_a: false, transpose_b: false, epilogue: vec![] };
            return self.emit(node, mm, &[probs, v]);
        }
        let probs =
            self.emit_temp(&format!("{name}.softmax"), Op::Softmax { axis: 3 }, &[logits], dtype, &scores_shape);
        let mm = Op::MatMul { transpose_a: false, transpose_b: false, epilogue: vec![] };
        self.emit(node, mm, &[probs, v])
    }
}
