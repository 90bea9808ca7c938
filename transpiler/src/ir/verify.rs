//! The IR verifier: the invariants every pass must keep. Run after import and after each pass in tests.

use std::collections::{HashMap, HashSet};

use super::{Graph, ValueId};

/// A broken invariant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("IR invariant broken: {0}")]
pub struct VerifyError(pub String);

/// Checks: ids in range; every value defined once (input, constant or one node output); nodes topologically
/// ordered; no op (or function inside one) is `Unknown`, the decoder's catch-all; constants hold data of their
/// declared dtype and shape; outputs are defined; views fit inside their base and do not overlap.
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
        if node.op.has_unknown() {
            errors.push(VerifyError(format!(
                "node `{}` has an unknown op or function ({})",
                node.name,
                node.op.name()
            )));
        }
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
    verify_views(graph, &mut errors);
    if errors.is_empty() { Ok(()) } else { Err(errors) }
}

/// A view lies inside its base, a value is a view at most once, and views of one base never share a byte: the
/// planner gives each view exactly its slice of the base, so an overlap would let two values clobber each other.
fn verify_views(graph: &Graph, errors: &mut Vec<VerifyError>) {
    let n = graph.values.len() as u32;
    let mut by_base: HashMap<ValueId, Vec<(u64, u64, ValueId)>> = HashMap::new();
    let mut seen = HashSet::new();
    for view in &graph.views {
        if view.value.0 >= n || view.base.0 >= n {
            errors.push(VerifyError(format!("view of value {} in {} out of range", view.value.0, view.base.0)));
            continue;
        }
        let (value, base) = (graph.value(view.value), graph.value(view.base));
        if view.value == view.base {
            errors.push(VerifyError(format!("`{}` is a view of itself", value.name)));
        }
        if !seen.insert(view.value) {
            errors.push(VerifyError(format!("`{}` is a view more than once", value.name)));
        }
        let end = view.offset.checked_add(value.byte_size());
        if end.is_none_or(|end| end > base.byte_size()) {
            errors.push(VerifyError(format!(
                "view `{}` ({} bytes at {}) does not fit in `{}` ({} bytes)",
                value.name,
                value.byte_size(),
                view.offset,
                base.name,
                base.byte_size()
            )));
            continue;
        }
        by_base.entry(view.base).or_default().push((view.offset, value.byte_size(), view.value));
    }
    let mut bases: Vec<_> = by_base.into_iter().collect();
    bases.sort_by_key(|(base, _)| *base);
    for (base, mut slices) in bases {
        slices.sort();
        for pair in slices.windows(2) {
            let ((start, size, a), (next, _, b)) = (pair[0], pair[1]);
            if start + size > next {
                errors.push(VerifyError(format!(
                    "views `{}` and `{}` overlap inside `{}`",
                    graph.value(a).name,
                    graph.value(b).name,
                    graph.value(base).name
                )));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::text::parse;

    #[track_caller]
    fn errors(text: &str) -> Vec<String> {
        let graph = parse(text).unwrap_or_else(|e| panic!("{e}"));
        verify(&graph).err().unwrap_or_default().into_iter().map(|e| e.0).collect()
    }

    #[test]
    fn catches_use_before_definition_and_double_definition() {
        let found = errors(
            r#"
            graph "t"
            input %x: f32[2]
            %x = Unary{fun: Relu}(%y) @late
            value %y: f32[2]
            output "y" = %y
            "#,
        );
        assert_eq!(
            found,
            ["node `late` reads `y` before it is defined", "`x` is defined twice", "output `y` is never defined"]
        );
    }

    #[test]
    fn accepts_a_well_formed_graph() {
        let text = r#"
            graph "t"
            input %x: f32[2]
            %a: f32[2] = Unary{fun: Exp}(%x)
            %b: f32[2] = Unary{fun: Neg}(%x)
            %y: f32[4] = Concat{axis: 0}(%a, %b)
            output "y" = %y
            view %a in %y at 0
            view %b in %y at 8
        "#;
        assert_eq!(errors(text), Vec::<String>::new());
    }

    #[test]
    fn rejects_unknown_ops_and_functions() {
        let found = errors(
            r#"
            graph "t"
            input %x: f32[2]
            %a: f32[2] = Unknown(%x)
            %y: f32[2] = Unary{fun: Frobnicate}(%a)
            output "y" = %y
            "#,
        );
        assert_eq!(
            found,
            ["node `a` has an unknown op or function (Unknown)", "node `y` has an unknown op or function (Unary)"]
        );
    }

    #[test]
    fn rejects_overlapping_and_oversized_views() {
        let found = errors(
            r#"
            graph "t"
            input %x: f32[2]
            %a: f32[2] = Unary{fun: Exp}(%x)
            %b: f32[2] = Unary{fun: Neg}(%x)
            %c: f32[1] = Slice{axes: [0], starts: [0], steps: [1]}(%x)
            %y: f32[4] = Concat{axis: 0}(%a, %b)
            output "y" = %y
            output "c" = %c
            view %a in %y at 0
            view %b in %y at 4
            view %c in %y at 16
            view %a in %x at 0
            "#,
        );
        assert_eq!(
            found,
            [
                "view `c` (4 bytes at 16) does not fit in `y` (16 bytes)",
                "`a` is a view more than once",
                "views `a` and `b` overlap inside `y`",
            ]
        );
    }
}
