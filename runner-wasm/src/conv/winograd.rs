//! Winograd convolution for 3×3, stride-1, ungrouped kernels over NHWC: `F(2×2, 3×3)` (2.25× fewer
//! multiplications than direct) or `F(4×4, 3×3)` (4×), with the filters transformed at pack time
//! ([Winograd panels](wdnn_descriptor_spec::packing::winograd_panels)).
//!
//! The output is cut into `m × m` tiles, taken in blocks sized so that a block's transformed data stays in the L2
//! cache. For each block: the input transform `Bᵀ d B` of every tile, vectorized over 4 channels, writes `α²`
//! matrices `V_ξ` (tiles × C); one GEMM per position `ξ` on the shared micro-kernel gives `M_ξ = V_ξ · U_ξ`
//! (tiles × O); the output transform `Aᵀ M A` of every tile, vectorized over 4 output channels, adds the bias, runs
//! the epilogue and stores the `m × m` pixels that lie inside the output. Work tiles are those blocks.
//!
//! Accuracy: the transforms' coefficients (up to 8 in `Aᵀ` of F4) amplify f32 rounding; the tests check rel. L2
//! against a direct f64 convolution on realistic channel counts for both tile sizes.

use core::ops::Range;

use wdnn_descriptor_spec::packing::{self, WINOGRAD_F2, WINOGRAD_F4, Winograd};

use super::ConvGeometry;
use crate::epilogue::Epilogue;
use crate::gemm::{self, DenseRows, GemmShape, MicroKernel, NR, Output};
use crate::simd::{F32x4, LANES};

/// The output tile size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WinogradTile {
    /// `F(2×2, 3×3)`.
    F2,
    /// `F(4×4, 3×3)`.
    F4,
}

impl WinogradTile {
    /// The algorithm's matrices, as the packing layout defines them.
    pub fn spec(self) -> &'static Winograd {
        match self {
            WinogradTile::F2 => &WINOGRAD_F2,
            WinogradTile::F4 => &WINOGRAD_F4,
        }
    }
}

/// Bytes of transformed tiles (`V` and `M`) a block may span.
const BLOCK_BYTES: usize = 512 * 1024;

/// The most positions (`α²`) of any tile size.
const MAX_POSITIONS: usize = 36;

#[derive(Debug, Clone)]
pub(super) struct Plan {
    tile: WinogradTile,
    out_hw: (usize, usize),
    tiles_hw: (usize, usize),
    /// Tiles per block.
    block: usize,
    /// Row strides of `V` and `M`: channels rounded up to whole vectors.
    c_stride: usize,
    o_stride: usize,
}

impl Plan {
    pub(super) fn new(g: &ConvGeometry, out_hw: (usize, usize), tile: WinogradTile) -> Self {
        let m = tile.spec().m;
        let tiles_hw = (out_hw.0.div_ceil(m), out_hw.1.div_ceil(m));
        let (c_stride, o_stride) = (g.in_c.next_multiple_of(LANES), g.out_c.next_multiple_of(LANES));
        let aa = tile.spec().alpha * tile.spec().alpha;
        let per_tile = aa * (c_stride + o_stride) * 4;
        let block = (BLOCK_BYTES / per_tile).clamp(8, 256).min(tiles_hw.0 * tiles_hw.1);
        Self { tile, out_hw, tiles_hw, block, c_stride, o_stride }
    }

    fn positions(&self) -> usize {
        let a = self.tile.spec().alpha;
        a * a
    }

    pub(super) fn blocks(&self) -> usize {
        (self.tiles_hw.0 * self.tiles_hw.1).div_ceil(self.block)
    }

    pub(super) fn scratch_len(&self) -> usize {
        self.positions() * self.block * (self.c_stride + self.o_stride)
    }

