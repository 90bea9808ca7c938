//! Affine merge (WebDNN's ConcatAffine): folds per-channel constant scales and shifts into the weights and bias
//! of the Conv or MatMul next to them. BatchNormalization arrives from the importer as `Mul` + `Add` by per-channel
//! constants (after `canonicalize`, `Sub`/`Div` are spelled that way too), so this is also the BatchNorm fold.
//!
//! - **After**: `Mul(y, s)` / `Add(y, b)` on the output `y` of a Conv (per output channel, axis 1) or a MatMul (per
//!   column, the last axis) with a constant weight: `W ← W·s`, `bias ← bias·s` / `bias ← bias + b`.
//! - **Before**: `Mul(x, s)` per input channel feeding a Conv: `W[o, i] ← W[o, i]·s[i]`; `Add(x, b)` likewise when
//!   the Conv has no padding (padding would see the zeros unshifted): `bias[o] ← bias[o] + Σ W[o, i, k]·b[i]`.
//!
//! It fires only when the intermediate value has a single reader and is not a model output (a BatchNorm whose input
//! also feeds another branch stays), and only on ops without an epilogue yet (it runs before fusion).

use wdnn_descriptor_spec::{BinaryFn, DType, Op};
use wdnn_runner_core::Tensor;

use crate::ir::{Graph, ValueId};

use super::PassStats;

/// Folds affine constants into neighbouring Conv and MatMul weights until none is left.
pub fn run(graph: &mut Graph) -> PassStats {
    let (mut after, mut before) = (0, 0);
    // Each fold removes a node, so this terminates; the bound is a guard against a rewrite loop.
    for _ in 0..graph.nodes.len() + 1 {
        if let Some(()) = fold_one_after(graph) {
            after += 1;
        } else if let Some(()) = fold_one_before(graph) {
            before += 1;
        } else {
            break;
        }
    }
    PassStats {
        changes: vec![
            ("Mul/Add folded into the producer's weights".to_string(), after),
            ("Mul/Add folded into the consumer's weights".to_string(), before),
        ],
    }
}

/// The values of constant `c` per index of `axis` of a tensor shaped `target`, when `c` broadcasts against it
/// varying at most along `axis` and without growing it.
fn per_channel(graph: &Graph, c: ValueId, target: &[u64], axis: usize) -> Option<Vec<f32>> {
    let values = graph.constant_f32(c)?;
    let shape = &graph.value(c).shape;
    if shape.len() > target.len() {
        return None;
    }
    let lead = target.len() - shape.len();
    let channels = target[axis] as usize;
    let mut varies = false;
    for (j, &d) in shape.iter().enumerate() {
        let k = lead + j;
        if d == 1 {
            continue;
        }
        if k != axis || d != target[axis] {
            return None;
        }
        varies = true;
    }
    Some(if varies { values } else { vec![values[0]; channels] })
}

/// Which axis of the op's output is its channel axis, for ops whose weights can absorb a per-channel affine map.
fn output_channel_axis(graph: &Graph, node: usize) -> Option<usize> {
    let n = &graph.nodes[node];
    let rank = graph.value(n.outputs[0]).shape.len();
    match &n.op {
        Op::Conv { epilogue, .. } if epilogue.is_empty() && graph.constant_f32(n.inputs[1]).is_some() => Some(1),
        Op::MatMul { epilogue, .. }
            if epilogue.is_empty() && rank >= 2 && graph.constant_f32(n.inputs[1]).is_some() =>
        {
            Some(rank - 1)
        }
        _ => None,
    }
}

/// Finds a `Mul`/`Add` by a per-channel constant right after a Conv/MatMul and folds it in.
fn fold_one_after(graph: &mut Graph) -> Option<()> {
    let producers = graph.producers();
    for i in 0..graph.nodes.len() {
        let Op::Binary { fun: fun @ (BinaryFn::Mul | BinaryFn::Add) } = graph.nodes[i].op else { continue };
        let [a, b] = graph.nodes[i].inputs[..] else { continue };
        let (y, c) = if graph.constant(b).is_some() { (a, b) } else { (b, a) };
        let Some(p) = producers[y.0 as usize] else { continue };
        let p = p.0 as usize;
        if graph.use_count(y) != 1 || graph.value(y).dtype != DType::F32 {
            continue;
        }
        let Some(axis) = output_channel_axis(graph, p) else { continue };
        let out_shape = graph.value(y).shape.clone();
        if graph.value(graph.nodes[i].outputs[0]).shape != out_shape {
            continue;
        }
        let Some(k) = per_channel(graph, c, &out_shape, axis) else { continue };
        let Some((weight, bias)) = absorb(graph, p, fun, &k) else { continue };
        let name = graph.nodes[p].name.clone();
        let w = graph.add_constant(&format!("{name}.weight"), weight);
        let bias = graph.add_constant(&format!("{name}.bias"), bias);
        let folded_output = graph.nodes[i].outputs[0];
        let node = &mut graph.nodes[p];
        node.inputs.truncate(2);
        node.inputs[1] = w;
        node.inputs.push(bias);
        node.outputs[0] = folded_output;
        graph.nodes.remove(i);
        return Some(());
    }
    None
}

