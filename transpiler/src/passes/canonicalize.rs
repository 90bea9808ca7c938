//! Canonical forms for what importers spell many ways, so the later passes match one pattern each:
//!
//! - `Max(x, 0)` → `Relu`, `Max(x, c)` / `Min(x, c)` with a scalar constant → `Clip`;
//! - a `Relu`/`Clip` feeding only another `Clip` → one `Clip` (ONNX `Clip(0, 6)` arrives as `Min(Max(x, 0), 6)`);
//! - `Sub(x, c)` → `Add(x, −c)` and `Div(x, c)` → `Mul(x, 1/c)` for float constants (the affine merge then sees
//!   one form);
//! - identities removed: `Mul(x, 1)`, `Add(x, 0)`, a `Reshape` to the same shape, and a `Reshape` of a `Reshape`
//!   collapsed into one.
//!
//! It does not touch model outputs' producers in ways that would rename an output, and it never changes results
//! beyond the rounding of `1/c`; where that rounding could decide an integer (the quotient feeds `Round`, `Floor`,
//! `Ceil` or a cast to an integer, as in `QuantizeLinear`'s `round(x / scale)`, whose ties ONNX defines on the
//! exact quotient) a `Div` is kept unless `1/c` is exact (a power of two).

use wdnn_descriptor_spec::{BinaryFn, DType, Op, ReduceFn, UnaryFn};
use wdnn_runner_core::Tensor;

use crate::ir::{Graph, ValueId};

use super::PassStats;

/// Rewrites every node into its canonical form.
pub fn run(graph: &mut Graph) -> PassStats {
    let (mut activations, mut affine, mut identities) = (0, 0, 0);
    let consumers = graph.consumers();
    for i in 0..graph.nodes.len() {
        if let Some(op) = activation_form(graph, i) {
            let x = non_constant_input(graph, i).unwrap_or(graph.nodes[i].inputs[0]);
            graph.nodes[i].op = op;
            graph.nodes[i].inputs = vec![x];
            activations += 1;
        } else if let Some((fun, constant)) = affine_form(graph, i)
            && (fun != BinaryFn::Mul || exact_reciprocals(graph, i) || !feeds_rounding(graph, &consumers, i))
        {
            let x = graph.nodes[i].inputs[0];
            let name = format!("{}.canonical", graph.nodes[i].name);
            let c = graph.add_constant(&name, constant);
            graph.nodes[i].op = Op::Binary { fun };
            graph.nodes[i].inputs = vec![x, c];
            affine += 1;
        }
    }
    let means = sum_then_scale_to_mean(graph);
    let merged = merge_clips(graph);
    identities += remove_identities(graph);
    PassStats {
        changes: vec![
            ("Max/Min → Relu/Clip".to_string(), activations),
            ("Sub/Div by constant → Add/Mul".to_string(), affine),
            ("activations merged".to_string(), merged),
            ("ReduceSum·(1/n) → ReduceMean".to_string(), means),
            ("identities removed".to_string(), identities),
        ],
    }
}

fn non_constant_input(graph: &Graph, node: usize) -> Option<ValueId> {
    graph.nodes[node].inputs.iter().copied().find(|&v| graph.constant(v).is_none())
}

/// `Max`/`Min` of an f32 value and a scalar f32 constant, as a `Relu` or `Clip`.
fn activation_form(graph: &Graph, node: usize) -> Option<Op> {
    let n = &graph.nodes[node];
    let Op::Binary { fun: fun @ (BinaryFn::Max | BinaryFn::Min) } = n.op else { return None };
    let [a, b] = n.inputs[..] else { return None };
    let (x, c) = match (graph.scalar_f32(a), graph.scalar_f32(b)) {
        (None, Some(c)) => (a, c),
        (Some(c), None) => (b, c),
        _ => return None,
    };
    let out = graph.value(n.outputs[0]);
    if graph.value(x).dtype != DType::F32 || graph.value(x).shape != out.shape {
        return None;
    }
    Some(Op::Unary {
        fun: match (fun, c) {
            (BinaryFn::Max, 0.0) => UnaryFn::Relu,
            (BinaryFn::Max, c) => UnaryFn::Clip { min: c, max: f32::INFINITY },
            (_, c) => UnaryFn::Clip { min: f32::NEG_INFINITY, max: c },
        },
    })
}

