//! Static memory planning: every activation gets a fixed offset in one arena, so a runner allocates once.
//!
//! Lifetimes are measured in kernel steps: a graph input is defined at step 0, an output of node `i` at step
//! `i + 1`; a value lives until its last reader (model outputs until the end). Offsets are assigned greedily: blocks
//! are placed one after another, each into the best-fitting gap among the blocks whose lifetimes overlap it. The
//! result depends on the order, so four classic orders are tried (size, size × lifetime, lifetime, definition time)
//! and the smallest arena kept; that is typically within a few percent of the lower bound, the largest total of
//! blocks alive at one step.
//!
//! Views (`Graph::views`: concat slices, in-place results) share their base's block: a block spans the lifetimes
//! and extents of every value inside it, and is what gets placed.

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

/// A block's lifetime, inclusive, in steps, and its size.
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

/// Where each value's memory lives: its root block and the offset inside it (views resolve to their base).
fn roots(graph: &Graph) -> Vec<(ValueId, u64)> {
    let mut root: Vec<(ValueId, u64)> = (0..graph.values.len()).map(|v| (ValueId(v as u32), 0)).collect();
    // Views may chain (an in-place result over a value that is itself a view); resolve to a fixpoint.
    for _ in 0..graph.views.len() + 1 {
        let mut changed = false;
        for view in &graph.views {
            let (base_root, base_offset) = root[view.base.0 as usize];
            let resolved = (base_root, base_offset + view.offset);
            if root[view.value.0 as usize] != resolved {
                root[view.value.0 as usize] = resolved;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    root
}

/// Per activation (non-constant values that are inputs or node outputs): first and last step, and byte size.
fn activations(graph: &Graph) -> Vec<(ValueId, usize, usize, u64)> {
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
            Some((ValueId(v as u32), first, last[v].max(first), graph.values[v].byte_size().max(1)))
        })
        .collect()
}

/// Memory blocks to place: one per root, spanning the lifetimes and extents of every value inside it.
fn blocks(graph: &Graph, alignment: u64) -> (Vec<Interval>, Vec<(ValueId, u64)>) {
    let roots = roots(graph);
    let mut by_root: std::collections::BTreeMap<ValueId, Interval> = std::collections::BTreeMap::new();
    for (v, first, last, size) in activations(graph) {
        let (root, offset) = roots[v.0 as usize];
        let block = by_root.entry(root).or_insert(Interval { value: root, first, last, size: 0 });
        block.first = block.first.min(first);
        block.last = block.last.max(last);
        block.size = block.size.max(offset + size);
    }
    let blocks = by_root.into_values().map(|b| Interval { size: align(b.size, alignment), ..b }).collect();
    (blocks, roots)
}

/// Places blocks in the given order, each at the best-fitting gap among the blocks already placed whose lifetimes
/// overlap it. Returns the arena size and each root's offset.
fn place(intervals: &[Interval], values: usize) -> (u64, Vec<Option<u64>>) {
    let mut placed: Vec<(Interval, u64)> = Vec::with_capacity(intervals.len());
    let mut offsets = vec![None; values];
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
        placed.push((*iv, offset));
    }
    (arena_size, offsets)
}

/// Plans the arena of `graph` with offsets aligned to `alignment` bytes.
pub fn plan(graph: &Graph, alignment: u64) -> MemoryPlan {
    let naive_size = activations(graph).iter().map(|a| align(a.3, alignment)).sum();
    let (mut intervals, roots) = blocks(graph, alignment);
    let steps = graph.nodes.len() + 2;
    let mut alive = vec![0u64; steps];
    for i in &intervals {
        for slot in &mut alive[i.first..=i.last] {
            *slot += i.size;
        }
    }
    let lower_bound = alive.into_iter().max().unwrap_or(0);

    // Greedy placement depends on the order blocks are placed in; try a few classic orders, keep the smallest.
    let orders: [fn(&Interval, &Interval) -> std::cmp::Ordering; 4] = [
        |a, b| b.size.cmp(&a.size).then(a.first.cmp(&b.first)),
        |a, b| (b.size * (b.last - b.first + 1) as u64).cmp(&(a.size * (a.last - a.first + 1) as u64)),
        |a, b| (b.last - b.first).cmp(&(a.last - a.first)).then(b.size.cmp(&a.size)),
        |a, b| a.first.cmp(&b.first).then(b.size.cmp(&a.size)),
    ];
    let (arena_size, block_offsets) = orders
        .iter()
        .map(|order| {
            intervals.sort_by(order);
            place(&intervals, graph.values.len())
        })
        .min_by_key(|(size, _)| *size)
        .unwrap_or((0, vec![None; graph.values.len()]));
    let offsets = activations(graph).iter().fold(vec![None; graph.values.len()], |mut offsets, &(v, ..)| {
        let (root, inner) = roots[v.0 as usize];
        offsets[v.0 as usize] = block_offsets[root.0 as usize].map(|o: u64| o + inner);
        offsets
    });
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

    /// Two branches written straight into a concat output: they sit inside it, and the block outlives both.
    #[test]
    fn concat_views_live_inside_their_base() {
        let mut g = Graph::new("t");
        let x = g.add_value("x", DType::F32, &[1, 4]);
        g.inputs.push(x);
        let (a, b) = (g.add_value("a", DType::F32, &[1, 4]), g.add_value("b", DType::F32, &[1, 4]));
        let y = g.add_value("y", DType::F32, &[1, 8]);
        g.add_node("a", Op::Unary { fun: UnaryFn::Relu }, &[x], &[a]);
        g.add_node("b", Op::Unary { fun: UnaryFn::Exp }, &[x], &[b]);
        g.add_node("cat", Op::Concat { axis: 1 }, &[a, b], &[y]);
        g.outputs.push(("y".into(), y));
        crate::passes::concat_views::run(&mut g, 16);
        let p = plan(&g, 16);
        let (oa, ob, oy, ox) =
            (p.offsets[a.0 as usize], p.offsets[b.0 as usize], p.offsets[y.0 as usize], p.offsets[x.0 as usize]);
        assert_eq!(oa, oy);
        assert_eq!(ob, oy.map(|o| o + 16));
        let (ox, oy) = (ox.unwrap(), oy.unwrap());
        assert!(ox + 16 <= oy || oy + 32 <= ox, "the input overlaps the concat block");
        assert_eq!(p.arena_size, 48);
    }
}
