//! 2-D convolution over NHWC activations, by one of four algorithms chosen per convolution at load time.
//!
//! - [`Algorithm::Gemm`]: a 1×1, stride-1, unpadded convolution *is* a GEMM over the NHWC rows (all images at
//!   once), one per group.
//! - [`Algorithm::Indirect`]: implicit GEMM for everything else. An indirection table lists, for every output pixel
//!   and kernel position, where its input pixel starts (or that it lies in the padding, which reads a zero row), so
//!   the GEMM micro-kernel reads the input in place: no im2col copy, any padding, stride, dilation and group count.
//! - [`Algorithm::Im2col`]: implicit GEMM for few input channels (a network's first layer): each row tile's windows
//!   are first copied into one contiguous block, so the micro-kernel streams `KH·KW·C/G` values per row instead of
//!   restarting every `C/G` values.
//! - [`Algorithm::Depthwise`]: `groups = C = O`, a per-channel stencil ([`depthwise`]).
//! - [`Algorithm::Winograd`]: 3×3, stride 1, ungrouped: `F(2×2, 3×3)` or `F(4×4, 3×3)` ([`winograd`]).
//!
//! Weights come packed in the layout of the algorithm (`wdnn_descriptor_spec::packing`); [`Conv2d::pack`] makes
//! it from ONNX `[O, C/G, KH, KW]` weights. Every run takes a range of work tiles ([`Conv2d::tiles`]) and a
//! caller-owned scratch buffer ([`Conv2d::scratch_len`]), so a thread pool can split one convolution.

pub mod depthwise;
pub mod winograd;

use core::ops::Range;

use wdnn_descriptor_spec::packing::{self, ConvWeights, PackingError};

use crate::epilogue::Epilogue;
use crate::gemm::{self, DenseRows, GemmShape, MicroKernel, NR, Output, Rows};

pub use winograd::WinogradTile;

/// A convolution's shape: batch and input extents, output channels, kernel, strides, dilations, pads and groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvGeometry {
    /// Images.
    pub batch: usize,
    /// Input height.
    pub in_h: usize,
    /// Input width.
    pub in_w: usize,
    /// Input channels `C`.
    pub in_c: usize,
    /// Output channels `O`.
    pub out_c: usize,
    /// Kernel height and width.
    pub kernel: [usize; 2],
    /// Vertical and horizontal stride.
    pub stride: [usize; 2],
    /// Vertical and horizontal dilation.
    pub dilation: [usize; 2],
    /// Padding: top, left, bottom, right (ONNX order: begins, then ends).
    pub pads: [usize; 4],
    /// Groups, dividing `C` and `O`.
    pub groups: usize,
}

/// A convolution that cannot run as asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConvError {
    /// The geometry is inconsistent.
    #[error("convolution {geometry}: {reason}")]
    Geometry {
        /// The geometry, printed.
        geometry: String,
        /// What is wrong.
        reason: String,
    },
    /// A buffer is shorter than the geometry needs.
    #[error("convolution: {what} has {found} values, needs {needed}")]
    Length {
        /// Which buffer.
        what: &'static str,
        /// Values needed.
        needed: usize,
        /// Values given.
        found: usize,
    },
    /// The weights do not pack as the geometry says.
    #[error(transparent)]
    Packing(#[from] PackingError),
}

impl core::fmt::Display for ConvGeometry {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "{}×{}×{}×{} → {} (kernel {:?}, stride {:?}, dilation {:?}, pads {:?}, groups {})",
            self.batch,
            self.in_h,
            self.in_w,
            self.in_c,
            self.out_c,
            self.kernel,
            self.stride,
            self.dilation,
            self.pads,
            self.groups
        )
    }
}

impl ConvGeometry {
    fn error(&self, reason: impl Into<String>) -> ConvError {
        ConvError::Geometry { geometry: self.to_string(), reason: reason.into() }
    }