/// `Sub(x, c)` / `Div(x, c)` with an f32 constant `c`, as `Add(x, −c)` / `Mul(x, 1/c)`.
fn affine_form(graph: &Graph, node: usize) -> Option<(BinaryFn, Tensor)> {
    let n = &graph.nodes[node];
    let Op::Binary { fun: fun @ (BinaryFn::Sub | BinaryFn::Div) } = n.op else { return None };
    let [x, c] = n.inputs[..] else { return None };
    if graph.constant(x).is_some() || graph.value(x).dtype != DType::F32 {
        return None;
    }
    let values = graph.constant_f32(c)?;
    let shape = graph.value(c).shape.clone();
    let (fun, values): (BinaryFn, Vec<f32>) = match fun {
        BinaryFn::Sub => (BinaryFn::Add, values.iter().map(|v| -v).collect()),
        _ => (BinaryFn::Mul, values.iter().map(|v| 1.0 / v).collect()),
    };
    Some((fun, Tensor::new(&shape, &values).ok()?))
}

/// Whether every divisor of `Div` node `node` has an exact reciprocal (a power of two, so `x·(1/c) == x/c`).
fn exact_reciprocals(graph: &Graph, node: usize) -> bool {
    let c = graph.nodes[node].inputs[1];
    graph.constant_f32(c).is_some_and(|values| {
        values.iter().all(|&v| {
            let r = 1.0 / v;
            v.is_normal() && r.is_normal() && v.to_bits() & 0x007f_ffff == 0
        })
    })
}

/// Whether the output of `node` feeds an op that rounds it to an integer.
fn feeds_rounding(graph: &Graph, consumers: &[Vec<crate::ir::NodeId>], node: usize) -> bool {
    let value = graph.nodes[node].outputs[0];
    consumers[value.0 as usize].iter().any(|&c| match &graph.nodes[c.0 as usize].op {
        Op::Unary { fun: UnaryFn::Round | UnaryFn::Floor | UnaryFn::Ceil } => true,
        Op::Cast => graph.nodes[c.0 as usize].outputs.iter().any(|&o| !graph.value(o).dtype.is_float()),
        _ => false,
    })
}

/// `Mul(ReduceSum(x, axes), 1/n)` where `n` is the number of values summed → `ReduceMean(x, axes)`: how
/// importers spell GlobalAveragePool and ReduceMean.
fn sum_then_scale_to_mean(graph: &mut Graph) -> usize {
    let producers = graph.producers();
    let mut removed = vec![false; graph.nodes.len()];
    let mut count = 0;
    for i in 0..graph.nodes.len() {
        let Op::Binary { fun: BinaryFn::Mul } = graph.nodes[i].op else { continue };
        let [a, b] = graph.nodes[i].inputs[..] else { continue };
        let (sum, scale) = match (graph.scalar_f32(a), graph.scalar_f32(b)) {
            (None, Some(s)) => (a, s),
            (Some(s), None) => (b, s),
            _ => continue,
        };
        let Some(p) = producers[sum.0 as usize] else { continue };
        let p = p.0 as usize;
        let Op::Reduce { fun: ReduceFn::Sum, axes } = &graph.nodes[p].op else { continue };
        let x = graph.value(graph.nodes[p].inputs[0]);
        let n: u64 = axes.iter().map(|&a| x.shape.get(a as usize).copied().unwrap_or(1)).product();
        let same_shape = graph.value(sum).shape == graph.value(graph.nodes[i].outputs[0]).shape;
        if removed[p] || graph.use_count(sum) != 1 || !same_shape || ((scale * n as f32) - 1.0).abs() > 1e-6 {
            continue;
        }
        let axes = axes.clone();
        graph.nodes[i].op = Op::Reduce { fun: ReduceFn::Mean, axes };
        graph.nodes[i].inputs = graph.nodes[p].inputs.clone();
        removed[p] = true;
        count += 1;
    }
    let mut flags = removed.into_iter();
    graph.nodes.retain(|_| !flags.next().unwrap_or(false));
    count
}

fn clip_bounds(op: &Op) -> Option<(f32, f32)> {
    match op {
        Op::Unary { fun: UnaryFn::Relu } => Some((0.0, f32::INFINITY)),
        Op::Unary { fun: UnaryFn::Clip { min, max } } => Some((*min, *max)),
        _ => None,
    }
}