    /// # Safety
    /// Buffers as checked by [`super::Conv2d::run`].
    #[allow(clippy::too_many_arguments)]
    pub(super) unsafe fn run(
        &self,
        g: &ConvGeometry,
        x: &[f32],
        packed: &[f32],
        y: &mut [f32],
        scratch: &mut [f32],
        epilogue: &Epilogue,
        tiles: Range<usize>,
        kernel: MicroKernel,
    ) {
        let blocks = self.blocks();
        let total = self.tiles_hw.0 * self.tiles_hw.1;
        let aa = self.positions();
        let (v, mm) = scratch.split_at_mut(aa * self.block * self.c_stride);
        let panel_set = packing::gemm_panels_len(g.in_c, g.out_c, NR);
        let bias = &packed[aa * panel_set..aa * panel_set + g.out_c];
        for t in tiles {
            let (img, blk) = (t / blocks, t % blocks);
            let first = blk * self.block;
            let count = self.block.min(total - first);
            let image = &x[img * g.in_h * g.in_w * g.in_c..(img + 1) * g.in_h * g.in_w * g.in_c];
            for i in 0..count {
                self.input_tile(g, image, first + i, i, v);
            }
            let shape = GemmShape { m: count, n: g.out_c, k: g.in_c };
            for xi in 0..aa {
                let rows = DenseRows {
                    a: v[xi * self.block * self.c_stride..].as_ptr(),
                    stride: self.c_stride,
                    depth: g.in_c,
                };
                let out = Output {
                    c: mm[xi * self.block * self.o_stride..].as_mut_ptr(),
                    ldc: self.o_stride,
                    row0: 0,
                    col0: 0,
                };
                // SAFETY: V_ξ holds `count` rows of `c_stride`, M_ξ as many of `o_stride`, and panel set ξ lies in
                // `packed` (checked by the caller).
                unsafe {
                    let weights = packed.as_ptr().add(xi * panel_set);
                    gemm::run(shape, kernel, &rows, weights, &out, &Epilogue::NONE, 0..shape.tiles(kernel.mr()));
                }
            }
            for i in 0..count {
                self.output_tile(g, img, first + i, i, mm, bias, y, epilogue);
            }
        }
    }

    /// `Bᵀ d B` of tile `tile` (raster order) into row `row` of every `V_ξ`.
    fn input_tile(&self, g: &ConvGeometry, image: &[f32], tile: usize, row: usize, v: &mut [f32]) {
        let spec = self.tile.spec();
        let (a, m) = (spec.alpha, spec.m);
        let (ty, tx) = (tile / self.tiles_hw.1, tile % self.tiles_hw.1);
        let y0 = (ty * m) as isize - g.pads[0] as isize;
        let x0 = (tx * m) as isize - g.pads[1] as isize;
        let c = g.in_c;
        let mut d = [F32x4::zero(); MAX_POSITIONS];
        for cv in (0..c).step_by(LANES) {
            let lanes = (c - cv).min(LANES);
            for i in 0..a {
                let iy = y0 + i as isize;
                for j in 0..a {
                    let ix = x0 + j as isize;
                    d[i * a + j] = if iy >= 0 && (iy as usize) < g.in_h && ix >= 0 && (ix as usize) < g.in_w {
                        let at = (iy as usize * g.in_w + ix as usize) * c + cv;
                        F32x4::load_partial(&image[at..at + lanes])
                    } else {
                        F32x4::zero()
                    };
                }
            }
            let t = match self.tile {
                WinogradTile::F2 => transform2d(&d, bt_f2, 4, 4),
                WinogradTile::F4 => transform2d(&d, bt_f4, 6, 6),
            };
            for (xi, vec) in t.iter().take(a * a).enumerate() {
                let at = (xi * self.block + row) * self.c_stride + cv;
                vec.store_to(&mut v[at..at + LANES]);
            }
        }
    }

