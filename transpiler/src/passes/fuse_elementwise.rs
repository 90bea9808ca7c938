//! Elementwise fusion (WebDNN's inline elementwise):
//!
//! 1. **Into epilogues.** An f32 `Unary`, or `Binary` whose other operand is already available (a constant, a model
//!    input, or a value computed before the producer), that reads the output of a Conv, ConvTranspose, MatMul or
//!    fused chain — its only reader, not a model output, same shape — becomes a step of that producer. A residual
//!    `Add` of a skip connection is the `Binary` case: the skip value becomes an extra input of the convolution.
//!    Either operand of a commutative op may be the producer, so `Add(shortcut_conv, main_conv)` fuses into
//!    whichever of the two convolutions runs last.
//! 2. **Standalone chains.** Two or more elementwise ops in a row with no producer to fuse into become one
//!    `Elementwise` kernel.
//!
//! Predicates (bool outputs) and ops that change the shape by broadcasting the producer's value are left alone.

use wdnn_descriptor_spec::{BinaryFn, DType, EpilogueStep, Op};

use crate::ir::{Graph, ValueId};

use super::PassStats;

/// Fuses elementwise ops into their producers; returns counts of epilogue steps and chained ops.
pub fn run(graph: &mut Graph) -> PassStats {
    let (mut into_epilogue, mut chained, mut residuals) = (0, 0, 0);
    for _ in 0..graph.nodes.len() + 1 {
        match fuse_one(graph) {
            Some(Fused::Epilogue { residual }) => {
                into_epilogue += 1;
                residuals += usize::from(residual);
            }
            Some(Fused::Chain) => chained += 1,
            None => break,
        }
    }
    PassStats {
        changes: vec![
            ("ops fused into Conv/MatMul epilogues".to_string(), into_epilogue),
            ("of which residual adds".to_string(), residuals),
            ("ops fused into elementwise chains".to_string(), chained),
        ],
    }
}

enum Fused {
    Epilogue { residual: bool },
    Chain,
}

/// The step an elementwise node contributes when its input `acc` comes from a producer, and the operand value.
fn as_step(graph: &Graph, node: usize, acc: ValueId) -> Option<(EpilogueStep, Option<ValueId>)> {
    let n = &graph.nodes[node];
    let out = graph.value(n.outputs[0]);
    if out.dtype != DType::F32 || graph.value(acc).shape != out.shape {
        return None;
    }
    match n.op {
        Op::Unary { fun } => Some((EpilogueStep::Unary { fun }, None)),
        Op::Binary { fun } if !fun.is_predicate() => {
            let [a, b] = n.inputs[..] else { return None };
            if a == b {
                return None;
            }
            let (other, operand_first) = if a == acc { (b, false) } else { (a, true) };
            let commutes = matches!(fun, BinaryFn::Add | BinaryFn::Mul | BinaryFn::Max | BinaryFn::Min);
            let operand_first = operand_first && !commutes;
            if graph.value(other).dtype != DType::F32 {
                return None;
            }
            Some((EpilogueStep::Binary { fun, operand: 0, operand_first }, Some(other)))
        }
        _ => None,
    }
}

fn is_elementwise(op: &Op) -> bool {
    matches!(op, Op::Unary { .. } | Op::Binary { .. } | Op::Elementwise { .. })
}

fn fuse_one(graph: &mut Graph) -> Option<Fused> {
    let producers = graph.producers();
    for c in 0..graph.nodes.len() {
        if !matches!(graph.nodes[c].op, Op::Unary { .. } | Op::Binary { .. }) {
            continue;
        }
        for slot in 0..graph.nodes[c].inputs.len() {
            let acc = graph.nodes[c].inputs[slot];
            let Some(p) = producers[acc.0 as usize] else { continue };
            let p = p.0 as usize;
            if graph.use_count(acc) != 1 || graph.in_view(acc) {
                continue;
            }
            let Some((mut step, operand)) = as_step(graph, c, acc) else { continue };
            // The operand must exist when the producer runs.
            if let Some(o) = operand
                && producers[o.0 as usize].is_some_and(|q| q.0 as usize >= p)
            {
                continue;
            }
            let has_epilogue = graph.nodes[p].op.epilogue().is_some();
            let chain = matches!(graph.nodes[p].op, Op::Unary { .. } | Op::Binary { .. } | Op::Elementwise { .. });
            if !has_epilogue && !chain {
                continue;
            }
            if chain && (graph.value(graph.nodes[p].outputs[0]).dtype != DType::F32 || !to_chain(graph, p)) {
                continue;
            }
            if let (EpilogueStep::Binary { operand: index, .. }, Some(o)) = (&mut step, operand) {
                let inputs = &mut graph.nodes[p].inputs;
                // Input 2 of a Conv/MatMul is its bias unless named by a step: never let an operand land there
                // when the op has no bias, except by naming it (which the step does).
                *index = inputs.len() as u32;
                inputs.push(o);
            }
            let residual = matches!(step, EpilogueStep::Binary { fun: BinaryFn::Add, .. })
                && operand.is_some_and(|o| graph.constant(o).is_none());
            match &mut graph.nodes[p].op {
                Op::Elementwise { steps } => steps.push(step),
                op => op.epilogue_mut()?.push(step),
            }
            graph.nodes[p].outputs[0] = graph.nodes[c].outputs[0];
            graph.nodes.remove(c);
            return Some(if chain { Fused::Chain } else { Fused::Epilogue { residual } });
        }
    }
    None
}

