//! Recurrences: tract's `Scan` (what ONNX `LSTM`, `GRU`, `RNN` and `Scan` become), unrolled, and its fused LSTM
//! cell (`LstmEpilogue`).

use std::collections::HashMap;

use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::konst::Const;
use tract_onnx::tract_core::ops::lstm_cell::LstmEpilogue;
use tract_onnx::tract_core::ops::scan::{InputMapping, Scan};
use tract_onnx::tract_core::ops::source::TypedSource;
use wdnn_descriptor_spec::{BinaryFn, Op, UnaryFn};

use super::super::{Lowered, Lowering, NotSupported, unsupported};
use crate::ir::ValueId;

pub(super) fn lower<'m>(l: &mut Lowering<'m>, node: &'m TypedNode) -> Option<Lowered> {
    Some(if let Some(scan) = node.op_as::<Scan>() {
        l.lower_scan(node, scan)
    } else if let Some(lstm) = node.op_as::<LstmEpilogue>() {
        l.lower_lstm_epilogue(node, lstm.hidden as u64)
    } else {
        return None;
    })
}

impl<'m> Lowering<'m> {
    /// A tract `Scan` (what ONNX `LSTM`, `GRU`, `RNN` and `Scan` become), unrolled: shapes are static, so the
    /// iteration count is known, and the body is lowered once per iteration, its scanned inputs sliced out of the
    /// outer ones, its states carried from one iteration to the next, its scanned outputs concatenated. The body's
    /// constants are lowered once for all iterations.
    fn lower_scan(&mut self, node: &'m TypedNode, scan: &'m Scan) -> Lowered {
        if scan.skip != 0 || scan.external_state {
            return unsupported("Scan (skip or external state)");
        }
        let body: &'m TypedModel = &scan.body;
        let outer = self.inputs(node)?;
        let mut iters: Option<u64> = None;
        for (slot, m) in scan.input_mapping.iter().enumerate() {
            if let InputMapping::Scan(info) = m {
                let len = *self
                    .graph
                    .value(outer[slot])
                    .shape
                    .get(info.axis)
                    .ok_or_else(|| NotSupported("Scan (axis)".into()))?;
                let chunk = info.chunk.unsigned_abs() as u64;
                if chunk == 0 || len % chunk != 0 || (info.chunk < 0 && chunk != 1) {
                    return unsupported("Scan (chunk)");
                }
                if iters.replace(len / chunk).is_some_and(|n| n != len / chunk) {
                    return unsupported("Scan (iteration counts differ)");
                }
            }
        }
        let iters = iters.ok_or_else(|| NotSupported("Scan (no scanned input)".into()))?;
        let body_inputs = body.input_outlets().map_err(|e| NotSupported(format!("Scan body ({e})")))?.to_vec();
        let body_outputs = body.output_outlets().map_err(|e| NotSupported(format!("Scan body ({e})")))?.to_vec();
        if body_inputs.len() != scan.input_mapping.len() || body_outputs.len() != scan.output_mapping.len() {
            return unsupported("Scan (mappings)");
        }
        let order = body.eval_order().map_err(|e| NotSupported(format!("Scan body ({e})")))?;
        let saved_model = std::mem::replace(&mut self.model, body);
        let saved_values = std::mem::take(&mut self.values);
        let result = self.unroll_scan(node, scan, &outer, iters, (&body_inputs, &body_outputs), &order);
        self.model = saved_model;
        self.values = saved_values;
        let (scanned, last) = result?;
        for (ix, mapping) in scan.output_mapping.iter().enumerate() {
            if let Some((slot, info)) = mapping.scan {
                let parts = &scanned[ix];
                let out = OutletId::new(node.id, slot);
                let (dtype, shape) = self.fact(out)?.ok_or_else(|| NotSupported("Scan (symbolic output)".into()))?;
                let id = self.graph.add_value(&format!("{}.{slot}", node.name), dtype, &shape);
                let mut ordered = parts.clone();
                if info.chunk < 0 {
                    ordered.reverse();
                }
                self.graph.add_node(
                    &format!("{}.concat{slot}", node.name),
                    Op::Concat { axis: info.axis as u32 },
                    &ordered,
                    &[id],
                );
                self.values.insert(out, id);
            }
            if let (Some(slot), Some(v)) = (mapping.last_value_slot, last[ix]) {
                self.alias(node, slot, v);
            }
        }
        Ok(())
    }