    /// Checks the geometry and returns the output height and width.
    pub fn output_hw(&self) -> Result<(usize, usize), ConvError> {
        let positive = [self.batch, self.in_h, self.in_w, self.in_c, self.out_c, self.groups];
        if positive.contains(&0) || self.kernel.contains(&0) || self.stride.contains(&0) || self.dilation.contains(&0) {
            return Err(self.error("extents, kernel, strides, dilations and groups must be positive"));
        }
        if !self.in_c.is_multiple_of(self.groups) || !self.out_c.is_multiple_of(self.groups) {
            return Err(self.error("groups must divide the input and output channels"));
        }
        let axis = |i: usize, input: usize| {
            let span = (self.kernel[i] - 1) * self.dilation[i] + 1;
            let padded = input + self.pads[i] + self.pads[i + 2];
            (padded >= span).then(|| (padded - span) / self.stride[i] + 1)
        };
        match (axis(0, self.in_h), axis(1, self.in_w)) {
            (Some(h), Some(w)) => Ok((h, w)),
            _ => Err(self.error("the kernel is larger than the padded input")),
        }
    }

    /// Whether this is a depthwise convolution (`groups = C = O`).
    pub fn is_depthwise(&self) -> bool {
        self.groups == self.in_c && self.groups == self.out_c
    }

    /// Whether this is a plain GEMM: 1×1, stride 1, unpadded.
    pub fn is_pointwise(&self) -> bool {
        self.kernel == [1, 1] && self.stride == [1, 1] && self.pads == [0; 4]
    }

    /// Whether Winograd applies: 3×3, stride 1, dilation 1, ungrouped.
    pub fn winograd_applies(&self) -> bool {
        self.kernel == [3, 3] && self.stride == [1, 1] && self.dilation == [1, 1] && self.groups == 1
    }

    /// The weights' shape, for packing.
    pub fn weights(&self) -> ConvWeights {
        ConvWeights {
            out_channels: self.out_c,
            in_channels: self.in_c,
            kernel_h: self.kernel[0],
            kernel_w: self.kernel[1],
            groups: self.groups,
        }
    }
}

/// How a convolution is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// 1×1, stride 1, unpadded: a GEMM over the NHWC rows.
    Gemm,
    /// Implicit GEMM through an indirection table.
    Indirect,
    /// Implicit GEMM over per-tile im2col blocks (few input channels).
    Im2col,
    /// The depthwise stencil.
    Depthwise,
    /// Winograd minimal filtering.
    Winograd(WinogradTile),
}

impl Algorithm {
    /// The algorithm the benchmarks found fastest for `geo` (see `bench/kernels.mjs`), among those that keep the
    /// result within rel. L2 1e-4 of a direct f64 convolution.
    pub fn choose(geo: &ConvGeometry) -> Algorithm {
        let Ok((oh, ow)) = geo.output_hw() else { return Algorithm::Indirect };
        if geo.is_depthwise() {
            Algorithm::Depthwise
        } else if geo.is_pointwise() {
            Algorithm::Gemm
        } else if geo.in_c / geo.groups < 8 {
            Algorithm::Im2col
        } else if geo.winograd_applies() && geo.in_c >= 16 && geo.out_c >= 16 {
            // A transformed filter is reused once per tile and is 4× (F4) or 1.8× (F2) the direct filter's size:
            // on small maps the weights stream from memory, so the smaller transform wins there.
            if oh.div_ceil(4) * ow.div_ceil(4) >= 16 {
                Algorithm::Winograd(WinogradTile::F4)
            } else if oh.div_ceil(2) * ow.div_ceil(2) >= 16 {
                Algorithm::Winograd(WinogradTile::F2)
            } else {
                Algorithm::Indirect
            }
        } else {
            Algorithm::Indirect
        }
    }
}

/// Marks a padding position in the indirection table.
const PAD: u32 = u32::MAX;

