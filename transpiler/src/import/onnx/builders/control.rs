//! ONNX `If` whose condition is known once shapes are bound: only the taken branch is analysed, and it is
//! inlined into the graph.
//!
//! tract 0.23.9 analyses both branches and demands that their output facts agree; exporters' untaken branches are
//! often invalid for the bound shapes (silero's decoder squeezes an axis that is only 1 in the other branch,
//! TorchScript's `if x.size(-1) > 32` returns differently shaped tensors). Conditions computed from shapes and
//! constants have a value during analysis, so this `If` analyses only the branch it takes, and its translation
//! wires that branch's nodes in place of the `If`. A condition that stays unknown (an input's value) keeps
//! tract's `IfThenElse`, which the importer reports as unsupported.

use tract_onnx::model::{ParseResult, ParsingContext};
use tract_onnx::pb::{GraphProto, NodeProto};
use tract_onnx::tract_core::ops::logic::IfThenElse;
use tract_onnx::tract_hir::internal::*;

use super::Built;

/// The builder: both branches parsed (tract's own `If` parsing), the outer values they close over as inputs.
pub(super) fn if_then_else(ctx: &ParsingContext, node: &NodeProto) -> Built {
    let then_graph: &GraphProto = node.get_attr("then_branch")?;
    let else_graph: &GraphProto = node.get_attr("else_branch")?;
    let ParseResult { model: then_body, unresolved_inputs: then_closures, .. } = ctx.parse_graph(then_graph)?;
    let ParseResult { model: else_body, unresolved_inputs: else_closures, .. } = ctx.parse_graph(else_graph)?;
    let mut closures: Vec<String> = then_closures.iter().chain(else_closures.iter()).cloned().collect();
    closures.sort();
    closures.dedup();
    let position = |name: &String| closures.iter().position(|s| s == name).map(|p| p + 1);
    let then_input_mapping = then_closures.iter().map(position).collect::<Option<Vec<_>>>().context("If closure")?;
    let else_input_mapping = else_closures.iter().map(position).collect::<Option<Vec<_>>>().context("If closure")?;
    if then_body.outputs.len() != else_body.outputs.len() {
        bail!(
            "If: the then_branch has {} outputs, the else_branch {}",
            then_body.outputs.len(),
            else_body.outputs.len()
        );
    }
    Ok((Box::new(If { then_body, then_input_mapping, else_body, else_input_mapping }), closures))
}

#[derive(Debug, Clone)]
struct If {
    then_body: InferenceModel,
    then_input_mapping: Vec<usize>,
    else_body: InferenceModel,
    else_input_mapping: Vec<usize>,
}

// Two `If`s are never merged as equal.
impl PartialEq for If {
    fn eq(&self, _: &Self) -> bool {
        false
    }
}

impl Eq for If {}

impl If {
    fn branch(&mut self, cond: bool) -> (&mut InferenceModel, &[usize]) {
        if cond {
            (&mut self.then_body, &self.then_input_mapping)
        } else {
            (&mut self.else_body, &self.else_input_mapping)
        }
    }
}

impl Op for If {
    fn name(&self) -> StaticName {
        "If".into()
    }

    not_a_typed_op!();
}

impl EvalOp for If {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let cond = inputs[0].cast_to_scalar::<bool>()?;
        let (body, mapping) = if cond {
            (&self.then_body, &self.then_input_mapping)
        } else {
            (&self.else_body, &self.else_input_mapping)
        };
        let inputs: TVec<TValue> = mapping.iter().map(|&ix| inputs[ix].clone()).collect();
        body.clone().into_runnable()?.run(inputs)
    }
}

/// The condition's value, when analysis knows it.
fn known_condition(fact: &InferenceFact) -> TractResult<Option<bool>> {
    match fact.value.concretize() {
        Some(v) => Ok(Some(v.cast_to_scalar::<bool>()?)),
        None => Ok(None),
    }
}

