//! Reshapes without copies: a `Reshape` keeps its input's bytes, and values are never written again once
//! defined, so its output can always be a view of its input at offset 0 and no kernel needs to run.
//!
//! It fires only when the reshape is its input's sole reader (and the input is not a model output), so that no
//! kernel ever reads two overlapping ranges: WebGPU forbids binding aliased ranges of one buffer when either is
//! writable. It does not fire for constant inputs (folded instead), or when either value already takes part in a
//! view (a concat slice or an in-place result must keep its own placement rules), or when the two are stored with
//! different element types (the `webgpu-f16` descriptor keeps a model output f32 whose producer's input is f16).

use wdnn_descriptor_spec::Op;

use crate::ir::{Graph, View};

use super::PassStats;

/// Turns every eligible `Reshape` output into a view of its input.
pub fn run(graph: &mut Graph) -> PassStats {
    let mut count = 0;
    for i in 0..graph.nodes.len() {
        let node = &graph.nodes[i];
        let (x, y) = (node.inputs[0], node.outputs[0]);
        let sole_reader = graph.use_count(x) == 1;
        if !matches!(node.op, Op::Reshape)
            || !sole_reader
            || graph.constant(x).is_some()
            || graph.in_view(x)
            || graph.in_view(y)
            || graph.value(x).dtype != graph.value(y).dtype
        {
            continue;
        }
        graph.views.push(View { value: y, base: x, offset: 0 });
        count += 1;
    }
    PassStats::one("reshapes done as views", count)
}

/// True when node `i` is a `Reshape` whose output is a view of its input: nothing to execute.
pub fn is_elided(graph: &Graph, i: usize) -> bool {
    let node = &graph.nodes[i];
    matches!(node.op, Op::Reshape)
        && graph.views.iter().any(|v| v.value == node.outputs[0] && v.base == node.inputs[0] && v.offset == 0)
}

#[cfg(test)]
mod tests {
    use expect_test::{Expect, expect};

    use super::*;
    use crate::passes::testing;

    fn check(before: &str, after: Expect) -> Graph {
        testing::check(run, before, after)
    }

    #[test]
    fn reshape_of_a_value_read_elsewhere_keeps_its_copy() {
        let g = check(
            r#"
            graph "t"
            input %x: f32[1,2,2]
            %a: f32[1,2,2] = Unary{fun: Exp}(%x)
            %b: f32[4] = Reshape(%a) @flat
            %c: f32[1,2,2] = Unary{fun: Neg}(%a)
            output "b" = %b
            output "c" = %c
            "#,
            expect![[r#"
                // reshapes done as views: 0
                graph "t"
                input %x: f32[1,2,2]
                %a: f32[1,2,2] = Unary{fun: Exp}(%x)
                %b: f32[4] = Reshape(%a) @flat
                %c: f32[1,2,2] = Unary{fun: Neg}(%a)
                output "b" = %b
                output "c" = %c
            "#]],
        );
        assert!(!is_elided(&g, 1));
    }

    #[test]
    fn flatten_shares_its_input_and_is_elided() {
        let g = check(
            r#"
            graph "t"
            input %x: f32[1,2,2]
            %a: f32[1,2,2] = Unary{fun: Exp}(%x)
            %b: f32[4] = Reshape(%a) @flat
            %c: f32[1,2,2] = Unary{fun: Neg}(%b)
            output "c" = %c
            "#,
            expect![[r#"
                // reshapes done as views: 1
                graph "t"
                input %x: f32[1,2,2]
                %a: f32[1,2,2] = Unary{fun: Exp}(%x)
                %b: f32[4] = Reshape(%a) @flat
                %c: f32[1,2,2] = Unary{fun: Neg}(%b)
                output "c" = %c
                view %b in %a at 0
            "#]],
        );
        assert!(is_elided(&g, 1));
        let [a, b, c] = ["a", "b", "c"].map(|name| testing::value(&g, name).0 as usize);
        let plan = crate::plan::plan(&g, 16);
        assert_eq!(plan.offsets[a], plan.offsets[b]);
        let (ob, oc) = (plan.offsets[b].unwrap(), plan.offsets[c].unwrap());
        assert!(ob + 16 <= oc || oc + 16 <= ob, "`b` is read by `c`: they must not overlap");
    }
}
