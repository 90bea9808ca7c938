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
