//! Dead-code removal: drops nodes none of whose outputs reaches a model output, and constants nobody reads.
//!
//! Values stay in the arena (ids are stable); unreferenced values are simply never planned or written.

use crate::ir::Graph;

use super::PassStats;

/// Removes nodes that do not contribute to any output.
pub fn run(graph: &mut Graph) -> PassStats {
    let mut live = vec![false; graph.values.len()];
    for (_, o) in &graph.outputs {
        live[o.0 as usize] = true;
    }
    let mut keep = vec![false; graph.nodes.len()];
    for (i, node) in graph.nodes.iter().enumerate().rev() {
        if node.outputs.iter().any(|o| live[o.0 as usize]) {
            keep[i] = true;
            for input in &node.inputs {
                live[input.0 as usize] = true;
            }
        }
    }
    let before = graph.nodes.len();
    let mut flags = keep.into_iter();
    graph.nodes.retain(|_| flags.next().unwrap_or(false));
    PassStats::one("dead nodes removed", before - graph.nodes.len())
}

#[cfg(test)]
mod tests {
    use expect_test::{Expect, expect};

    use super::*;

    fn check(before: &str, after: Expect) {
        crate::passes::testing::check(run, before, after);
    }

    #[test]
    fn removes_only_unreachable_nodes() {
        check(
            r#"
            graph "t"
            input %x: f32[2]
            %y: f32[2] = Unary{fun: Relu}(%x) @relu
            %dead: f32[2] = Unary{fun: Exp}(%x) @unused
            output "y" = %y
            "#,
            expect![[r#"
                // dead nodes removed: 1
                graph "t"
                input %x: f32[2]
                %y: f32[2] = Unary{fun: Relu}(%x) @relu
                output "y" = %y
            "#]],
        );
    }
}
