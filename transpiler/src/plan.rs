//! Static memory planning: every activation gets a fixed offset in one arena, so a runner allocates once.
//!
//! Lifetimes are measured in kernel steps: a graph input is defined at step 0, an output of node `i` at step
//! `i + 1`; a value lives until its last reader (model outputs until the end). Offsets are assigned by *greedy by
//! size* (largest tensor first, each into the best-fitting gap among the tensors whose lifetimes overlap it), which
//! is typically within a few percent of the lower bound: the largest total of tensors alive at one step.

use crate::ir::{Graph, ValueId};

/// Where each activation lives, and how good the plan is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryPlan {
    /// Arena offset per value (None for constants and values not used).
    pub offsets: Vec<Option<u64>>,
    /// Bytes of arena needed.
    pub arena_size: u64,
    /// The sum of all activations' sizes: what a runner without a plan would allocate.
    pub naive_size: u64,
    /// The largest total of activations alive at one step: no plan can do better.
    pub lower_bound: u64,
}

/// A value's lifetime, inclusive, in steps.
#[derive(Debug, Clone, Copy)]
struct Interval {
    value: ValueId,
    first: usize,
    last: usize,
    size: u64,
}

fn align(n: u64, alignment: u64) -> u64 {
    n.div_ceil(alignment) * alignment
}

/// Lifetimes of all activations (non-constant values that are inputs or node outputs).
fn lifetimes(graph: &Graph, alignment: u64) -> Vec<Interval> {
    let n = graph.values.len();
    let mut first = vec![None; n];
    let mut last = vec![0usize; n];
    for input in &graph.inputs {
        first[input.0 as usize] = Some(0);
    }
    for (i, node) in graph.nodes.iter().enumerate() {
        for o in &node.outputs {
            first[o.0 as usize] = Some(i + 1);
            last[o.0 as usize] = last[o.0 as usize].max(i + 1);
        }
        for input in &node.inputs {
            last[input.0 as usize] = last[input.0 as usize].max(i + 1);
        }
    }
    let end = graph.nodes.len() + 1;
    for (_, o) in &graph.outputs {
        last[o.0 as usize] = end;
    }
    (0..n)
        .filter(|&v| graph.values[v].constant.is_none())
        .filter_map(|v| {
            let first = first[v]?;
            let size = align(graph.values[v].byte_size().max(1), alignment);
            Some(Interval { value: ValueId(v as u32), first, last: last[v].max(first), size })
        })
        .collect()
}

/// Plans the arena of `graph` with offsets aligned to `alignment` bytes.
pub fn plan(graph: &Graph, alignment: u64) -> MemoryPlan {
    let mut intervals = lifetimes(graph, alignment);
    let naive_size = intervals.iter().map(|i| i.size).sum();
    let steps = graph.nodes.len() + 2;
    let mut alive = vec![0u64; steps];
    for i in &intervals {
        for slot in &mut alive[i.first..=i.last] {
            *slot += i.size;
        }
    }
    let lower_bound = alive.into_iter().max().unwrap_or(0);

    intervals.sort_by(|a, b| b.size.cmp(&a.size).then(a.first.cmp(&b.first)));
    let mut placed: Vec<(Interval, u64)> = Vec::with_capacity(intervals.len());
    let mut offsets = vec![None; graph.values.len()];
    let mut arena_size = 0;
    for iv in intervals {
        let mut busy: Vec<(u64, u64)> = placed
            .iter()
            .filter(|(p, _)| p.first <= iv.last && iv.first <= p.last)
            .map(|(p, off)| (*off, off + p.size))
            .collect();
        busy.sort_unstable();
        let (mut best, mut best_gap, mut cursor) = (None, u64::MAX, 0u64);
        for (start, end) in busy {
            if start >= cursor && start - cursor >= iv.size && start - cursor < best_gap {
                best = Some(cursor);
                best_gap = start - cursor;
            }
            cursor = cursor.max(end);
        }
        let offset = best.unwrap_or(cursor);
        arena_size = arena_size.max(offset + iv.size);
        offsets[iv.value.0 as usize] = Some(offset);
        placed.push((iv, offset));
    }
    MemoryPlan { offsets, arena_size, naive_size, lower_bound }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wdnn_descriptor_spec::{DType, Op, UnaryFn};

    /// A chain x -> a -> b -> c: only two tensors are ever alive together, so the arena holds two.
    #[test]
    fn chain_reuses_memory_and_never_overlaps_live_tensors() {
        let mut g = Graph::new("t");
        let x = g.add_value("x", DType::F32, &[16]);
        g.inputs.push(x);
        let mut prev = x;
        for i in 0..3 {
            let next = g.add_value(&format!("v{i}"), DType::F32, &[16]);
            g.add_node(&format!("n{i}"), Op::Unary { fun: UnaryFn::Relu }, &[prev], &[next]);
            prev = next;
        }
        g.outputs.push(("y".into(), prev));
        let p = plan(&g, 16);
        assert_eq!(p.naive_size, 4 * 64);
        assert_eq!(p.lower_bound, 2 * 64);
        assert_eq!(p.arena_size, 2 * 64);
        for node in &g.nodes {
            let a = p.offsets[node.inputs[0].0 as usize].unwrap();
            let b = p.offsets[node.outputs[0].0 as usize].unwrap();
            assert!(a + 64 <= b || b + 64 <= a, "input and output of {} overlap", node.name);
        }
    }
}
