//! Activation layout: rewrites the spatial ops (Conv, ConvTranspose, MaxPool, AveragePool) to NHWC
//! (`channels_last`) for backends that ask for it (`codegen::Layout::ChannelsLast` from
//! `Target::activation_layout`), with transposes only where layouts meet.
//!
//! Each spatial op gets a transpose NCHW→NHWC on its activation input (and on its epilogue operands, padded to the
//! activation rank so per-channel constants broadcast correctly) and a transpose back on its output; then every
//! transpose that undoes the transpose feeding it is cancelled, so a chain of convolutions stays NHWC throughout and
//! transposes remain only at the model's edges and around ops that need NCHW (a flatten before a classifier).
//! Constant operands' transposes are folded afterwards by `fold_constants`.

use wdnn_descriptor_spec::{EpilogueStep, Op, shape};

use crate::ir::{Graph, Node, ValueId};

use super::PassStats;

/// `shape` transposed by `perm`, a permutation of its own rank (the callers pad shapes to it first).
fn permuted(shape: &[u64], perm: &[u32]) -> Vec<u64> {
    shape::permute(shape, perm).expect("a permutation of the shape's own rank")
}

fn set_channels_last(op: &mut Op) {
    if let Op::Conv { channels_last, .. }
    | Op::ConvTranspose { channels_last, .. }
    | Op::MaxPool { channels_last, .. }
    | Op::AveragePool { channels_last, .. } = op
    {
        *channels_last = true;
    }
}

/// Rewrites spatial ops to NHWC and cancels the transposes that meet; returns what it did.
pub fn to_channels_last(graph: &mut Graph) -> PassStats {
    let mut converted = 0;
    let mut inserted = 0;
    let mut nodes = Vec::with_capacity(graph.nodes.len());
    for mut node in std::mem::take(&mut graph.nodes) {
        let spatial =
            matches!(node.op, Op::Conv { .. } | Op::ConvTranspose { .. } | Op::MaxPool { .. } | Op::AveragePool { .. });
        let rank = graph.value(node.inputs[0]).shape.len();
        if !spatial || node.op.channels_last() || rank < 3 {
            nodes.push(node);
            continue;
        }
        let (to_last, to_first) = (shape::to_channels_last(rank), shape::to_channels_first(rank));
        let mut transpose_in = |graph: &mut Graph, nodes: &mut Vec<Node>, v: ValueId| -> ValueId {
            let value = graph.value(v).clone();
            let mut current = v;
            if value.shape.len() < rank {
                let padded = shape::pad_rank(&value.shape, rank);
                current = graph.add_value(&format!("{}.rank{rank}", value.name), value.dtype, &padded);
                nodes.push(Node {
                    name: format!("{}.pad_rank", value.name),
                    op: Op::Reshape,
                    inputs: vec![v],
                    outputs: vec![current],
                });
            }
            let shape = permuted(&graph.value(current).shape, &to_last);
            let out = graph.add_value(&format!("{}.nhwc", value.name), value.dtype, &shape);
            nodes.push(Node {
                name: format!("{}.to_nhwc", value.name),
                op: Op::Transpose { perm: to_last.clone() },
                inputs: vec![current],
                outputs: vec![out],
            });
            inserted += 1;
            out
        };
        node.inputs[0] = transpose_in(graph, &mut nodes, node.inputs[0]);
        let operands: Vec<u32> = node
            .op
            .epilogue()
            .unwrap_or(&[])
            .iter()
            .filter_map(|s| match s {
                EpilogueStep::Binary { operand, .. } => Some(*operand),
                _ => None,
            })
            .collect();
        for operand in operands {
            let v = node.inputs[operand as usize];
            node.inputs[operand as usize] = transpose_in(graph, &mut nodes, v);
        }
        let y = node.outputs[0];
        let value = graph.value(y).clone();
        let y_last = graph.add_value(&format!("{}.nhwc", value.name), value.dtype, &permuted(&value.shape, &to_last));
        node.outputs[0] = y_last;
        set_channels_last(&mut node.op);
        let back = Node {
            name: format!("{}.to_nchw", value.name),
            op: Op::Transpose { perm: to_first },
            inputs: vec![y_last],
            outputs: vec![y],
        };
        nodes.push(node);
        nodes.push(back);
        inserted += 1;
        converted += 1;
    }
    graph.nodes = nodes;
    let mut cancelled = cancel_inverse_transposes(graph);
    let pushed = push_transposes_down(graph);
    cancelled += cancel_inverse_transposes(graph);
    PassStats {
        changes: vec![
            ("spatial ops made NHWC".to_string(), converted),
            ("transposes inserted".to_string(), inserted),
            ("transposes pushed through layout-agnostic ops".to_string(), pushed),
            ("transposes cancelled".to_string(), cancelled),
        ],
    }
}

