//! The IR verifier: the invariants every pass must keep. Run after import and after each pass in tests.

use super::{Graph, ValueId};

/// A broken invariant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("IR invariant broken: {0}")]
pub struct VerifyError(pub String);

/// Checks: ids in range; every value defined once (input, constant or one node output); nodes topologically
/// ordered; constants hold data of their declared dtype and shape; outputs are defined.
pub fn verify(graph: &Graph) -> Result<(), Vec<VerifyError>> {
    let mut errors = Vec::new();
    let n = graph.values.len();
    let in_range = |v: &ValueId| (v.0 as usize) < n;
    let mut defined = vec![false; n];
    for (i, v) in graph.values.iter().enumerate() {
        if let Some(c) = &v.constant {
            defined[i] = true;
            if c.dtype() != v.dtype || c.shape() != v.shape.as_slice() {
                errors.push(VerifyError(format!("constant `{}` data does not match its type", v.name)));
            }
        }
    }
    for input in &graph.inputs {
        if !in_range(input) {
            errors.push(VerifyError(format!("input id {} out of range", input.0)));
            continue;
        }
        defined[input.0 as usize] = true;
    }
    for node in &graph.nodes {
        for i in &node.inputs {
            if !in_range(i) {
                errors.push(VerifyError(format!("node `{}` reads value {} out of range", node.name, i.0)));
            } else if !defined[i.0 as usize] {
                errors.push(VerifyError(format!(
                    "node `{}` reads `{}` before it is defined",
                    node.name,
                    graph.value(*i).name
                )));
            }
        }
        for o in &node.outputs {
            if !in_range(o) {
                errors.push(VerifyError(format!("node `{}` writes value {} out of range", node.name, o.0)));
            } else if defined[o.0 as usize] {
                errors.push(VerifyError(format!("`{}` is defined twice", graph.value(*o).name)));
            } else {
                defined[o.0 as usize] = true;
            }
        }
    }
    for (name, o) in &graph.outputs {
        if !in_range(o) || !defined[o.0 as usize] {
            errors.push(VerifyError(format!("output `{name}` is never defined")));
        }
    }
    if errors.is_empty() { Ok(()) } else { Err(errors) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wdnn_descriptor_spec::{DType, Op, UnaryFn};

    #[test]
    fn catches_use_before_definition_and_double_definition() {
        let mut g = Graph::new("t");
        let x = g.add_value("x", DType::F32, &[2]);
        let y = g.add_value("y", DType::F32, &[2]);
        g.inputs.push(x);
        g.add_node("late", Op::Unary { fun: UnaryFn::Relu }, &[y], &[x]);
        g.outputs.push(("y".into(), y));
        let errors = verify(&g).unwrap_err();
        assert_eq!(errors.len(), 3, "{errors:?}");
    }

    #[test]
    fn accepts_a_well_formed_graph() {
        let mut g = Graph::new("t");
        let x = g.add_value("x", DType::F32, &[2]);
        let y = g.add_value("y", DType::F32, &[2]);
        g.inputs.push(x);
        g.add_node("relu", Op::Unary { fun: UnaryFn::Relu }, &[x], &[y]);
        g.outputs.push(("y".into(), y));
        assert_eq!(verify(&g), Ok(()));
    }
}