/// A convolution ready to run: geometry, algorithm and the tables built from them.
#[derive(Debug, Clone)]
pub struct Conv2d {
    geo: ConvGeometry,
    out_hw: (usize, usize),
    algorithm: Algorithm,
    kernel: MicroKernel,
    /// `Indirect`: per output pixel and kernel position, the input offset of its pixel (or [`PAD`]).
    indirection: Vec<u32>,
    /// `Indirect`: the row a padding position reads (one group's channels of zeros).
    zeros: Vec<f32>,
    /// `Winograd`: its plan.
    winograd: Option<winograd::Plan>,
}

/// Where an `Indirect` GEMM's rows start.
struct IndirectRows {
    base: *const f32,
    table: *const u32,
    taps: usize,
    depth: usize,
    zeros: *const f32,
}

impl Rows for IndirectRows {
    fn taps(&self) -> usize {
        self.taps
    }

    fn depth(&self) -> usize {
        self.depth
    }

    #[inline(always)]
    unsafe fn pointers<const R: usize>(&self, m0: usize, rows: usize, t: usize) -> [*const f32; R] {
        core::array::from_fn(|r| {
            // SAFETY: the table has `taps` entries per output pixel, and every offset lies in the image.
            unsafe {
                let off = *self.table.add((m0 + r.min(rows - 1)) * self.taps + t);
                if off == PAD { self.zeros } else { self.base.add(off as usize) }
            }
        })
    }
}

impl Conv2d {
    /// Plans `geo` with the [chosen](Algorithm::choose) algorithm.
    pub fn new(geo: ConvGeometry) -> Result<Self, ConvError> {
        Self::with_algorithm(geo, Algorithm::choose(&geo))
    }

    /// Plans `geo` with `algorithm`, if it applies.
    pub fn with_algorithm(geo: ConvGeometry, algorithm: Algorithm) -> Result<Self, ConvError> {
        let out_hw = geo.output_hw()?;
        let mut plan = Self {
            geo,
            out_hw,
            algorithm,
            kernel: MicroKernel::DEFAULT,
            indirection: Vec::new(),
            zeros: Vec::new(),
            winograd: None,
        };
        match algorithm {
            Algorithm::Gemm if !geo.is_pointwise() => {
                return Err(geo.error("the GEMM algorithm needs a 1×1, stride-1, unpadded kernel"));
            }
            Algorithm::Depthwise if !geo.is_depthwise() => return Err(geo.error("not a depthwise convolution")),
            Algorithm::Winograd(_) if !geo.winograd_applies() => {
                return Err(geo.error("Winograd needs a 3×3, stride-1, undilated, ungrouped kernel"));
            }
            Algorithm::Winograd(tile) => plan.winograd = Some(winograd::Plan::new(&geo, out_hw, tile)),
            Algorithm::Indirect | Algorithm::Im2col => plan.build_indirection()?,
            Algorithm::Gemm | Algorithm::Depthwise => {}
        }
        Ok(plan)
    }

    /// Uses another micro-kernel variant (benchmarks).
    pub fn with_micro_kernel(mut self, kernel: MicroKernel) -> Self {
        self.kernel = kernel;
        self
    }

    fn build_indirection(&mut self) -> Result<(), ConvError> {
        let g = &self.geo;
        let (oh, ow) = self.out_hw;
        if g.in_h * g.in_w * g.in_c >= PAD as usize {
            return Err(g.error("the image is too large for 32-bit offsets"));
        }
        let (kh, kw) = (g.kernel[0], g.kernel[1]);
        self.indirection = Vec::with_capacity(oh * ow * kh * kw);
        for oy in 0..oh {
            for ox in 0..ow {
                for ky in 0..kh {
                    for kx in 0..kw {
                        let iy = (oy * g.stride[0] + ky * g.dilation[0]).checked_sub(g.pads[0]).filter(|&y| y < g.in_h);
                        let ix = (ox * g.stride[1] + kx * g.dilation[1]).checked_sub(g.pads[1]).filter(|&x| x < g.in_w);
                        self.indirection.push(match (iy, ix) {
                            (Some(y), Some(x)) => ((y * g.in_w + x) * g.in_c) as u32,
                            _ => PAD,
                        });
                    }
                }
            }
        }
        self.zeros = vec![0.0; g.in_c / g.groups];
        Ok(())
    }

