//! Constant folding: a node whose inputs are all constants is evaluated at convert time with the reference
//! kernels of `runner-fallback` (the same code that defines the op's meaning at run time) and its outputs become
//! constants.
//!
//! Nodes whose result would be much larger than their inputs (an `Expand` of a scalar to a big tensor) are left to
//! run time, so folding never bloats the weights.

use wdnn_runner_core::Tensor;

use crate::ir::Graph;

use super::PassStats;

/// A folded output may be at most this many times the size of the node's inputs (plus a small allowance).
const GROWTH_LIMIT: u64 = 4;
const SMALL: u64 = 1 << 16;

/// Folds every node with only constant inputs; returns how many were folded.
pub fn run(graph: &mut Graph) -> PassStats {
    let mut folded = 0;
    let mut kept = Vec::with_capacity(graph.nodes.len());
    for node in std::mem::take(&mut graph.nodes) {
        let inputs: Option<Vec<&Tensor>> = node.inputs.iter().map(|&i| graph.constant(i)).collect();
        let Some(inputs) = inputs else {
            kept.push(node);
            continue;
        };
        let in_bytes: u64 = inputs.iter().map(|t| t.bytes().len() as u64).sum();
        let out_bytes: u64 = node.outputs.iter().map(|&o| graph.value(o).byte_size()).sum();
        if out_bytes > SMALL && out_bytes > GROWTH_LIMIT * in_bytes {
            kept.push(node);
            continue;
        }
        let specs: Vec<_> =
            node.outputs.iter().map(|&o| (graph.value(o).dtype, graph.value(o).shape.clone())).collect();
        match wdnn_runner_fallback::eval(&node.op, &inputs, &specs) {
            Ok(results) => {
                for (&o, t) in node.outputs.iter().zip(results) {
                    graph.value_mut(o).constant = Some(t);
                }
                folded += 1;
            }
            // Not foldable here (an op the reference kernels reject): keep it for run time, where the backend
            // reports it properly.
            Err(_) => kept.push(node),
        }
    }
    graph.nodes = kept;
    PassStats::one("nodes folded", folded)
}

#[cfg(test)]
mod tests {
    use expect_test::{Expect, expect};

    use super::*;

    fn check(before: &str, after: Expect) {
        crate::passes::testing::check(run, before, after);
    }

    #[test]
    fn folds_constant_subgraphs_and_keeps_the_rest() {
        check(
            r#"
            graph "t"
            input %x: f32[2]
            const #a: f32[2] = [1.0, 2.0]
            const #b: f32[2] = [10.0, 20.0]
            %ab: f32[2] = Binary{fun: Add}(#a, #b)
            %y: f32[2] = Binary{fun: Mul}(%x, %ab)
            output "y" = %y
            "#,
            expect![[r#"
                // nodes folded: 1
                graph "t"
                input %x: f32[2]
                const #ab: f32[2] = [11.0, 22.0]
                %y: f32[2] = Binary{fun: Mul}(%x, #ab)
                output "y" = %y
            "#]],
        );
    }

    #[test]
    fn an_expand_that_would_bloat_the_weights_is_left_to_run_time() {
        check(
            r#"
            graph "t"
            input %x: f32[256,256]
            const #one: f32[] = [1.0]
            %ones: f32[256,256] = Expand(#one)
            %y: f32[256,256] = Binary{fun: Add}(%x, %ones)
            output "y" = %y
            "#,
            expect![[r#"
                // nodes folded: 0
                graph "t"
                input %x: f32[256,256]
                const #one: f32[] = [1.0]
                %ones: f32[256,256] = Expand(#one)
                %y: f32[256,256] = Binary{fun: Add}(%x, %ones)
                output "y" = %y
            "#]],
        );
    }
}
