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
    use super::*;
    use wdnn_descriptor_spec::{DType, Op, UnaryFn};

    #[test]
    fn removes_only_unreachable_nodes() {
        let mut g = Graph::new("t");
        let x = g.add_value("x", DType::F32, &[2]);
        let y = g.add_value("y", DType::F32, &[2]);
        let dead = g.add_value("dead", DType::F32, &[2]);
        g.inputs.push(x);
        g.add_node("relu", Op::Unary { fun: UnaryFn::Relu }, &[x], &[y]);
        g.add_node("unused", Op::Unary { fun: UnaryFn::Exp }, &[x], &[dead]);
        g.outputs.push(("y".into(), y));
        assert_eq!(run(&mut g).total(), 1);
        assert_eq!(g.nodes.len(), 1);
        assert_eq!(g.nodes[0].name, "relu");
    }
}
