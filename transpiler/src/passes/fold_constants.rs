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
    use super::*;
    use wdnn_descriptor_spec::{BinaryFn, DType, Op};

    #[test]
    fn folds_constant_subgraphs_and_keeps_the_rest() {
        let mut g = Graph::new("t");
        let x = g.add_value("x", DType::F32, &[2]);
        let a = g.add_constant("a", Tensor::new(&[2], &[1f32, 2.0]).unwrap());
        let b = g.add_constant("b", Tensor::new(&[2], &[10f32, 20.0]).unwrap());
        let ab = g.add_value("ab", DType::F32, &[2]);
        let y = g.add_value("y", DType::F32, &[2]);
        g.inputs.push(x);
        g.add_node("ab", Op::Binary { fun: BinaryFn::Add }, &[a, b], &[ab]);
        g.add_node("y", Op::Binary { fun: BinaryFn::Mul }, &[x, ab], &[y]);
        g.outputs.push(("y".into(), y));
        assert_eq!(run(&mut g).total(), 1);
        assert_eq!(g.nodes.len(), 1);
        assert_eq!(g.constant(ab).unwrap().to_vec::<f32>().unwrap(), vec![11.0, 22.0]);
    }
}