    /// The iterations of [`Self::lower_scan`], with `self.model` the body: per body output, its value at every
    /// iteration (scanned outputs) and at the last one.
    #[allow(clippy::type_complexity)]
    fn unroll_scan(
        &mut self,
        node: &TypedNode,
        scan: &Scan,
        outer: &[ValueId],
        iters: u64,
        (body_inputs, body_outputs): (&[OutletId], &[OutletId]),
        order: &[usize],
    ) -> Result<(Vec<Vec<ValueId>>, Vec<Option<ValueId>>), NotSupported> {
        let body = self.model;
        // Constants once.
        let mut consts = HashMap::new();
        for &id in order {
            let n = body.node(id);
            if n.op_as::<Const>().is_some() {
                self.lower_node(n)?;
                consts.insert(OutletId::new(id, 0), self.values[&OutletId::new(id, 0)]);
            }
        }
        let mut states: Vec<ValueId> =
            scan.input_mapping.iter().enumerate().filter(|(_, m)| m.is_state()).map(|(slot, _)| outer[slot]).collect();
        let mut scanned = vec![Vec::new(); body_outputs.len()];
        let mut last = vec![None; body_outputs.len()];
        for i in 0..iters {
            self.values = consts.clone();
            let mut next_state = states.iter();
            for (slot, m) in scan.input_mapping.iter().enumerate() {
                let value = match m {
                    InputMapping::Full => outer[slot],
                    InputMapping::State => *next_state.next().ok_or_else(|| NotSupported("Scan (states)".into()))?,
                    InputMapping::Scan(info) => {
                        let x = self.graph.value(outer[slot]).clone();
                        let chunk = info.chunk.unsigned_abs() as u64;
                        let start = if info.chunk < 0 { x.shape[info.axis] - 1 - i } else { i * chunk };
                        let mut shape = x.shape.clone();
                        shape[info.axis] = chunk;
                        let op = Op::Slice { axes: vec![info.axis as u32], starts: vec![start as i64], steps: vec![1] };
                        let name = format!("{}.iter{i}.in{slot}", node.name);
                        self.emit_temp(&name, op, &[outer[slot]], x.dtype, &shape)
                    }
                };
                self.values.insert(body_inputs[slot], value);
            }
            for &id in order {
                let n = body.node(id);
                if n.op_as::<TypedSource>().is_some() || n.op_as::<Const>().is_some() {
                    continue;
                }
                self.lower_node(n)?;
            }
            let values: Vec<ValueId> = body_outputs
                .iter()
                .map(|o| self.values.get(o).copied().ok_or_else(|| NotSupported("Scan (body output)".into())))
                .collect::<Result<_, _>>()?;
            states.clear();
            for (ix, (mapping, &v)) in scan.output_mapping.iter().zip(&values).enumerate() {
                if mapping.scan.is_some() {
                    scanned[ix].push(v);
                }
                if i + 1 == iters {
                    last[ix] = Some(v);
                }
                if mapping.state {
                    states.push(v);
                }
            }
        }
        Ok((scanned, last))
    }

    /// tract's fused LSTM cell: gate pre-activations `[…, 4h]` (ONNX order i, o, f, c) and the previous cell
    /// `[…, h]` give `Ct = σ(f)·c_prev + σ(i)·tanh(c)` and `Ht = σ(o)·tanh(Ct)`.
    fn lower_lstm_epilogue(&mut self, node: &TypedNode, hidden: u64) -> Lowered {
        let (pre, c_prev) = (self.input(node, 0)?, self.input(node, 1)?);
        let p = self.graph.value(pre).clone();
        let last = p.shape.len().checked_sub(1).ok_or_else(|| NotSupported("LstmEpilogue (rank)".into()))?;
        if p.shape[last] != 4 * hidden {
            return unsupported("LstmEpilogue (shape)");
        }
        let mut gate_shape = p.shape.clone();
        gate_shape[last] = hidden;
        let name = node.name.clone();
        let gate = |this: &mut Self, k: u64, what: &str, fun: UnaryFn| {
            let op = Op::Slice { axes: vec![last as u32], starts: vec![(k * hidden) as i64], steps: vec![1] };
            let raw = this.emit_temp(&format!("{name}.{what}.pre"), op, &[pre], p.dtype, &gate_shape);
            this.emit_temp(&format!("{name}.{what}"), Op::Unary { fun }, &[raw], p.dtype, &gate_shape)
        };
        let i = gate(self, 0, "i", UnaryFn::Sigmoid);
        let o = gate(self, 1, "o", UnaryFn::Sigmoid);
        let f = gate(self, 2, "f", UnaryFn::Sigmoid);
        let c = gate(self, 3, "c", UnaryFn::Tanh);
        let (h_out, c_out) = (self.output(node, 0)?, self.output(node, 1)?);
        let ct_shape = self.graph.value(c_out).shape.clone();
        let kept = self.emit_temp(
            &format!("{name}.kept"),
            Op::Binary { fun: BinaryFn::Mul },
            &[f, c_prev],
            p.dtype,
            &ct_shape,
        );
        let added =
            self.emit_temp(&format!("{name}.added"), Op::Binary { fun: BinaryFn::Mul }, &[i, c], p.dtype, &gate_shape);
        self.graph.add_node(&format!("{name}.cell"), Op::Binary { fun: BinaryFn::Add }, &[kept, added], &[c_out]);
        let squashed = self.emit_temp(
            &format!("{name}.tanh_cell"),
            Op::Unary { fun: UnaryFn::Tanh },
            &[c_out],
            p.dtype,
            &ct_shape,
        );
        self.graph.add_node(&format!("{name}.hidden"), Op::Binary { fun: BinaryFn::Mul }, &[o, squashed], &[h_out]);
        Ok(())
    }
}