    /// The geometry.
    pub fn geometry(&self) -> &ConvGeometry {
        &self.geo
    }

    /// The algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// Output height and width.
    pub fn output_hw(&self) -> (usize, usize) {
        self.out_hw
    }

    /// Multiply-adds of the convolution as defined (not as computed: Winograd does fewer).
    pub fn macs(&self) -> usize {
        let g = &self.geo;
        g.batch * self.out_hw.0 * self.out_hw.1 * g.out_c * (g.in_c / g.groups) * g.kernel[0] * g.kernel[1]
    }

    /// Packs ONNX weights `[O, C/G, KH, KW]` and an optional bias `[O]` for this algorithm.
    pub fn pack(&self, weights: &[f32], bias: Option<&[f32]>) -> Result<Vec<f32>, ConvError> {
        let g = &self.geo;
        Ok(match self.algorithm {
            Algorithm::Gemm | Algorithm::Indirect | Algorithm::Im2col => {
                packing::conv_panels(weights, &g.weights(), bias, NR)?
            }
            Algorithm::Depthwise => {
                packing::depthwise_blocks(weights, g.in_c, g.kernel[0], g.kernel[1], bias, depthwise::CB)?
            }
            Algorithm::Winograd(tile) => packing::winograd_panels(weights, bias, tile.spec(), g.in_c, g.out_c, NR)?,
        })
    }

    /// Values of packed weights [`Conv2d::run`] reads.
    pub fn packed_len(&self) -> usize {
        let g = &self.geo;
        match self.algorithm {
            Algorithm::Gemm | Algorithm::Indirect | Algorithm::Im2col => packing::conv_panels_len(&g.weights(), NR),
            Algorithm::Depthwise => packing::depthwise_blocks_len(g.in_c, g.kernel[0] * g.kernel[1], depthwise::CB),
            Algorithm::Winograd(tile) => packing::winograd_panels_len(tile.spec(), g.in_c, g.out_c, NR),
        }
    }

    /// Values of scratch memory one [`Conv2d::run`] call needs (Winograd's transformed tiles).
    pub fn scratch_len(&self) -> usize {
        match self.algorithm {
            Algorithm::Im2col => self.kernel.mr() * self.group_gemm().k,
            _ => self.winograd.as_ref().map_or(0, |w| w.scratch_len()),
        }
    }

    fn group_gemm(&self) -> GemmShape {
        let g = &self.geo;
        let (oh, ow) = self.out_hw;
        let cg = g.in_c / g.groups;
        match self.algorithm {
            Algorithm::Gemm => GemmShape { m: g.batch * oh * ow, n: g.out_c / g.groups, k: cg },
            _ => GemmShape { m: oh * ow, n: g.out_c / g.groups, k: cg * g.kernel[0] * g.kernel[1] },
        }
    }

    /// Work items: [`Conv2d::run`] computes any sub-range of `0..tiles()`.
    pub fn tiles(&self) -> usize {
        let g = &self.geo;
        match self.algorithm {
            Algorithm::Gemm => g.groups * self.group_gemm().tiles(self.kernel.mr()),
            Algorithm::Indirect => g.batch * g.groups * self.group_gemm().tiles(self.kernel.mr()),
            Algorithm::Im2col => g.batch * g.groups * self.group_gemm().m.div_ceil(self.kernel.mr()),
            Algorithm::Depthwise => g.batch * self.out_hw.0,
            Algorithm::Winograd(_) => g.batch * self.winograd.as_ref().map_or(0, |w| w.blocks()),
        }
    }

