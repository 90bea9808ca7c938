//! Makes every model output an activation written by a kernel: an output that is a constant, a model input, or the
//! same value as an earlier output gets its own copy. Runners then read every output from the arena.

use wdnn_descriptor_spec::Op;

use crate::ir::Graph;

use super::PassStats;

/// Inserts copies for outputs that no kernel writes, or that repeat an earlier output.
pub fn run(graph: &mut Graph) -> PassStats {
    let producers = graph.producers();
    let mut copies = 0;
    for i in 0..graph.outputs.len() {
        let (name, v) = graph.outputs[i].clone();
        let repeated = graph.outputs[..i].iter().any(|(_, o)| *o == v);
        if producers[v.0 as usize].is_some() && !repeated {
            continue;
        }
        let value = graph.value(v).clone();
        let copy = graph.add_value(&name, value.dtype, &value.shape);
        graph.add_node(&format!("{name}.copy"), Op::Reshape, &[v], &[copy]);
        graph.outputs[i].1 = copy;
        copies += 1;
    }
    PassStats::one("output copies", copies)
}

#[cfg(test)]
mod tests {
    use expect_test::{Expect, expect};

    use super::*;

    fn check(before: &str, after: Expect) {
        crate::passes::testing::check(run, before, after);
    }

    #[test]
    fn an_output_that_is_an_input_or_a_constant_gets_a_copy() {
        check(
            r#"
            graph "t"
            input %x: f32[2]
            const #c: f32[2] = [1.0, 2.0]
            %y: f32[2] = Binary{fun: Add}(%x, #c)
            output "x" = %x
            output "c" = #c
            output "y" = %y
            "#,
            expect![[r#"
                // output copies: 2
                graph "t"
                input %x: f32[2]
                const #c: f32[2] = [1.0, 2.0]
                %y: f32[2] = Binary{fun: Add}(%x, #c)
                %x~1: f32[2] = Reshape(%x) @x.copy
                %c~1: f32[2] = Reshape(#c) @c.copy
                output "x" = %x~1
                output "c" = %c~1
                output "y" = %y
            "#]],
        );
    }

    #[test]
    fn a_repeated_output_gets_a_copy_but_its_first_occurrence_does_not() {
        check(
            r#"
            graph "t"
            input %x: f32[2]
            %y: f32[2] = Unary{fun: Relu}(%x)
            output "y" = %y
            output "same" = %y
            "#,
            expect![[r#"
                // output copies: 1
                graph "t"
                input %x: f32[2]
                %y: f32[2] = Unary{fun: Relu}(%x)
                %same: f32[2] = Reshape(%y) @same.copy
                output "y" = %y
                output "same" = %same
            "#]],
        );
    }

    #[test]
    fn outputs_written_by_kernels_are_left_alone() {
        check(
            r#"
            graph "t"
            input %x: f32[2]
            %a: f32[2] = Unary{fun: Relu}(%x)
            %b: f32[2] = Unary{fun: Exp}(%a)
            output "a" = %a
            output "b" = %b
            "#,
            expect![[r#"
                // output copies: 0
                graph "t"
                input %x: f32[2]
                %a: f32[2] = Unary{fun: Relu}(%x)
                %b: f32[2] = Unary{fun: Exp}(%a)
                output "a" = %a
                output "b" = %b
            "#]],
        );
    }
}