/// Folds a `Relu`/`Clip` that feeds only another `Clip` into it.
fn merge_clips(graph: &mut Graph) -> usize {
    let mut merged = 0;
    let producers = graph.producers();
    let mut removed = vec![false; graph.nodes.len()];
    for i in 0..graph.nodes.len() {
        let Some((min2, max2)) = clip_bounds(&graph.nodes[i].op) else { continue };
        let x = graph.nodes[i].inputs[0];
        let Some(p) = producers[x.0 as usize] else { continue };
        let p = p.0 as usize;
        if removed[p] || graph.use_count(x) != 1 {
            continue;
        }
        let Some((min1, max1)) = clip_bounds(&graph.nodes[p].op) else { continue };
        let (min, max) = (min1.max(min2), max1.min(max2));
        let fun = if min == 0.0 && max == f32::INFINITY { UnaryFn::Relu } else { UnaryFn::Clip { min, max } };
        graph.nodes[i].op = Op::Unary { fun };
        graph.nodes[i].inputs = graph.nodes[p].inputs.clone();
        removed[p] = true;
        merged += 1;
    }
    let mut flags = removed.into_iter();
    graph.nodes.retain(|_| !flags.next().unwrap_or(false));
    merged
}

/// True when the node passes its first input through unchanged.
fn is_identity(graph: &Graph, node: usize) -> bool {
    let n = &graph.nodes[node];
    let out = graph.value(n.outputs[0]);
    let x = graph.value(n.inputs[0]);
    if x.shape != out.shape || x.dtype != out.dtype || graph.constant(n.inputs[0]).is_some() {
        return false;
    }
    match n.op {
        Op::Reshape => true,
        Op::Binary { fun: BinaryFn::Mul } => n.inputs.get(1).and_then(|&c| graph.scalar_f32(c)) == Some(1.0),
        Op::Binary { fun: BinaryFn::Add } => n.inputs.get(1).and_then(|&c| graph.scalar_f32(c)) == Some(0.0),
        _ => false,
    }
}

/// Drops identity nodes (rewiring their readers) and collapses `Reshape(Reshape(x))`.
fn remove_identities(graph: &mut Graph) -> usize {
    let mut removed = 0;
    let mut i = 0;
    while i < graph.nodes.len() {
        let out = graph.nodes[i].outputs[0];
        if is_identity(graph, i) && !graph.is_output(out) {
            let x = graph.nodes[i].inputs[0];
            graph.nodes.remove(i);
            graph.replace_uses(out, x);
            removed += 1;
            continue;
        }
        if matches!(graph.nodes[i].op, Op::Reshape) {
            let x = graph.nodes[i].inputs[0];
            let producer = graph.nodes[..i].iter().position(|n| n.outputs.contains(&x));
            if let Some(p) = producer
                && matches!(graph.nodes[p].op, Op::Reshape)
                && graph.use_count(x) == 1
            {
                graph.nodes[i].inputs = graph.nodes[p].inputs.clone();
                graph.nodes.remove(p);
                removed += 1;
                continue;
            }
        }
        i += 1;
    }
    removed
}

#[cfg(test)]
mod tests {
    use expect_test::{Expect, expect};

    use super::*;

    fn check(before: &str, after: Expect) {
        crate::passes::testing::check(run, before, after);
    }

