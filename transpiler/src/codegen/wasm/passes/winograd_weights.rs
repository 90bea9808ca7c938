//! `winograd-weights`: a 2-D NHWC convolution for which runner-wasm's algorithm choice
//! (`wdnn_runner_wasm::conv::Algorithm::choose`: 3×3, stride 1, undilated, ungrouped, ≥ 16 channels in and out, a
//! map large enough for the tiles) is Winograd gets its filters transformed into
//! [Winograd panels](wdnn_descriptor_spec::packing::winograd_panels) for `F(4×4, 3×3)` or `F(2×2, 3×3)`, the bias
//! appended.
//!
//! It does not touch other convolutions (`pack-conv-weights` packs them), a convolution whose weights or bias are
//! not constants, nor one whose epilogue runner-wasm cannot fuse. Skipping it leaves these convolutions to
//! `pack-conv-weights`: direct implicit GEMM, 2.25× to 4× more multiplications, and no Winograd rounding.

use wdnn_descriptor_spec::packing::{self, PackedLayout};
use wdnn_runner_wasm::conv::{Algorithm, WinogradTile};

use super::{NR, internal, packable_conv, replace_weights};
use crate::error::ConvertError;
use crate::ir::Graph;
use crate::passes::PassStats;

const PASS: &str = "winograd-weights";

pub(super) fn run(graph: &mut Graph) -> Result<PassStats, ConvertError> {
    let (mut f4, mut f2) = (0, 0);
    for i in 0..graph.nodes.len() {
        let Some(conv) = packable_conv(graph, &graph.nodes[i]) else { continue };
        let Algorithm::Winograd(tile) = Algorithm::choose(&conv.geo) else { continue };
        let (geo, bias) = (&conv.geo, conv.bias.as_deref());
        let packed = packing::winograd_panels(&conv.weights, bias, tile.spec(), geo.in_c, geo.out_c, NR as usize)
            .map_err(|e| internal(PASS, e.to_string()))?;
        let m = tile.spec().m as u32;
        replace_weights(graph, i, packed, PackedLayout::WinogradPanels { m, nr: NR }, conv.shape, PASS)?;
        match tile {
            WinogradTile::F4 => f4 += 1,
            WinogradTile::F2 => f2 += 1,
        }
    }
    let mut stats = PassStats::one("F(4x4,3x3) convolutions", f4);
    stats.changes.extend(PassStats::one("F(2x2,3x3) convolutions", f2).changes);
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::super::testing::conv;
    use super::*;
    use wdnn_descriptor_spec::packing::WINOGRAD_F4;

    #[test]
    fn large_3x3_convolutions_get_winograd_panels() {
        let mut g = conv(16, 16, 24, 3, 1, 1);
        run(&mut g).unwrap();
        let w = g.nodes[0].inputs[1];
        assert_eq!(g.packed_layout(w), Some(PackedLayout::WinogradPanels { m: 4, nr: NR }));
        let want = packing::winograd_panels(
            &super::super::testing::ramp(24 * 16 * 9),
            Some(&super::super::testing::ramp(24)),
            &WINOGRAD_F4,
            16,
            24,
            8,
        )
        .unwrap();
        assert_eq!(g.constant_f32(w).unwrap(), want);
        assert_eq!(g.value(w).name, "w/wasm_winograd4_panels8");
        // The bias stays input 2, already inside the panels.
        assert_eq!(g.nodes[0].inputs.len(), 3);
    }

    #[test]
    fn small_strided_or_thin_convolutions_are_left_alone() {
        for mut g in [conv(16, 16, 24, 3, 2, 1), conv(16, 4, 24, 3, 1, 1), conv(16, 16, 16, 1, 1, 1)] {
            let before = g.clone();
            run(&mut g).unwrap();
            assert_eq!(g, before);
        }
    }
}
