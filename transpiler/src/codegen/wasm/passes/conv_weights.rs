//! `pack-conv-weights`: every other 2-D NHWC f32 convolution with constant weights (and a constant bias, or none)
//! gets them packed for runner-wasm: a depthwise convolution (`groups = C = O`) into
//! [depthwise blocks](wdnn_descriptor_spec::packing::depthwise_blocks) of `CB` channels, any other into
//! [convolution panels](wdnn_descriptor_spec::packing::conv_panels) of `NR` columns, the implicit-GEMM layout that
//! the runner's 1×1, indirect and im2col algorithms all read.
//!
//! Runs after `winograd-weights` and leaves the convolutions it packed alone. It does not pack a convolution with
//! a non-constant weight or bias, or an epilogue runner-wasm cannot fuse; those run on the reference kernels.

use wdnn_descriptor_spec::packing::{self, PackedLayout};

use super::{CB, NR, internal, packable_conv, replace_weights};
use crate::error::ConvertError;
use crate::ir::Graph;
use crate::passes::PassStats;

const PASS: &str = "pack-conv-weights";

pub(super) fn run(graph: &mut Graph) -> Result<PassStats, ConvertError> {
    let (mut panels, mut depthwise) = (0, 0);
    for i in 0..graph.nodes.len() {
        let Some(conv) = packable_conv(graph, &graph.nodes[i]) else { continue };
        let (geo, bias) = (&conv.geo, conv.bias.as_deref());
        let (packed, layout) = if geo.is_depthwise() {
            depthwise += 1;
            let blocks =
                packing::depthwise_blocks(&conv.weights, geo.in_c, geo.kernel[0], geo.kernel[1], bias, CB as usize);
            (blocks, PackedLayout::DepthwiseBlocks { cb: CB })
        } else {
            panels += 1;
            (
                packing::conv_panels(&conv.weights, &geo.weights(), bias, NR as usize),
                PackedLayout::ConvPanels { nr: NR },
            )
        };
        let packed = packed.map_err(|e| internal(PASS, e.to_string()))?;
        replace_weights(graph, i, packed, layout, conv.shape, PASS)?;
    }
    let mut stats = PassStats::one("convolution panels", panels);
    stats.changes.extend(PassStats::one("depthwise blocks", depthwise).changes);
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::super::testing::{conv, ramp};
    use super::*;
    use wdnn_descriptor_spec::packing::ConvWeights;
    use wdnn_descriptor_spec::{DType, Op};

    #[test]
    fn dense_and_grouped_convolutions_get_panels() {
        for (c, groups) in [(16, 1), (16, 4), (3, 1)] {
            let mut g = conv(8, c, 24, 3, 2, groups);
            assert_eq!(run(&mut g).unwrap().total(), 1);
            let w = g.nodes[0].inputs[1];
            assert_eq!(g.packed_layout(w), Some(PackedLayout::ConvPanels { nr: 8 }));
            let shape = ConvWeights {
                out_channels: 24,
                in_channels: c as usize,
                kernel_h: 3,
                kernel_w: 3,
                groups: groups as usize,
            };
            let weights = ramp(24 * (c as usize / groups as usize) * 9);
            let want = packing::conv_panels(&weights, &shape, Some(&ramp(24)), 8).unwrap();
            assert_eq!(g.constant_f32(w).unwrap(), want);
            assert_eq!(g.value(w).shape, vec![want.len() as u64]);
        }
    }

    #[test]
    fn depthwise_convolutions_get_blocks() {
        let mut g = conv(8, 12, 12, 3, 1, 12);
        run(&mut g).unwrap();
        let w = g.nodes[0].inputs[1];
        assert_eq!(g.packed_layout(w), Some(PackedLayout::DepthwiseBlocks { cb: 8 }));
        let want = packing::depthwise_blocks(&ramp(12 * 9), 12, 3, 3, Some(&ramp(12)), 8).unwrap();
        assert_eq!(g.constant_f32(w).unwrap(), want);
    }

    #[test]
    fn packed_nchw_and_non_constant_convolutions_are_left_alone() {
        let mut g = conv(8, 16, 24, 3, 1, 1);
        run(&mut g).unwrap();
        let once = g.clone();
        run(&mut g).unwrap();
        assert_eq!(g, once, "weights are packed once");

        let mut nchw = conv(8, 16, 24, 3, 1, 1);
        if let Op::Conv { channels_last, .. } = &mut nchw.nodes[0].op {
            *channels_last = false;
        }
        let before = nchw.clone();
        run(&mut nchw).unwrap();
        assert_eq!(nchw, before);

        let mut runtime_bias = conv(8, 16, 24, 3, 1, 1);
        let b = runtime_bias.add_value("b2", DType::F32, &[24]);
        runtime_bias.inputs.push(b);
        runtime_bias.nodes[0].inputs[2] = b;
        let before = runtime_bias.clone();
        run(&mut runtime_bias).unwrap();
        assert_eq!(runtime_bias, before);
    }
}
