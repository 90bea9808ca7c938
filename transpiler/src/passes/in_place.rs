//! In-place kernels: an elementwise kernel (or a `Reshape`) whose input is read for the last time by it writes its
//! output over that input. The output becomes a view of the input at offset 0; the planner then gives both one
//! block of memory.
//!
//! Runners read a kernel's inputs before writing its outputs (SPEC §4.2), so this is safe for every elementwise
//! kernel. It does not fire for constants, model inputs or outputs, inputs read again later, sizes that differ, or
//! values already inside a view (a concat slice must not be overwritten).

use wdnn_descriptor_spec::Op;

use crate::ir::{Graph, View};

use super::PassStats;

/// Makes eligible elementwise outputs views of their dying inputs.
pub fn run(graph: &mut Graph) -> PassStats {
    let mut last_read = vec![usize::MAX; graph.values.len()];
    for (i, node) in graph.nodes.iter().enumerate() {
        for v in &node.inputs {
            last_read[v.0 as usize] = i;
        }
    }
    let mut count = 0;
    for i in 0..graph.nodes.len() {
        let node = &graph.nodes[i];
        if !matches!(node.op, Op::Unary { .. } | Op::Binary { .. } | Op::Elementwise { .. } | Op::Reshape) {
            continue;
        }
        let out = node.outputs[0];
        if graph.in_view(out) {
            continue;
        }
        let out_size = graph.value(out).byte_size();
        let candidate = node.inputs.iter().copied().find(|&v| {
            let value = graph.value(v);
            value.constant.is_none()
                && !graph.inputs.contains(&v)
                && !graph.is_output(v)
                && last_read[v.0 as usize] == i
                && value.byte_size() == out_size
                && !graph.in_view(v)
        });
        if let Some(v) = candidate {
            graph.views.push(View { value: out, base: v, offset: 0 });
            count += 1;
        }
    }
    PassStats::one("kernels made in-place", count)
}

#[cfg(test)]
mod tests {
    use expect_test::{Expect, expect};

    use super::*;

    fn check(before: &str, after: Expect) {
        crate::passes::testing::check(run, before, after);
    }

    #[test]
    fn dying_input_is_overwritten_but_a_live_one_is_not() {
        // `a` is read by `b` and then by `c`: only `c`, its last reader, may write over it.
        check(
            r#"
            graph "t"
            input %x: f32[4]
            %a: f32[4] = Unary{fun: Exp}(%x)
            %b: f32[4] = Unary{fun: Neg}(%a)
            %c: f32[4] = Unary{fun: Abs}(%a)
            output "b" = %b
            output "c" = %c
            "#,
            expect![[r#"
                // kernels made in-place: 1
                graph "t"
                input %x: f32[4]
                %a: f32[4] = Unary{fun: Exp}(%x)
                %b: f32[4] = Unary{fun: Neg}(%a)
                %c: f32[4] = Unary{fun: Abs}(%a)
                output "b" = %b
                output "c" = %c
                view %c in %a at 0
            "#]],
        );
    }
}