/// `Concat(Transpose(a, p), Transpose(b, p), …)` → `Transpose(Concat(a, b, …), p)` with the axis mapped, and
/// `Unary(Transpose(a, p))` → `Transpose(Unary(a), p)`: layout-agnostic ops move to the layout of their producers,
/// so the transpose after them can cancel against the next one.
fn push_transposes_down(graph: &mut Graph) -> usize {
    let mut pushed = 0;
    let mut i = 0;
    while i < graph.nodes.len() {
        let producers = graph.producers();
        let perm_of = |v: ValueId| -> Option<(Vec<u32>, ValueId)> {
            let p = producers[v.0 as usize]?;
            match &graph.nodes[p.0 as usize].op {
                Op::Transpose { perm } => Some((perm.clone(), graph.nodes[p.0 as usize].inputs[0])),
                _ => None,
            }
        };
        let (op, node_inputs, node_output) =
            (graph.nodes[i].op.clone(), graph.nodes[i].inputs.clone(), graph.nodes[i].outputs[0]);
        let rank = graph.value(node_output).shape.len();
        // Per input: Some((perm, source)) when it comes out of a transpose, None for a constant (elementwise ops
        // only: it gets permuted alongside).
        let sources: Option<Vec<Option<Source>>> = match op {
            Op::Concat { .. } | Op::Unary { .. } => node_inputs.iter().map(|&v| perm_of(v).map(Some)).collect(),
            Op::Binary { fun } if !fun.is_predicate() => elementwise_sources(graph, &node_inputs, rank, &perm_of),
            Op::Elementwise { .. } => elementwise_sources(graph, &node_inputs, rank, &perm_of),
            _ => None,
        };
        let first_perm = sources.as_ref().and_then(|s| s.iter().flatten().next().map(|(p, _)| p.clone()));
        let Some((sources, perm)) =
            sources.zip(first_perm).filter(|(s, p)| s.iter().flatten().all(|(q, _)| q == p) && rank == p.len())
        else {
            i += 1;
            continue;
        };
        // Constants move into the untransposed layout: padded to the rank, permuted by the inverse (folded later).
        let mut inverse = vec![0u32; perm.len()];
        for (j, &p) in perm.iter().enumerate() {
            inverse[p as usize] = j as u32;
        }
        let mut inputs = Vec::with_capacity(sources.len());
        for (slot, source) in sources.iter().enumerate() {
            inputs.push(match source {
                Some((_, v)) => *v,
                None => {
                    let c = node_inputs[slot];
                    let (name, inserted) = (graph.value(c).name.clone(), permute_constant(graph, c, &inverse));
                    let count = inserted.len();
                    let out = inserted.last().map(|n| n.outputs[0]).unwrap_or(c);
                    for (k, n) in inserted.into_iter().enumerate() {
                        graph.nodes.insert(i + k, Node { name: format!("{name}.{}", n.name), ..n });
                    }
                    i += count;
                    out
                }
            });
        }
        let sources: Vec<(Vec<u32>, ValueId)> = inputs.iter().map(|&v| (perm.clone(), v)).collect();
        let out = node_output;
        let value = graph.value(out).clone();
        // The op now reads the untransposed values: its output has the inverse-permuted shape.
        let inner_shape: Vec<u64> = inverse.iter().map(|&k| value.shape[k as usize]).collect();
        let inner = graph.add_value(&format!("{}.inner", value.name), value.dtype, &inner_shape);
        let node = &mut graph.nodes[i];
        if let Op::Concat { axis } = &mut node.op {
            *axis = perm[*axis as usize];
        }
        node.inputs = sources.iter().map(|(_, v)| *v).collect();
        node.outputs[0] = inner;
        let name = format!("{}.transpose", node.name);
        graph.nodes.insert(i + 1, Node { name, op: Op::Transpose { perm }, inputs: vec![inner], outputs: vec![out] });
        pushed += 1;
        i += 2;
    }
    pushed
}

/// A value read through a transpose: the permutation and the transpose's input.
type Source = (Vec<u32>, ValueId);

/// For an elementwise op: each input either from a transpose or a constant of rank ≤ `rank` (None), with at
/// least one transposed input.
fn elementwise_sources(
    graph: &Graph,
    inputs: &[ValueId],
    rank: usize,
    perm_of: &dyn Fn(ValueId) -> Option<(Vec<u32>, ValueId)>,
) -> Option<Vec<Option<Source>>> {
    let sources: Option<Vec<_>> = inputs
        .iter()
        .map(|&v| match perm_of(v) {
            Some(s) => Some(Some(s)),
            None if graph.constant(v).is_some() && graph.value(v).shape.len() <= rank => Some(None),
            None => None,
        })
        .collect();
    sources.filter(|s| s.iter().any(Option::is_some))
}