/// Turns a `Unary` or `Binary` node into an `Elementwise` chain of one step (in place); true on success.
fn to_chain(graph: &mut Graph, node: usize) -> bool {
    let n = &graph.nodes[node];
    let steps = match n.op {
        Op::Elementwise { .. } => return true,
        Op::Unary { fun } => vec![EpilogueStep::Unary { fun }],
        Op::Binary { fun } if !fun.is_predicate() && n.inputs.len() == 2 => {
            // acc = input 0 broadcast to the output's shape; Binary(a, b) = fun(acc, b).
            vec![EpilogueStep::Binary { fun, operand: 1, operand_first: false }]
        }
        _ => return false,
    };
    if !is_elementwise(&n.op) || n.inputs.iter().any(|&i| graph.value(i).dtype != DType::F32) {
        return false;
    }
    graph.nodes[node].op = Op::Elementwise { steps };
    true
}

#[cfg(test)]
mod tests {
    use expect_test::{Expect, expect};
    use wdnn_runner_core::Tensor;

    use super::*;
    use crate::passes::testing;

    fn check(before: &str, after: Expect) -> Graph {
        testing::check(run, before, after)
    }

    #[test]
    fn relu_and_residual_add_fuse_into_the_conv() {
        // The skip value `x` becomes the conv's third input, named by the Add step (the conv has no bias).
        check(
            r#"
            graph "t"
            input %x: f32[1,2,2,2]
            const #w: f32[2,2,1,1] = [1.0, 0.0, 0.0, 1.0]
            %conv: f32[1,2,2,2] = Conv{group: 1, strides: [1, 1], dilations: [1, 1], pads: [0, 0, 0, 0]}(%x, #w)
            %s: f32[1,2,2,2] = Binary{fun: Add}(%x, %conv) @add
            %r: f32[1,2,2,2] = Unary{fun: Relu}(%s) @relu
            output "r" = %r
            "#,
            expect![[r#"
                // ops fused into Conv/MatMul epilogues: 2
                // of which residual adds: 1
                // ops fused into elementwise chains: 0
                graph "t"
                input %x: f32[1,2,2,2]
                const #w: f32[2,2,1,1] = [1.0, 0.0, 0.0, 1.0]
                %r: f32[1,2,2,2] = Conv{group: 1, strides: [1, 1], dilations: [1, 1], pads: [0, 0, 0, 0], channels_last: false, epilogue: [Binary{fun: Add, operand: 2, operand_first: false}, Unary{fun: Relu}]}(%x, #w, %x) @conv
                output "r" = %r
            "#]],
        );
    }

    #[test]
    fn relu_whose_input_is_also_an_output_stays() {
        check(
            r#"
            graph "t"
            input %x: f32[1,2,2,2]
            const #w: f32[2,2,1,1] = [1.0, 0.0, 0.0, 1.0]
            %conv: f32[1,2,2,2] = Conv{group: 1, strides: [1, 1], dilations: [1, 1], pads: [0, 0, 0, 0]}(%x, #w)
            %r: f32[1,2,2,2] = Unary{fun: Relu}(%conv) @relu
            output "pre" = %conv
            output "r" = %r
            "#,
            expect![[r#"
                // ops fused into Conv/MatMul epilogues: 0
                // of which residual adds: 0
                // ops fused into elementwise chains: 0
                graph "t"
                input %x: f32[1,2,2,2]
                const #w: f32[2,2,1,1] = [1.0, 0.0, 0.0, 1.0]
                %conv: f32[1,2,2,2] = Conv{group: 1, strides: [1, 1], dilations: [1, 1], pads: [0, 0, 0, 0], channels_last: false, epilogue: []}(%x, #w)
                %r: f32[1,2,2,2] = Unary{fun: Relu}(%conv) @relu
                output "pre" = %conv
                output "r" = %r
            "#]],
        );
    }

    #[test]
    fn standalone_chain_becomes_one_kernel() {
        let g = check(
            r#"
            graph "t"
            input %x: f32[4]
            const #c: f32[4] = [1.0, 2.0, 3.0, 4.0]
            %a: f32[4] = Binary{fun: Sub}(#c, %x) @sub
            %b: f32[4] = Unary{fun: Sigmoid}(%a) @sig
            %y: f32[4] = Binary{fun: Mul}(%b, %x) @mul
            output "y" = %y
            "#,
            expect![[r#"
                // ops fused into Conv/MatMul epilogues: 0
                // of which residual adds: 0
                // ops fused into elementwise chains: 2
                graph "t"
                input %x: f32[4]
                const #c: f32[4] = [1.0, 2.0, 3.0, 4.0]
                %y: f32[4] = Elementwise{steps: [Binary{fun: Sub, operand: 1, operand_first: false}, Unary{fun: Sigmoid}, Binary{fun: Mul, operand: 2, operand_first: false}]}(#c, %x, %x) @sub
                output "y" = %y
            "#]],
        );
        // The chain computes what the three ops did: x · sigmoid(c − x).
        let input = Tensor::new(&[4], &[0.5f32, -1.0, 2.0, 0.0]).unwrap();
        let x = g.inputs[0];
        let refs: Vec<&Tensor> =
            g.nodes[0].inputs.iter().map(|&i| if i == x { &input } else { g.constant(i).unwrap() }).collect();
        let out = wdnn_runner_fallback::eval(&g.nodes[0].op, &refs, &[(DType::F32, vec![4])]).unwrap();
        let expected: Vec<f32> = [0.5f32, -1.0, 2.0, 0.0]
            .iter()
            .zip([1f32, 2.0, 3.0, 4.0])
            .map(|(x, c)| x / (1.0 + (-(c - x)).exp()))
            .collect();
        for (a, e) in out[0].to_vec::<f32>().unwrap().iter().zip(&expected) {
            assert!((a - e).abs() < 1e-6, "{a} vs {e}");
        }
    }
}
