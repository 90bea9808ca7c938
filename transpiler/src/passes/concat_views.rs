//! Concat without copies: when a `Concat` joins contiguous blocks of its output (every axis before the concat axis
//! has extent 1, as for a channel concat at batch 1), each input becomes a view at its offset inside the output, so
//! its producer writes straight into place and the `Concat` kernel is not emitted.
//!
//! It does not fire when an input is a constant, a model input or output, read by anything else, repeated, already
//! a view, stored with another element type than the output (the `webgpu-f16` descriptor's f32 model outputs), or
//! would start at an offset that is not a multiple of the target's alignment.

use wdnn_descriptor_spec::Op;

use crate::ir::{Graph, View};

use super::PassStats;

/// Turns eligible concat inputs into views; `alignment` is the backend's arena alignment in bytes.
pub fn run(graph: &mut Graph, alignment: u64) -> PassStats {
    let producers = graph.producers();
    let mut elided = 0;
    for i in 0..graph.nodes.len() {
        let Op::Concat { axis } = graph.nodes[i].op else { continue };
        let out = graph.nodes[i].outputs[0];
        let out_shape = graph.value(out).shape.clone();
        if out_shape[..axis as usize].iter().any(|&d| d != 1) || graph.in_view(out) {
            continue;
        }
        let inputs = graph.nodes[i].inputs.clone();
        let mut offsets = Vec::with_capacity(inputs.len());
        let mut offset = 0u64;
        let eligible = inputs.iter().enumerate().all(|(k, &v)| {
            let value = graph.value(v);
            let ok = value.constant.is_none()
                && producers[v.0 as usize].is_some()
                && !graph.is_output(v)
                && graph.use_count(v) == 1
                && !inputs[..k].contains(&v)
                && !graph.in_view(v)
                && value.dtype == graph.value(out).dtype
                && offset.is_multiple_of(alignment);
            offsets.push(offset);
            offset += value.byte_size();
            ok
        });
        if !eligible {
            continue;
        }
        for (&v, &offset) in inputs.iter().zip(&offsets) {
            graph.views.push(View { value: v, base: out, offset });
        }
        elided += 1;
    }
    PassStats::one("concats done in place", elided)
}

/// True when node `i` is a `Concat` whose inputs are all views into its output: nothing to execute.
pub fn is_elided(graph: &Graph, i: usize) -> bool {
    let node = &graph.nodes[i];
    matches!(node.op, Op::Concat { .. })
        && node.inputs.iter().all(|&v| graph.views.iter().any(|w| w.value == v && w.base == node.outputs[0]))
}

#[cfg(test)]
mod tests {
    use expect_test::{Expect, expect};

    use super::*;
    use crate::passes::testing;

    /// Two branches of a channel concat; `shared` also reads `b` elsewhere.
    fn branches(shared: bool) -> String {
        let mut text = String::from(
            r#"
            graph "t"
            input %x: f32[1,4,2,2]
            %a: f32[1,4,2,2] = Unary{fun: Relu}(%x)
            %b: f32[1,4,2,2] = Unary{fun: Exp}(%x)
            %y: f32[1,8,2,2] = Concat{axis: 1}(%a, %b) @cat
            output "y" = %y
            "#,
        );
        if shared {
            text.push_str("%z: f32[1,4,2,2] = Unary{fun: Neg}(%b)\noutput \"z\" = %z\n");
        }
        text
    }

    fn check(alignment: u64, before: &str, after: Expect) -> Graph {
        testing::check(|g| run(g, alignment), before, after)
    }

    #[test]
    fn channel_concat_inputs_become_views() {
        let g = check(
            16,
            &branches(false),
            expect![[r#"
            // concats done in place: 1
            graph "t"
            input %x: f32[1,4,2,2]
            %a: f32[1,4,2,2] = Unary{fun: Relu}(%x)
            %b: f32[1,4,2,2] = Unary{fun: Exp}(%x)
            %y: f32[1,8,2,2] = Concat{axis: 1}(%a, %b) @cat
            output "y" = %y
            view %a in %y at 0
            view %b in %y at 64
        "#]],
        );
        assert!(is_elided(&g, 2));
    }

    #[test]
    fn concat_input_used_elsewhere_is_left_alone() {
        let g = check(
            16,
            &branches(true),
            expect![[r#"
            // concats done in place: 0
            graph "t"
            input %x: f32[1,4,2,2]
            %a: f32[1,4,2,2] = Unary{fun: Relu}(%x)
            %b: f32[1,4,2,2] = Unary{fun: Exp}(%x)
            %y: f32[1,8,2,2] = Concat{axis: 1}(%a, %b) @cat
            %z: f32[1,4,2,2] = Unary{fun: Neg}(%b)
            output "y" = %y
            output "z" = %z
        "#]],
        );
        assert!(!is_elided(&g, 2));
    }

    #[test]
    fn misaligned_slices_are_left_alone() {
        // `b` would start 64 bytes in, not a multiple of 256.
        check(
            256,
            &branches(false),
            expect![[r#"
            // concats done in place: 0
            graph "t"
            input %x: f32[1,4,2,2]
            %a: f32[1,4,2,2] = Unary{fun: Relu}(%x)
            %b: f32[1,4,2,2] = Unary{fun: Exp}(%x)
            %y: f32[1,8,2,2] = Concat{axis: 1}(%a, %b) @cat
            output "y" = %y
        "#]],
        );
    }
}
