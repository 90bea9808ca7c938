//! `EinSum` as transposes, reshapes, slices (diagonals), reductions and one batched `MatMul`.

use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::einsum::EinSum;
use wdnn_descriptor_spec::{Op, ReduceFn};

use super::super::{Lowered, Lowering, NotSupported, unsupported};
use crate::ir::ValueId;

pub(super) fn lower<'m>(l: &mut Lowering<'m>, node: &'m TypedNode) -> Option<Lowered> {
    node.op_as::<EinSum>().map(|einsum| l.lower_einsum(node, einsum))
}

impl Lowering<'_> {
    /// Lowers an einsum of one or two inputs. A letter repeated within an input (a diagonal) is taken with a
    /// transpose, a reshape and a strided slice; letters of one input that neither the other input nor the output
    /// has are summed away first; two inputs then become one batched `MatMul` (batch axes broadcast as numpy does),
    /// with transposes and reshapes around it; a last transpose puts the axes in the output's order.
    fn lower_einsum(&mut self, node: &TypedNode, einsum: &EinSum) -> Lowered {
        if einsum.q_params.is_some() {
            return unsupported("EinSum (quantized)");
        }
        let expr = einsum.axes.to_string();
        let bad = || NotSupported(format!("EinSum ({expr})"));
        let (ins, out) = expr.split_once("->").ok_or_else(bad)?;
        let specs: Vec<Vec<char>> = ins.split(',').map(|s| s.chars().collect()).collect();
        let out: Vec<char> = out.chars().collect();
        let repeated = |s: &[char]| s.iter().enumerate().any(|(i, c)| s[..i].contains(c));
        if specs.len() != node.inputs.len() || specs.len() > 2 || repeated(&out) {
            return Err(bad());
        }
        let mut operands = Vec::with_capacity(specs.len());
        for (slot, spec) in specs.iter().enumerate() {
            let x = self.input(node, slot)?;
            let other: Vec<char> =
                specs.iter().enumerate().filter(|(i, _)| *i != slot).flat_map(|(_, s)| s.clone()).collect();
            let keep = |c: &char| out.contains(c) || other.contains(c);
            operands.push(self.einsum_operand(&node.name, slot, x, spec, &keep).ok_or_else(bad)?);
        }
        let (value, chars) = match operands.as_slice() {
            [one] => one.clone(),
            [a, b] => self.einsum_matmul(&node.name, a, b, &out).ok_or_else(bad)?,
            _ => return Err(bad()),
        };
        if chars.len() != out.len() || out.iter().any(|c| !chars.contains(c)) {
            return Err(bad());
        }
        let perm: Vec<u32> = out.iter().map(|c| chars.iter().position(|x| x == c).unwrap_or(0) as u32).collect();
        if perm.iter().enumerate().all(|(i, &p)| i as u32 == p) {
            return self.emit(node, Op::Reshape, &[value]);
        }
        self.emit(node, Op::Transpose { perm }, &[value])
    }

    /// One einsum input with its diagonals taken and the letters `keep` rejects summed away: the value and the
    /// letters of its axes, or None when extents disagree.
    fn einsum_operand(
        &mut self,
        base: &str,
        slot: usize,
        x: ValueId,
        spec: &[char],
        keep: &dyn Fn(&char) -> bool,
    ) -> Option<(ValueId, Vec<char>)> {
        let mut value = x;
        let mut chars = spec.to_vec();
        let v = self.graph.value(x).clone();
        if v.shape.len() != chars.len() {
            return None;
        }
        let mut shape = v.shape.clone();
        let mut step = 0;
        // Diagonals: bring the two axes of a repeated letter last, flatten them, and keep every (n + 1)-th value.
        while let Some(q) = (0..chars.len()).find(|&q| chars[..q].contains(&chars[q])) {
            let p = chars.iter().position(|c| *c == chars[q])?;
            let n = shape[p];
            if shape[q] != n {
                return None;
            }
            let mut order: Vec<usize> = (0..chars.len()).filter(|&i| i != p && i != q).collect();
            order.extend([p, q]);
            let perm: Vec<u32> = order.iter().map(|&i| i as u32).collect();
            let moved: Vec<u64> = order.iter().map(|&i| shape[i]).collect();
            let name = format!("{base}.in{slot}.diag{step}");
            step += 1;
            value = self.emit_temp(&format!("{name}.transpose"), Op::Transpose { perm }, &[value], v.dtype, &moved);
            let mut flat = moved[..moved.len() - 2].to_vec();
            flat.push(n * n);
            value = self.emit_temp(&format!("{name}.flatten"), Op::Reshape, &[value], v.dtype, &flat);
            let axis = (flat.len() - 1) as u32;
            let mut diag = flat.clone();
            *diag.last_mut()? = n;
            let op = Op::Slice { axes: vec![axis], starts: vec![0], steps: vec![n as i64 + 1] };
            value = self.emit_temp(&format!("{name}.slice"), op, &[value], v.dtype, &diag);
            let c = chars[p];
            chars = order[..order.len() - 2].iter().map(|&i| chars[i]).chain([c]).collect();
            shape = diag;
        }
        let summed: Vec<usize> = (0..chars.len()).filter(|&i| !keep(&chars[i])).collect();
        if !summed.is_empty() {
            let axes: Vec<u32> = summed.iter().map(|&i| i as u32).collect();
            let kept: Vec<usize> = (0..chars.len()).filter(|i| !summed.contains(i)).collect();
            let out_shape: Vec<u64> = kept.iter().map(|&i| shape[i]).collect();
            let name = format!("{base}.in{slot}.sum");
            value = self.emit_temp(&name, Op::Reduce { fun: ReduceFn::Sum, axes }, &[value], v.dtype, &out_shape);
            chars = kept.iter().map(|&i| chars[i]).collect();
        }
        Some((value, chars))
    }

    /// Two einsum operands (every letter of each in the other or in the output) as one batched `MatMul`: the result
    /// and its letters, batch letters first, then A's, then B's. None when a summed extent differs or batch
    /// extents do not broadcast.
    fn einsum_matmul(
        &mut self,
        base: &str,
        (a, sa): &(ValueId, Vec<char>),
        (b, sb): &(ValueId, Vec<char>),
        out: &[char],
    ) -> Option<(ValueId, Vec<char>)> {
        let (av, bv) = (self.graph.value(*a).clone(), self.graph.value(*b).clone());
        let ea = |c: char| sa.iter().position(|&x| x == c).map(|i| av.shape[i]);
        let eb = |c: char| sb.iter().position(|&x| x == c).map(|i| bv.shape[i]);
        let batch: Vec<char> = out.iter().copied().filter(|c| sa.contains(c) && sb.contains(c)).collect();
        let m: Vec<char> = sa.iter().copied().filter(|c| out.contains(c) && !sb.contains(c)).collect();
        let n: Vec<char> = sb.iter().copied().filter(|c| out.contains(c) && !sa.contains(c)).collect();
        let k: Vec<char> = sa.iter().copied().filter(|c| sb.contains(c) && !out.contains(c)).collect();
        if k.iter().any(|&c| ea(c) != eb(c)) {
            return None;
        }
        let mut out_batch = Vec::with_capacity(batch.len());
        for &c in &batch {
            let (x, y) = (ea(c)?, eb(c)?);
            out_batch.push(match (x, y) {
                _ if x == y => x,
                (1, y) => y,
                (x, 1) => x,
                _ => return None,
            });
        }
        let product = |e: &dyn Fn(char) -> Option<u64>, cs: &[char]| cs.iter().map(|&c| e(c)).product::<Option<u64>>();
        let (mm, kk, nn) = (product(&ea, &m)?, product(&ea, &k)?, product(&eb, &n)?);
        let concat = |parts: &[&[char]]| parts.concat();
        // A as [batch…, M, K], or as [batch…, K, M] with transpose_a when that spares a transpose; B likewise.
        let (a_mk, a_km) = (concat(&[&batch, &m, &k]), concat(&[&batch, &k, &m]));
        let (transpose_a, a_order) = if *sa == a_km && *sa != a_mk { (true, a_km) } else { (false, a_mk) };
        let (b_kn, b_nk) = (concat(&[&batch, &k, &n]), concat(&[&batch, &n, &k]));
        let (transpose_b, b_order) = if *sb == b_nk && *sb != b_kn { (true, b_nk) } else { (false, b_kn) };
        let batch_a: Vec<u64> = batch.iter().map(|&c| ea(c)).collect::<Option<_>>()?;
        let batch_b: Vec<u64> = batch.iter().map(|&c| eb(c)).collect::<Option<_>>()?;
        let a_dims: Vec<u64> = batch_a.iter().copied().chain(if transpose_a { [kk, mm] } else { [mm, kk] }).collect();
        let b_dims: Vec<u64> = batch_b.iter().copied().chain(if transpose_b { [nn, kk] } else { [kk, nn] }).collect();
        let a3 = self.arrange(base, "a", *a, sa, &a_order, &a_dims);
        let b3 = self.arrange(base, "b", *b, sb, &b_order, &b_dims);
        let mut mm_dims = out_batch.clone();
        mm_dims.extend([mm, nn]);
        let op = Op::MatMul { transpose_a, transpose_b, epilogue: vec![] };
        let product = self.emit_temp(&format!("{base}.matmul"), op, &[a3, b3], av.dtype, &mm_dims);
        let chars = concat(&[&batch, &m, &n]);
        let mut natural = out_batch;
        natural.extend(m.iter().map(|&c| ea(c).unwrap_or(1)));
        natural.extend(n.iter().map(|&c| eb(c).unwrap_or(1)));
        let value = if natural == mm_dims {
            product
        } else {
            self.emit_temp(&format!("{base}.unflatten"), Op::Reshape, &[product], av.dtype, &natural)
        };
        Some((value, chars))
    }

    /// Brings `value` (axes `from`) into axis order `to`, then reshapes it to `dims`; returns the new value.
    fn arrange(
        &mut self,
        base: &str,
        which: &str,
        value: ValueId,
        from: &[char],
        to: &[char],
        dims: &[u64],
    ) -> ValueId {
        let v = self.graph.value(value).clone();
        let mut current = value;
        if from != to {
            let perm: Vec<u32> = to.iter().map(|c| from.iter().position(|x| x == c).unwrap_or(0) as u32).collect();
            let shape: Vec<u64> = perm.iter().map(|&p| v.shape[p as usize]).collect();
            // A constant operand's transpose is folded away by `passes::fold_constants`.
            let name = format!("{base}.{which}.transpose");
            current = self.emit_temp(&name, Op::Transpose { perm }, &[current], v.dtype, &shape);
        }
        if self.graph.value(current).shape != dims {
            let name = format!("{base}.{which}.reshape");
            current = self.emit_temp(&name, Op::Reshape, &[current], v.dtype, dims);
        }
        current
    }
}