/// Nodes that reshape constant `c` to `perm.len()` axes and transpose it by `perm`; the last one's output is the
/// permuted constant. Shapes broadcast the same way after the permutation.
fn permute_constant(graph: &mut Graph, c: ValueId, perm: &[u32]) -> Vec<Node> {
    let value = graph.value(c).clone();
    let rank = perm.len();
    let mut nodes = Vec::new();
    let mut current = c;
    if value.shape.len() < rank {
        let padded = shape::pad_rank(&value.shape, rank);
        let v = graph.add_value(&format!("{}.rank{rank}", value.name), value.dtype, &padded);
        nodes.push(Node { name: "pad_rank".into(), op: Op::Reshape, inputs: vec![current], outputs: vec![v] });
        current = v;
    }
    let shape = permuted(&graph.value(current).shape, perm);
    let v = graph.add_value(&format!("{}.permuted", value.name), value.dtype, &shape);
    nodes.push(Node {
        name: "permute".into(),
        op: Op::Transpose { perm: perm.to_vec() },
        inputs: vec![current],
        outputs: vec![v],
    });
    nodes
}

/// Rewires readers of `Transpose(Transpose(x, p1), p2)` with `p1∘p2 = id` to `x`; the dead transposes are left to
/// `dead_code`.
pub fn cancel_inverse_transposes(graph: &mut Graph) -> usize {
    let producers = graph.producers();
    let mut rewires = Vec::new();
    for node in &graph.nodes {
        let Op::Transpose { perm: p2 } = &node.op else { continue };
        let Some(first) = producers[node.inputs[0].0 as usize] else { continue };
        let first = &graph.nodes[first.0 as usize];
        let Op::Transpose { perm: p1 } = &first.op else { continue };
        let identity = p2.iter().enumerate().all(|(j, &k)| p1.get(k as usize) == Some(&(j as u32)));
        let read = graph.nodes.iter().any(|n| n.inputs.contains(&node.outputs[0]));
        if identity && p1.len() == p2.len() && read && !graph.is_output(node.outputs[0]) {
            rewires.push((node.outputs[0], first.inputs[0]));
        }
    }
    for &(from, to) in &rewires {
        graph.replace_uses(from, to);
    }
    rewires.len()
}

#[cfg(test)]
mod tests {
    use expect_test::expect;

    use super::*;
    use crate::passes::{dead_code, testing};

    #[test]
    fn a_chain_of_convs_keeps_one_transpose_at_each_edge() {
        let conv =
            "Conv{group: 1, strides: [1, 1], dilations: [1, 1], pads: [0, 0, 0, 0], epilogue: [Unary{fun: Relu}]}";
        let before = format!(
            r#"
            graph "t"
            input %x: f32[1,2,4,4]
            const #w0: f32[2,2,1,1] = [1.0, 0.0, 0.0, 1.0]
            const #w1: f32[2,2,1,1] = [1.0, 0.0, 0.0, 1.0]
            const #w2: f32[2,2,1,1] = [1.0, 0.0, 0.0, 1.0]
            %y0: f32[1,2,4,4] = {conv}(%x, #w0) @conv0
            %y1: f32[1,2,4,4] = {conv}(%y0, #w1) @conv1
            %y2: f32[1,2,4,4] = {conv}(%y1, #w2) @conv2
            output "y" = %y2
            "#
        );
        let pass = |g: &mut Graph| {
            let stats = to_channels_last(g);
            dead_code::run(g);
            stats
        };
        testing::check(
            pass,
            &before,
            expect![[r#"
            // spatial ops made NHWC: 3
            // transposes inserted: 6
            // transposes pushed through layout-agnostic ops: 0
            // transposes cancelled: 2
            graph "t"
            input %x: f32[1,2,4,4]
            const #w0: f32[2,2,1,1] = [1.0, 0.0, 0.0, 1.0]
            const #w1: f32[2,2,1,1] = [1.0, 0.0, 0.0, 1.0]
            const #w2: f32[2,2,1,1] = [1.0, 0.0, 0.0, 1.0]
            %x.nhwc: f32[1,4,4,2] = Transpose{perm: [0, 2, 3, 1]}(%x) @x.to_nhwc
            %y0.nhwc: f32[1,4,4,2] = Conv{group: 1, strides: [1, 1], dilations: [1, 1], pads: [0, 0, 0, 0], channels_last: true, epilogue: [Unary{fun: Relu}]}(%x.nhwc, #w0) @conv0
            %y1.nhwc: f32[1,4,4,2] = Conv{group: 1, strides: [1, 1], dilations: [1, 1], pads: [0, 0, 0, 0], channels_last: true, epilogue: [Unary{fun: Relu}]}(%y0.nhwc, #w1) @conv1
            %y2.nhwc: f32[1,4,4,2] = Conv{group: 1, strides: [1, 1], dilations: [1, 1], pads: [0, 0, 0, 0], channels_last: true, epilogue: [Unary{fun: Relu}]}(%y1.nhwc, #w2) @conv2
            %y2: f32[1,2,4,4] = Transpose{perm: [0, 3, 1, 2]}(%y2.nhwc) @y2.to_nchw
            output "y" = %y2
        "#]],
        );
    }
}