    /// `Aᵀ M A` of tile `tile` from row `row` of every `M_ξ`, plus the bias and the epilogue, into the output.
    #[allow(clippy::too_many_arguments)]
    fn output_tile(
        &self,
        g: &ConvGeometry,
        img: usize,
        tile: usize,
        row: usize,
        mm: &[f32],
        bias: &[f32],
        y: &mut [f32],
        epilogue: &Epilogue,
    ) {
        let spec = self.tile.spec();
        let (a, m) = (spec.alpha, spec.m);
        let (oh, ow) = self.out_hw;
        let (ty, tx) = (tile / self.tiles_hw.1, tile % self.tiles_hw.1);
        let o = g.out_c;
        let clamp = epilogue.clamp();
        let mut p = [F32x4::zero(); MAX_POSITIONS];
        for ov in (0..o).step_by(LANES) {
            let lanes = (o - ov).min(LANES);
            for (xi, slot) in p.iter_mut().enumerate().take(a * a) {
                let at = (xi * self.block + row) * self.o_stride + ov;
                *slot = F32x4::load_from(&mm[at..at + LANES]);
            }
            let r = match self.tile {
                WinogradTile::F2 => transform2d(&p, at_f2, 4, 2),
                WinogradTile::F4 => transform2d(&p, at_f4, 6, 4),
            };
            let b = F32x4::load_partial(&bias[ov..ov + lanes]);
            for i in 0..m {
                let oy = ty * m + i;
                if oy >= oh {
                    break;
                }
                for j in 0..m {
                    let ox = tx * m + j;
                    if ox >= ow {
                        break;
                    }
                    let pixel = (img * oh + oy) * ow + ox;
                    let v = r[i * m + j] + b;
                    let v = match clamp {
                        Some(c) => Epilogue::clamp_vec(v, c),
                        None => v,
                    };
                    let at = pixel * o + ov;
                    v.store_partial(&mut y[at..at + lanes]);
                }
            }
        }
        if clamp.is_none() && !epilogue.is_empty() {
            for oy in ty * m..(ty * m + m).min(oh) {
                for ox in tx * m..(tx * m + m).min(ow) {
                    let pixel = (img * oh + oy) * ow + ox;
                    epilogue.apply_row(&mut y[pixel * o..(pixel + 1) * o], pixel, 0);
                }
            }
        }
    }
}

/// `T · X · Tᵀ` for a 1-D transform `T` (`rows × a`) applied to the columns, then the rows, of `x` (`a × a`).
#[inline(always)]
fn transform2d(
    x: &[F32x4; MAX_POSITIONS],
    t: fn(&[F32x4; 6]) -> [F32x4; 6],
    a: usize,
    rows: usize,
) -> [F32x4; MAX_POSITIONS] {
    // Columns: tmp[i][j] = Σ_k T[i][k] x[k][j].
    let mut tmp = [F32x4::zero(); MAX_POSITIONS];
    for j in 0..a {
        let col: [F32x4; 6] = core::array::from_fn(|k| if k < a { x[k * a + j] } else { F32x4::zero() });
        let r = t(&col);
        for i in 0..rows {
            tmp[i * a + j] = r[i];
        }
    }
    // Rows: out[i][j] = Σ_k tmp[i][k] T[j][k].
    let mut out = [F32x4::zero(); MAX_POSITIONS];
    for i in 0..rows {
        let row: [F32x4; 6] = core::array::from_fn(|k| if k < a { tmp[i * a + k] } else { F32x4::zero() });
        let r = t(&row);
        for j in 0..rows {
            out[i * rows + j] = r[j];
        }
    }
    out
}

/// `Bᵀ` of F(2×2, 3×3) on a column of 4.
#[inline(always)]
fn bt_f2(d: &[F32x4; 6]) -> [F32x4; 6] {
    let z = F32x4::zero();
    [d[0] - d[2], d[1] + d[2], d[2] - d[1], d[1] - d[3], z, z]
}

/// `Aᵀ` of F(2×2, 3×3) on a column of 4.
#[inline(always)]
fn at_f2(m: &[F32x4; 6]) -> [F32x4; 6] {
    let z = F32x4::zero();
    [m[0] + m[1] + m[2], m[1] - m[2] - m[3], z, z, z, z]
}