    /// Computes the output tiles in `tiles`: `y` (NHWC, `batch × OH × OW × O`) from `x` (NHWC) and the packed
    /// weights, with `epilogue` (built for an `[batch·OH·OW, O]` output) fused into the store.
    pub fn run(
        &self,
        x: &[f32],
        packed: &[f32],
        y: &mut [f32],
        scratch: &mut [f32],
        epilogue: &Epilogue,
        tiles: Range<usize>,
    ) -> Result<(), ConvError> {
        let g = &self.geo;
        let (oh, ow) = self.out_hw;
        let checks = [
            ("input", g.batch * g.in_h * g.in_w * g.in_c, x.len()),
            ("packed weights", self.packed_len(), packed.len()),
            ("output", g.batch * oh * ow * g.out_c, y.len()),
            ("scratch", self.scratch_len(), scratch.len()),
        ];
        for (what, needed, found) in checks {
            if found < needed {
                return Err(ConvError::Length { what, needed, found });
            }
        }
        let tiles = tiles.start.min(self.tiles())..tiles.end.min(self.tiles());
        // SAFETY: every buffer was checked against the geometry above.
        unsafe {
            match self.algorithm {
                Algorithm::Gemm | Algorithm::Indirect => self.run_gemm(x, packed, y, epilogue, tiles),
                Algorithm::Im2col => self.run_im2col(x, packed, y, scratch, epilogue, tiles),
                Algorithm::Depthwise => depthwise::run(g, self.out_hw, x, packed, y, epilogue, tiles),
                Algorithm::Winograd(_) => {
                    let plan = self.winograd.as_ref().ok_or_else(|| g.error("Winograd plan missing"))?;
                    plan.run(g, x, packed, y, scratch, epilogue, tiles, self.kernel)
                }
            }
        }
        Ok(())
    }

    /// # Safety
    /// Buffers checked by [`Conv2d::run`].
    unsafe fn run_im2col(
        &self,
        x: &[f32],
        packed: &[f32],
        y: &mut [f32],
        scratch: &mut [f32],
        epilogue: &Epilogue,
        tiles: Range<usize>,
    ) {
        let g = &self.geo;
        let (oh, ow) = self.out_hw;
        let shape = self.group_gemm();
        let (mr, k, taps) = (self.kernel.mr(), shape.k, g.kernel[0] * g.kernel[1]);
        let row_tiles = shape.m.div_ceil(mr);
        let group_packed = shape.packed_len();
        let (cg, og) = (g.in_c / g.groups, g.out_c / g.groups);
        for t in tiles {
            let (img, rest) = (t / (g.groups * row_tiles), t % (g.groups * row_tiles));
            let (grp, mt) = (rest / row_tiles, rest % row_tiles);
            let m0 = mt * mr;
            let rows = (shape.m - m0).min(mr);
            let image = &x[img * g.in_h * g.in_w * g.in_c..(img + 1) * g.in_h * g.in_w * g.in_c];
            let kw = g.kernel[1];
            for r in 0..rows {
                let windows = &self.indirection[(m0 + r) * taps..(m0 + r + 1) * taps];
                for (ky, row) in windows.chunks_exact(kw).enumerate() {
                    let dst = &mut scratch[r * k + ky * kw * cg..r * k + (ky + 1) * kw * cg];
                    // Ungrouped, undilated and inside the image: the window's row is one run of the input.
                    let run = g.groups == 1
                        && row[0] != PAD
                        && row.iter().enumerate().all(|(kx, &o)| o == row[0] + (kx * cg) as u32);
                    if run {
                        let at = row[0] as usize;
                        dst.copy_from_slice(&image[at..at + kw * cg]);
                        continue;
                    }
                    for (kx, &off) in row.iter().enumerate() {
                        let d = &mut dst[kx * cg..(kx + 1) * cg];
                        if off == PAD {
                            d.fill(0.0);
                        } else {
                            let at = off as usize + grp * cg;
                            d.copy_from_slice(&image[at..at + cg]);
                        }
                    }
                }
            }
            let tile = GemmShape { m: rows, ..shape };
            let pixels = img * oh * ow + m0;
            let out = Output { c: y[pixels * g.out_c..].as_mut_ptr(), ldc: g.out_c, row0: pixels, col0: grp * og };
            let block = DenseRows { a: scratch.as_ptr(), stride: k, depth: k };
            // SAFETY: the block holds `rows` rows of `k` values; the output rows and group columns lie in `y`.
            unsafe {
                let weights = packed[grp * group_packed..].as_ptr();
                gemm::run(tile, self.kernel, &block, weights, &out, epilogue, 0..tile.tiles(mr));
            }
        }
    }