/// The new weight and bias of node `p` after `y ← fun(y, k[channel])`.
fn absorb(graph: &Graph, p: usize, fun: BinaryFn, k: &[f32]) -> Option<(Tensor, Tensor)> {
    let n = &graph.nodes[p];
    let w_shape = graph.value(n.inputs[1]).shape.clone();
    let mut w = graph.constant_f32(n.inputs[1])?;
    let channels = k.len();
    // A Conv bias is `[O]`; a MatMul's `C` broadcasts to the output like any operand.
    let mut bias = match (n.inputs.get(2), &n.op) {
        (Some(&b), Op::Conv { .. }) => graph.constant_f32(b)?,
        (Some(&b), _) => per_channel(graph, b, &graph.value(n.outputs[0]).shape, output_channel_axis(graph, p)?)?,
        (None, _) => vec![0.0; channels],
    };
    if bias.len() != channels {
        return None;
    }
    if fun == BinaryFn::Add {
        bias.iter_mut().zip(k).for_each(|(b, k)| *b += k);
        return Some((Tensor::new(&w_shape, &w).ok()?, Tensor::new(&[channels as u64], &bias).ok()?));
    }
    bias.iter_mut().zip(k).for_each(|(b, k)| *b *= k);
    // Which axis of the weight runs over output channels, and the stride between consecutive channels.
    let (w_axis, rank) = match &n.op {
        Op::Conv { .. } => (0, w_shape.len()),
        Op::MatMul { transpose_b, .. } => {
            let rank = w_shape.len();
            (if *transpose_b { rank - 2 } else { rank - 1 }, rank)
        }
        _ => return None,
    };
    if rank == 0 || w_shape[w_axis] as usize != channels {
        return None;
    }
    let inner: usize = w_shape[w_axis + 1..].iter().product::<u64>() as usize;
    for (i, v) in w.iter_mut().enumerate() {
        *v *= k[(i / inner) % channels];
    }
    Some((Tensor::new(&w_shape, &w).ok()?, Tensor::new(&[channels as u64], &bias).ok()?))
}

/// Finds a `Mul`/`Add` by a per-input-channel constant feeding only a Conv and folds it into the Conv.
fn fold_one_before(graph: &mut Graph) -> Option<()> {
    let producers = graph.producers();
    for c_node in 0..graph.nodes.len() {
        let Op::Conv { group, pads, epilogue, .. } = &graph.nodes[c_node].op else { continue };
        if !epilogue.is_empty() {
            continue;
        }
        let (group, no_padding) = (*group as usize, pads.iter().all(|&p| p == 0));
        let conv_inputs = graph.nodes[c_node].inputs.clone();
        let x = conv_inputs[0];
        let Some(mut w) = graph.constant_f32(conv_inputs[1]) else { continue };
        let Some(p) = producers[x.0 as usize] else { continue };
        let p = p.0 as usize;
        let Op::Binary { fun: fun @ (BinaryFn::Mul | BinaryFn::Add) } = graph.nodes[p].op else { continue };
        if graph.use_count(x) != 1 || (fun == BinaryFn::Add && !no_padding) {
            continue;
        }
        let [a, b] = graph.nodes[p].inputs[..] else { continue };
        let (src, c) = if graph.constant(b).is_some() { (a, b) } else { (b, a) };
        if graph.value(src).shape != graph.value(x).shape || graph.value(src).dtype != DType::F32 {
            continue;
        }
        let Some(k) = per_channel(graph, c, &graph.value(x).shape, 1) else { continue };
        let w_shape = graph.value(conv_inputs[1]).shape.clone();
        let (out_ch, in_per_group) = (w_shape[0] as usize, w_shape[1] as usize);
        let spatial: usize = w_shape[2..].iter().product::<u64>() as usize;
        let out_per_group = out_ch / group.max(1);
        let in_channel = |o: usize, i: usize| (o / out_per_group) * in_per_group + i;
        let name = graph.nodes[c_node].name.clone();
        let mut inputs = vec![src];
        if fun == BinaryFn::Mul {
            for o in 0..out_ch {
                for i in 0..in_per_group {
                    let s = k[in_channel(o, i)];
                    let start = (o * in_per_group + i) * spatial;
                    w[start..start + spatial].iter_mut().for_each(|v| *v *= s);
                }
            }
            inputs.push(graph.add_constant(&format!("{name}.weight"), Tensor::new(&w_shape, &w).ok()?));
            inputs.extend(conv_inputs.get(2));
        } else {
            let mut bias = match conv_inputs.get(2) {
                Some(&b) => graph.constant_f32(b)?,
                None => vec![0.0; out_ch],
            };
            for (o, b) in bias.iter_mut().enumerate() {
                for i in 0..in_per_group {
                    let start = (o * in_per_group + i) * spatial;
                    *b += w[start..start + spatial].iter().sum::<f32>() * k[in_channel(o, i)];
                }
            }
            inputs.push(conv_inputs[1]);
            inputs.push(graph.add_constant(&format!("{name}.bias"), Tensor::new(&[out_ch as u64], &bias).ok()?));
        }
        graph.nodes[c_node].inputs = inputs;
        graph.nodes.remove(p);
        return Some(());
    }
    None
}