/// `Bᵀ` of F(4×4, 3×3) on a column of 6.
#[inline(always)]
fn bt_f4(d: &[F32x4; 6]) -> [F32x4; 6] {
    let (two, four, five) = (F32x4::splat(2.0), F32x4::splat(4.0), F32x4::splat(5.0));
    // Shared terms: 4d2 - d4 etc. keep the operation count at XNNPACK/NNPACK's level.
    let t0 = d[4] - four * d[2];
    let t1 = d[3] - four * d[1];
    let t2 = d[4] - d[2];
    let t3 = two * (d[3] - d[1]);
    [four * d[0] - five * d[2] + d[4], t0 + t1, t0 - t1, t2 + t3, t2 - t3, four * d[1] - five * d[3] + d[5]]
}

/// `Aᵀ` of F(4×4, 3×3) on a column of 6.
#[inline(always)]
fn at_f4(m: &[F32x4; 6]) -> [F32x4; 6] {
    let (two, four, eight) = (F32x4::splat(2.0), F32x4::splat(4.0), F32x4::splat(8.0));
    let (s12, d12) = (m[1] + m[2], m[1] - m[2]);
    let (s34, d34) = (m[3] + m[4], m[3] - m[4]);
    let z = F32x4::zero();
    [m[0] + s12 + s34, d12 + two * d34, s12 + four * s34, d12 + eight * d34 + m[5], z, z]
}

#[cfg(test)]
mod tests {
    use super::super::tests::{check, check_inputs};
    use super::super::{Algorithm, WinogradTile};
    use super::*;
    use crate::testing::{ConvCase, Rng};
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn conv3x3(h: usize, w: usize, c: usize, o: usize, pads: [usize; 4]) -> ConvCase {
        ConvCase { h, w, c, o, kh: 3, kw: 3, stride: (1, 1), dilation: (1, 1), pads, groups: 1 }
    }

    /// The hand-written transforms equal the matrices of the packing layout.
    #[test]
    fn transforms_match_the_layout_matrices() {
        type Transform = fn(&[F32x4; 6]) -> [F32x4; 6];
        let cases: [(&Winograd, Transform, Transform); 2] =
            [(&WINOGRAD_F2, bt_f2, at_f2), (&WINOGRAD_F4, bt_f4, at_f4)];
        for (spec, bt, at) in cases {
            let a = spec.alpha;
            for k in 0..a {
                let mut e = [F32x4::zero(); 6];
                e[k] = F32x4::splat(1.0);
                let (b, r) = (bt(&e), at(&e));
                for (i, b) in b.iter().enumerate().take(a) {
                    assert_eq!(b.to_array()[0] as f64, spec.bt[i * a + k], "Bᵀ[{i}][{k}] of F{}", spec.m);
                }
                for (i, r) in r.iter().enumerate().take(spec.m) {
                    assert_eq!(r.to_array()[0] as f64, spec.at[i * a + k], "Aᵀ[{i}][{k}] of F{}", spec.m);
                }
            }
        }
    }

    #[test]
    fn small_shapes_with_partial_tiles_and_channel_tails() {
        let mut rng = Rng::new(31);
        for tile in [WinogradTile::F2, WinogradTile::F4] {
            for (h, w, c, o, pads) in [
                (8, 8, 4, 8, [1; 4]),
                (7, 9, 3, 5, [1; 4]),
                (5, 6, 13, 17, [0, 1, 2, 0]),
                (10, 3, 8, 3, [0; 4]),
                (11, 13, 20, 24, [1, 0, 1, 2]),
            ] {
                for batch in [1, 2] {
                    check(&conv3x3(h, w, c, o, pads), batch, Algorithm::Winograd(tile), 1e-5, &mut rng);
                }
            }
        }
    }

    /// Both tile sizes stay within rel. L2 1e-4 of the f64 direct convolution at ResNet-50 and VGG channel counts.
    #[test]
    fn accurate_at_realistic_channel_counts() {
        let mut rng = Rng::new(32);
        for (h, c) in [(28, 64), (14, 256), (7, 512)] {
            for tile in [WinogradTile::F2, WinogradTile::F4] {
                for positive in [false, true] {
                    check_inputs(&conv3x3(h, h, c, c, [1; 4]), 1, Algorithm::Winograd(tile), 1e-4, &mut rng, positive);
                }
            }
        }
    }
}