impl InferenceOp for If {
    fn infer_facts(
        &mut self,
        inputs: TVec<&InferenceFact>,
        outputs: TVec<&InferenceFact>,
        observed: TVec<&InferenceFact>,
    ) -> TractResult<(TVec<InferenceFact>, TVec<InferenceFact>, TVec<InferenceFact>)> {
        let mut inputs: TVec<InferenceFact> = inputs.into_iter().cloned().collect();
        let mut outputs: TVec<InferenceFact> = outputs.into_iter().cloned().collect();
        loop {
            let mut changed = inputs[0].datum_type.unify_with(&bool::datum_type().into())?;
            match known_condition(&inputs[0])? {
                Some(cond) => {
                    let (body, mapping) = self.branch(cond);
                    for (body_ix, &outer_ix) in mapping.iter().enumerate() {
                        changed |= body.input_fact_mut(body_ix)?.unify_with_mut(&mut inputs[outer_ix])?;
                    }
                    for (ix, output) in outputs.iter_mut().enumerate() {
                        changed |= body.output_fact_mut(ix)?.unify_with_mut(output)?;
                    }
                    changed |= body.analyse(false)?;
                }
                None => {
                    // Until the condition is known, the branches only learn their inputs' facts; neither
                    // constrains the outputs (the untaken one may not even be valid for these shapes).
                    for cond in [true, false] {
                        let (body, mapping) = self.branch(cond);
                        for (body_ix, &outer_ix) in mapping.iter().enumerate() {
                            let mut outer = inputs[outer_ix].clone();
                            if body.input_fact_mut(body_ix)?.unify_with_mut(&mut outer).unwrap_or(false) {
                                changed = true;
                                inputs[outer_ix] = outer;
                            }
                        }
                        changed |= body.analyse(false).unwrap_or(false);
                    }
                }
            }
            if !changed {
                return Ok((inputs, outputs, observed.into_iter().cloned().collect()));
            }
        }
    }

    fn nboutputs(&self) -> TractResult<usize> {
        Ok(self.then_body.outputs.len())
    }

    fn to_typed(
        &self,
        source: &InferenceModel,
        node: &InferenceNode,
        target: &mut TypedModel,
        mapping: &HashMap<OutletId, OutletId>,
    ) -> TractResult<TVec<OutletId>> {
        let inputs: TVec<OutletId> = node.inputs.iter().map(|o| mapping[o]).collect();
        let cond = match known_condition(source.outlet_fact(node.inputs[0])?)? {
            Some(c) => Some(c),
            None => match &target.outlet_fact(inputs[0])?.konst {
                Some(k) => Some(k.cast_to_scalar::<bool>()?),
                None => None,
            },
        };
        let Some(cond) = cond else {
            let op = IfThenElse {
                then_body: self.then_body.clone().into_typed()?,
                else_body: self.else_body.clone().into_typed()?,
                then_input_mapping: self.then_input_mapping.clone(),
                else_input_mapping: self.else_input_mapping.clone(),
            };
            return target.wire_node(&node.name, op, &inputs);
        };
        let (body, body_mapping, branch) = if cond {
            (&self.then_body, &self.then_input_mapping, "then")
        } else {
            (&self.else_body, &self.else_input_mapping, "else")
        };
        let body = body.clone().into_typed()?;
        inline(&body, &format!("{}.{branch}", node.name), body_mapping.iter().map(|&ix| inputs[ix]), target)
    }

    as_op!();
}

/// Wires `body`'s nodes into `target` (names prefixed), its sources fed by `inputs`; returns its outputs.
fn inline(
    body: &TypedModel,
    prefix: &str,
    inputs: impl Iterator<Item = OutletId>,
    target: &mut TypedModel,
) -> TractResult<TVec<OutletId>> {
    let mut map: HashMap<OutletId, OutletId> = HashMap::new();
    for (outlet, outer) in body.input_outlets()?.iter().zip(inputs) {
        map.insert(*outlet, outer);
    }
    for id in body.eval_order()? {
        let node = body.node(id);
        if map.contains_key(&OutletId::new(id, 0)) && node.inputs.is_empty() && node.outputs.len() == 1 {
            continue;
        }
        let wires: TVec<OutletId> = node
            .inputs
            .iter()
            .map(|i| map.get(i).copied().context("If branch: unwired input"))
            .collect::<TractResult<_>>()?;
        let outs = target.wire_node(format!("{prefix}.{}", node.name), node.op.clone(), &wires)?;
        for (slot, out) in outs.into_iter().enumerate() {
            let inner = OutletId::new(id, slot);
            if let Some(label) = body.outlet_label(inner) {
                target.set_outlet_label(out, format!("{prefix}.{label}"))?;
            }
            map.insert(inner, out);
        }
    }
    body.output_outlets()?.iter().map(|o| map.get(o).copied().context("If branch: unwired output")).collect()
}