#[cfg(test)]
mod tests {
    use expect_test::{Expect, expect};
    use wdnn_runner_fallback::eval;

    use super::*;
    use crate::passes::testing;

    /// x [1,2,3,3] → Conv(3×3, pad 1, 2→2) → Mul(s) → Add(b): the two constants fold into the conv (unless
    /// `shared`, where the conv's output is also a model output).
    fn conv_bn(shared: bool) -> String {
        let mut text = String::from(
            r#"
            graph "t"
            input %x: f32[1,2,3,3]
            const #w: f32[2,2,3,3] = [
                0.0, 0.36, 0.68, 0.89, 1.0, 0.96, 0.8, 0.53, 0.2,
                -0.16, -0.5, -0.78, -0.95, -1.0, -0.91, -0.7, -0.4, -0.04,
                0.32, 0.64, 0.87, 0.99, 0.97, 0.83, 0.57, 0.24, -0.12,
                -0.46, -0.75, -0.94, -1.0, -0.93, -0.73, -0.44, -0.08, 0.28]
            const #s: f32[2,1,1] = [1.5, -0.5]
            const #b: f32[2,1,1] = [0.25, 2.0]
            %y: f32[1,2,3,3] = Conv{group: 1, strides: [1, 1], dilations: [1, 1], pads: [1, 1, 1, 1]}(%x, #w) @conv
            %m: f32[1,2,3,3] = Binary{fun: Mul}(%y, #s) @mul
            %z: f32[1,2,3,3] = Binary{fun: Add}(%m, #b) @add
            output "z" = %z
            "#,
        );
        if shared {
            text.push_str("output \"y\" = %y\n");
        }
        text
    }

    /// Runs `g` on `input` with the reference kernels; returns its first output.
    fn run_graph(g: &Graph, input: &Tensor) -> Vec<f32> {
        let mut values: std::collections::HashMap<ValueId, Tensor> = std::collections::HashMap::new();
        values.insert(g.inputs[0], input.clone());
        for n in &g.nodes {
            let ins: Vec<Tensor> =
                n.inputs.iter().map(|i| values.get(i).cloned().or_else(|| g.constant(*i).cloned()).unwrap()).collect();
            let refs: Vec<&Tensor> = ins.iter().collect();
            let specs: Vec<_> = n.outputs.iter().map(|o| (g.value(*o).dtype, g.value(*o).shape.clone())).collect();
            for (o, t) in n.outputs.iter().zip(eval(&n.op, &refs, &specs).unwrap()) {
                values.insert(*o, t);
            }
        }
        values[&g.outputs[0].1].to_vec::<f32>().unwrap()
    }

    /// `check`, then the same numbers from the graph before and after on `input`.
    fn check_numbers(before: &str, after: Expect, input: &Tensor) {
        let expected = run_graph(&testing::graph(before), input);
        let g = testing::check(run, before, after);
        for (a, b) in expected.iter().zip(&run_graph(&g, input)) {
            assert!((a - b).abs() < 1e-5, "{a} vs {b}");
        }
    }

    #[test]
    fn batchnorm_after_conv_folds_and_keeps_the_numbers() {
        let input = Tensor::new(&[1, 2, 3, 3], &(0..18).map(|i| i as f32 / 7.0 - 1.0).collect::<Vec<_>>()).unwrap();
        check_numbers(
            &conv_bn(false),
            expect![[r#"
            // Mul/Add folded into the producer's weights: 2
            // Mul/Add folded into the consumer's weights: 0
            graph "t"
            input %x: f32[1,2,3,3]
            const #conv.weight: f32[2,2,3,3] = <36 values, sha256 e928d16bc3ff0dc7>
            const #conv.bias: f32[2] = [0.25, 2.0]
            %z: f32[1,2,3,3] = Conv{group: 1, strides: [1, 1], dilations: [1, 1], pads: [1, 1, 1, 1], channels_last: false, epilogue: []}(%x, #conv.weight, #conv.bias) @conv
            output "z" = %z
        "#]],
            &input,
        );
    }

    #[test]
    fn does_not_fold_when_the_conv_output_is_also_read_elsewhere() {
        testing::check(
            run,
            &conv_bn(true),
            expect![[r#"
            // Mul/Add folded into the producer's weights: 0
            // Mul/Add folded into the consumer's weights: 0
            graph "t"
            input %x: f32[1,2,3,3]
            const #w: f32[2,2,3,3] = <36 values, sha256 ccdae4bd4b768e54>
            const #s: f32[2,1,1] = [1.5, -0.5]
            const #b: f32[2,1,1] = [0.25, 2.0]
            %y: f32[1,2,3,3] = Conv{group: 1, strides: [1, 1], dilations: [1, 1], pads: [1, 1, 1, 1], channels_last: false, epilogue: []}(%x, #w) @conv
            %m: f32[1,2,3,3] = Binary{fun: Mul}(%y, #s) @mul
            %z: f32[1,2,3,3] = Binary{fun: Add}(%m, #b) @add
            output "z" = %z
            output "y" = %y
        "#]],
        );
    }

    #[test]
    fn scale_before_a_conv_folds_into_its_input_channels() {
        let input = Tensor::new(&[1, 2, 2, 2], &[1f32, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]).unwrap();
        check_numbers(
            r#"
            graph "t"
            input %x: f32[1,2,2,2]
            const #s: f32[1,2,1,1] = [2.0, 3.0]
            const #w: f32[1,2,1,1] = [1.0, 1.0]
            %m: f32[1,2,2,2] = Binary{fun: Mul}(%x, #s) @mul
            %y: f32[1,1,2,2] = Conv{group: 1, strides: [1, 1], dilations: [1, 1], pads: [0, 0, 0, 0]}(%m, #w) @conv
            output "y" = %y
            "#,
            expect![[r#"
                // Mul/Add folded into the producer's weights: 0
                // Mul/Add folded into the consumer's weights: 1
                graph "t"
                input %x: f32[1,2,2,2]
                const #conv.weight: f32[1,2,1,1] = [2.0, 3.0]
                %y: f32[1,1,2,2] = Conv{group: 1, strides: [1, 1], dilations: [1, 1], pads: [0, 0, 0, 0], channels_last: false, epilogue: []}(%x, #conv.weight) @conv
                output "y" = %y
            "#]],
            &input,
        );
    }

    #[test]
    fn shift_before_a_padded_conv_does_not_fold() {
        // Padding would see the shifted zeros unshifted.
        testing::check(
            run,
            r#"
            graph "t"
            input %x: f32[1,2,2,2]
            const #b: f32[1,2,1,1] = [2.0, 3.0]
            const #w: f32[1,2,1,1] = [1.0, 1.0]
            %m: f32[1,2,2,2] = Binary{fun: Add}(%x, #b) @add
            %y: f32[1,1,4,4] = Conv{group: 1, strides: [1, 1], dilations: [1, 1], pads: [1, 1, 1, 1]}(%m, #w) @conv
            output "y" = %y
            "#,
            expect![[r#"
                // Mul/Add folded into the producer's weights: 0
                // Mul/Add folded into the consumer's weights: 0
                graph "t"
                input %x: f32[1,2,2,2]
                const #b: f32[1,2,1,1] = [2.0, 3.0]
                const #w: f32[1,2,1,1] = [1.0, 1.0]
                %m: f32[1,2,2,2] = Binary{fun: Add}(%x, #b) @add
                %y: f32[1,1,4,4] = Conv{group: 1, strides: [1, 1], dilations: [1, 1], pads: [1, 1, 1, 1], channels_last: false, epilogue: []}(%m, #w) @conv
                output "y" = %y
            "#]],
        );
    }
}