    /// # Safety
    /// Buffers checked by [`Conv2d::run`].
    unsafe fn run_gemm(&self, x: &[f32], packed: &[f32], y: &mut [f32], epilogue: &Epilogue, tiles: Range<usize>) {
        let g = &self.geo;
        let (oh, ow) = self.out_hw;
        let shape = self.group_gemm();
        let per_group = shape.tiles(self.kernel.mr());
        let group_packed = shape.packed_len();
        let (cg, og) = (g.in_c / g.groups, g.out_c / g.groups);
        let images = if self.algorithm == Algorithm::Gemm { 1 } else { g.batch };
        let mut t = tiles.start;
        while t < tiles.end {
            let (img, rest) = (t / (g.groups * per_group), t % (g.groups * per_group));
            let (grp, local) = (rest / per_group, rest % per_group);
            let end = (t - local + per_group).min(tiles.end);
            let part = local..local + (end - t);
            debug_assert!(img < images);
            let pixels = img * oh * ow;
            let out = Output { c: y[pixels * g.out_c..].as_mut_ptr(), ldc: g.out_c, row0: pixels, col0: grp * og };
            let weights = packed[grp * group_packed..].as_ptr();
            // SAFETY: the caller checked the buffers; image `img` and group `grp` lie inside them.
            unsafe {
                if self.algorithm == Algorithm::Gemm {
                    let rows = DenseRows { a: x[grp * cg..].as_ptr(), stride: g.in_c, depth: cg };
                    gemm::run(shape, self.kernel, &rows, weights, &out, epilogue, part);
                } else {
                    let image = &x[img * g.in_h * g.in_w * g.in_c..];
                    let rows = IndirectRows {
                        base: image[grp * cg..].as_ptr(),
                        table: self.indirection.as_ptr(),
                        taps: g.kernel[0] * g.kernel[1],
                        depth: cg,
                        zeros: self.zeros.as_ptr(),
                    };
                    gemm::run(shape, self.kernel, &rows, weights, &out, epilogue, part);
                }
            }
            t = end;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::epilogue::{Operand, Step, VectorBinary, VectorUnary};
    use crate::testing::{ConvCase, Rng, assert_close};
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;
    use wdnn_descriptor_spec::{BinaryFn, UnaryFn};

    pub(crate) fn geometry(c: &ConvCase, batch: usize) -> ConvGeometry {
        ConvGeometry {
            batch,
            in_h: c.h,
            in_w: c.w,
            in_c: c.c,
            out_c: c.o,
            kernel: [c.kh, c.kw],
            stride: [c.stride.0, c.stride.1],
            dilation: [c.dilation.0, c.dilation.1],
            pads: c.pads,
            groups: c.groups,
        }
    }

    /// Runs `case` with `algorithm` on a random input of `batch` images, in two tile ranges, and compares with the
    /// f64 reference plus the epilogue `relu(acc) + residual`.
    pub(crate) fn check(case: &ConvCase, batch: usize, algorithm: Algorithm, tol: f64, rng: &mut Rng) {
        check_inputs(case, batch, algorithm, tol, rng, false);
    }

    /// [`check`], optionally with inputs in [0, 2) (post-ReLU activations: a large mean, which the Winograd
    /// transforms must not amplify).
    pub(crate) fn check_inputs(
        case: &ConvCase,
        batch: usize,
        algorithm: Algorithm,
        tol: f64,
        rng: &mut Rng,
        positive: bool,
    ) {
        let geo = geometry(case, batch);
        let conv = Conv2d::with_algorithm(geo, algorithm).unwrap();
        let (oh, ow) = conv.output_hw();
        assert_eq!((oh, ow), case.out_hw());
        let image = case.h * case.w * case.c;
        let mut x = rng.values(batch * image);
        if positive {
            x.iter_mut().for_each(|v| *v += 1.0);
        }
        let w = rng.values(case.o * case.c / case.groups * case.kh * case.kw);
        let bias = rng.values(case.o);
        let out_len = batch * oh * ow * case.o;
        let residual = rng.values(out_len);
        let packed = conv.pack(&w, Some(&bias)).unwrap();
        assert_eq!(packed.len(), conv.packed_len());
        let mut reference = Vec::with_capacity(out_len);
        for b in 0..batch {
            reference.extend(case.reference(&x[b * image..(b + 1) * image], &w, Some(&bias)));
        }
        // The general path (ReLU then a residual add, after the store) and the in-register clamp (ReLU6).
        let relu = Step::Unary(VectorUnary::new(UnaryFn::Relu).unwrap());
        let add = Step::Binary {
            fun: VectorBinary::new(BinaryFn::Add).unwrap(),
            operand: Operand::Full { data: &residual, row_stride: case.o },
            operand_first: false,
        };
        let relu6 = Step::Unary(VectorUnary::new(UnaryFn::Clip { min: 0.0, max: 6.0 }).unwrap());
        for steps in [&[relu, add][..], &[relu, relu6][..]] {
            let ep = Epilogue::new(steps, batch * oh * ow, case.o).unwrap();
            let mut y = vec![f32::NAN; out_len];
            let mut scratch = vec![f32::NAN; conv.scratch_len()];
            let tiles = conv.tiles();
            for part in [0..tiles / 3, tiles / 3..tiles] {
                conv.run(&x, &packed, &mut y, &mut scratch, &ep, part).unwrap();
            }
            let want: Vec<f64> = if ep.clamp().is_some() {
                reference.iter().map(|v| v.clamp(0.0, 6.0)).collect()
            } else {
                reference.iter().zip(&residual).map(|(v, &r)| v.max(0.0) + r as f64).collect()
            };
            let form = if ep.clamp().is_some() { "ReLU6" } else { "ReLU + residual" };
            assert_close(&y, &want, tol, &format!("{algorithm:?} {case:?} batch {batch}, {form}"));
        }
    }

    fn case(h: usize, w: usize, c: usize, o: usize, k: (usize, usize)) -> ConvCase {
        ConvCase { h, w, c, o, kh: k.0, kw: k.1, stride: (1, 1), dilation: (1, 1), pads: [0; 4], groups: 1 }
    }

    #[test]
    fn pointwise_convolutions_are_gemms() {
        let mut rng = Rng::new(11);
        for (h, w, c, o, groups) in [(5, 7, 16, 24, 1), (3, 3, 3, 5, 1), (4, 6, 12, 18, 3), (1, 1, 64, 1000, 1)] {
            let cs = ConvCase { groups, ..case(h, w, c, o, (1, 1)) };
            for batch in [1, 2] {
                check(&cs, batch, Algorithm::Gemm, 1e-6, &mut rng);
                check(&cs, batch, Algorithm::Indirect, 1e-6, &mut rng);
            }
        }
    }

    #[test]
    fn implicit_gemm_with_padding_strides_dilations_groups() {
        let mut rng = Rng::new(12);
        let mut cases = vec![
            ConvCase { stride: (2, 2), pads: [1, 1, 1, 1], ..case(9, 9, 3, 16, (3, 3)) },
            ConvCase { stride: (2, 2), pads: [3, 3, 3, 3], ..case(15, 13, 3, 8, (7, 7)) },
            ConvCase { dilation: (2, 3), pads: [2, 3, 1, 0], ..case(10, 11, 8, 9, (3, 3)) },
            ConvCase { groups: 4, pads: [1, 1, 1, 1], ..case(6, 6, 16, 12, (3, 3)) },
            ConvCase { stride: (2, 1), pads: [0, 2, 1, 0], ..case(7, 5, 5, 7, (2, 4)) },
            ConvCase { stride: (2, 2), ..case(8, 8, 32, 64, (1, 1)) },
        ];
        for _ in 0..12 {
            let (kh, kw) = (rng.range(1, 4), rng.range(1, 4));
            let groups = rng.range(1, 3);
            let mut c = ConvCase {
                stride: (rng.range(1, 3), rng.range(1, 3)),
                dilation: (rng.range(1, 2), rng.range(1, 2)),
                pads: [rng.range(0, 2), rng.range(0, 2), rng.range(0, 2), rng.range(0, 2)],
                groups,
                ..case(
                    rng.range(4, 12),
                    rng.range(4, 12),
                    groups * rng.range(1, 9),
                    groups * rng.range(1, 13),
                    (kh, kw),
                )
            };
            c.pads = c.pads.map(|p| p.min(kh.min(kw) - 1));
            if geometry(&c, 1).output_hw().is_ok() {
                cases.push(c);
            }
        }
        for c in &cases {
            check(c, 1 + (c.h % 2), Algorithm::Indirect, 1e-6, &mut rng);
            check(c, 1 + (c.w % 2), Algorithm::Im2col, 1e-6, &mut rng);
        }
    }

    #[test]
    fn bad_geometries_and_buffers_are_errors() {
        let geo = geometry(&case(2, 2, 4, 4, (3, 3)), 1);
        assert!(matches!(Conv2d::new(geo), Err(ConvError::Geometry { .. })));
        let geo = geometry(&ConvCase { groups: 3, ..case(4, 4, 4, 6, (1, 1)) }, 1);
        assert!(Conv2d::new(geo).is_err());
        let geo = geometry(&case(4, 4, 4, 4, (3, 3)), 1);
        assert!(Conv2d::with_algorithm(geo, Algorithm::Gemm).is_err());
        assert!(Conv2d::with_algorithm(geo, Algorithm::Depthwise).is_err());
        let conv = Conv2d::with_algorithm(geo, Algorithm::Indirect).unwrap();
        let packed = vec![0.0; conv.packed_len()];
        let mut y = vec![0.0; 4 * 4];
        let e = conv.run(&[0.0; 63], &packed, &mut y, &mut [], &Epilogue::NONE, 0..conv.tiles()).unwrap_err();
        assert_eq!(e, ConvError::Length { what: "input", needed: 64, found: 63 });
        assert!(matches!(conv.pack(&[0.0; 3], None), Err(ConvError::Packing(_))));
    }

    #[test]
    fn the_chosen_algorithms() {
        let mobilenet_dw = ConvCase { groups: 32, pads: [1; 4], ..case(112, 112, 32, 32, (3, 3)) };
        assert_eq!(Algorithm::choose(&geometry(&mobilenet_dw, 1)), Algorithm::Depthwise);
        assert_eq!(Algorithm::choose(&geometry(&case(56, 56, 64, 256, (1, 1)), 1)), Algorithm::Gemm);
        let resnet_3x3 = ConvCase { pads: [1; 4], ..case(56, 56, 64, 64, (3, 3)) };
        assert!(matches!(Algorithm::choose(&geometry(&resnet_3x3, 1)), Algorithm::Winograd(_)));
        let first = ConvCase { stride: (2, 2), pads: [3; 4], ..case(224, 224, 3, 64, (7, 7)) };
        assert_eq!(Algorithm::choose(&geometry(&first, 1)), Algorithm::Im2col);
        let strided = ConvCase { stride: (2, 2), pads: [1; 4], ..case(56, 56, 128, 128, (3, 3)) };
        assert_eq!(Algorithm::choose(&geometry(&strided, 1)), Algorithm::Indirect);
        let small_map = ConvCase { pads: [1; 4], ..case(7, 7, 512, 512, (3, 3)) };
        assert_eq!(Algorithm::choose(&geometry(&small_map, 1)), Algorithm::Winograd(WinogradTile::F2));
    }
}