    #[test]
    fn a_quotient_that_is_rounded_keeps_its_division_unless_the_reciprocal_is_exact() {
        // QuantizeLinear: −2.35 / 0.02 is the tie −117.5 in f32, −2.35 · (1/0.02) is not.
        check(
            r#"
            graph "t"
            input %x: f32[4]
            const #scale: f32[] = [0.02]
            const #half: f32[] = [0.5]
            %q: f32[4] = Binary{fun: Div}(%x, #scale) @div
            %r: f32[4] = Unary{fun: Round}(%q) @round
            %h: f32[4] = Binary{fun: Div}(%x, #half) @div_half
            %s: f32[4] = Unary{fun: Round}(%h) @round_half
            output "r" = %r
            output "s" = %s
            "#,
            expect![[r#"
                // Max/Min → Relu/Clip: 0
                // Sub/Div by constant → Add/Mul: 1
                // activations merged: 0
                // ReduceSum·(1/n) → ReduceMean: 0
                // identities removed: 0
                graph "t"
                input %x: f32[4]
                const #scale: f32[] = [0.02]
                const #div_half.canonical: f32[] = [2.0]
                %q: f32[4] = Binary{fun: Div}(%x, #scale) @div
                %r: f32[4] = Unary{fun: Round}(%q) @round
                %h: f32[4] = Binary{fun: Mul}(%x, #div_half.canonical) @div_half
                %s: f32[4] = Unary{fun: Round}(%h) @round_half
                output "r" = %r
                output "s" = %s
            "#]],
        );
    }

    #[test]
    fn relu6_spelled_as_max_then_min_becomes_one_clip() {
        check(
            r#"
            graph "t"
            input %x: f32[4]
            const #zero: f32[] = [0.0]
            const #six: f32[] = [6.0]
            %a: f32[4] = Binary{fun: Max}(%x, #zero) @max
            %y: f32[4] = Binary{fun: Min}(%a, #six) @min
            output "y" = %y
            "#,
            expect![[r#"
                // Max/Min → Relu/Clip: 2
                // Sub/Div by constant → Add/Mul: 0
                // activations merged: 1
                // ReduceSum·(1/n) → ReduceMean: 0
                // identities removed: 0
                graph "t"
                input %x: f32[4]
                %y: f32[4] = Unary{fun: Clip{min: 0.0, max: 6.0}}(%x) @min
                output "y" = %y
            "#]],
        );
    }

    #[test]
    fn relu_whose_input_is_also_an_output_is_not_merged_away() {
        check(
            r#"
            graph "t"
            input %x: f32[4]
            const #six: f32[] = [6.0]
            %r: f32[4] = Unary{fun: Relu}(%x) @relu
            %y: f32[4] = Binary{fun: Min}(%r, #six) @min
            output "r" = %r
            output "y" = %y
            "#,
            expect![[r#"
                // Max/Min → Relu/Clip: 1
                // Sub/Div by constant → Add/Mul: 0
                // activations merged: 0
                // ReduceSum·(1/n) → ReduceMean: 0
                // identities removed: 0
                graph "t"
                input %x: f32[4]
                %r: f32[4] = Unary{fun: Relu}(%x) @relu
                %y: f32[4] = Unary{fun: Clip{min: -inf, max: 6.0}}(%r) @min
                output "r" = %r
                output "y" = %y
            "#]],
        );
    }

    #[test]
    fn sub_and_div_by_constants_become_add_and_mul() {
        check(
            r#"
            graph "t"
            input %x: f32[2]
            const #c: f32[2] = [2.0, 4.0]
            %a: f32[2] = Binary{fun: Sub}(%x, #c) @sub
            %y: f32[2] = Binary{fun: Div}(%a, #c) @div
            output "y" = %y
            "#,
            expect![[r#"
                // Max/Min → Relu/Clip: 0
                // Sub/Div by constant → Add/Mul: 2
                // activations merged: 0
                // ReduceSum·(1/n) → ReduceMean: 0
                // identities removed: 0
                graph "t"
                input %x: f32[2]
                const #sub.canonical: f32[2] = [-2.0, -4.0]
                const #div.canonical: f32[2] = [0.5, 0.25]
                %a: f32[2] = Binary{fun: Add}(%x, #sub.canonical) @sub
                %y: f32[2] = Binary{fun: Mul}(%a, #div.canonical) @div
                output "y" = %y
            "#]],
        );
    }

    #[test]
    fn sum_times_one_over_n_becomes_a_mean() {
        check(
            r#"
            graph "t"
            input %x: f32[1,4,2,2]
            const #quarter: f32[] = [0.25]
            %s: f32[1,4,1,1] = Reduce{fun: "Sum", axes: [2, 3]}(%x) @sum
            %y: f32[1,4,1,1] = Binary{fun: Mul}(%s, #quarter) @scale
            output "y" = %y
            "#,
            expect![[r#"
                // Max/Min → Relu/Clip: 0
                // Sub/Div by constant → Add/Mul: 0
                // activations merged: 0
                // ReduceSum·(1/n) → ReduceMean: 1
                // identities removed: 0
                graph "t"
                input %x: f32[1,4,2,2]
                %y: f32[1,4,1,1] = Reduce{fun: "Mean", axes: [2, 3]}(%x) @scale
                output "y" = %y
            "#]],
        );
    }

    #[test]
    fn identities_are_removed_and_reshape_chains_collapse() {
        check(
            r#"
            graph "t"
            input %x: f32[2,3]
            const #one: f32[] = [1.0]
            %a: f32[2,3] = Binary{fun: Mul}(%x, #one) @mul1
            %b: f32[6] = Reshape(%a) @flat
            %y: f32[3,2] = Reshape(%b) @back
            output "y" = %y
            "#,
            expect![[r#"
                // Max/Min → Relu/Clip: 0
                // Sub/Div by constant → Add/Mul: 0
                // activations merged: 0
                // ReduceSum·(1/n) → ReduceMean: 0
                // identities removed: 2
                graph "t"
                input %x: f32[2,3]
                %y: f32[3,2] = Reshape(%x) @back
                output "y" = %y
            "#]],
        );
    }
}
