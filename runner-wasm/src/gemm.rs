//! The register-blocked GEMM micro-kernel and its driver: `C = epilogue(A · B + bias)` with `B` in
//! [GEMM panels](wdnn_descriptor_spec::packing::gemm_panels) of [`NR`] columns.
//!
//! The micro-kernel keeps an `MR × NR` tile of `C` in `MR · NR/4` vector accumulators (XNNPACK's `MRx8` wasmsimd
//! kernels), starting from the panel's bias row. Plain SIMD128 has no fused multiply-add, so every step is a `mul`
//! then an `add`; only the adds chain, so 8 accumulators cover the add latency. V8 allocates 15 of the 16 xmm
//! registers, and its scheduler hoists all of a step's broadcasts of `A` ahead of their uses: 4 × 8 keeps
//! 8 accumulators, 4 broadcasts and 2 vectors of `B` in registers, while 5 × 8 and 6 × 8 spill. The benchmark
//! (`bench/kernels.mjs`, table "GEMM m×n×k") compares `MR` = 4, 5, 6 with `load32_splat` or lane-shuffle
//! broadcasts: 4 × 8 `load32_splat` wins on both builds (about 0.95 of the measured peak loop with plain SIMD128;
//! with `relaxed_madd` it is the fused multiply-add and runs about 1.3× faster).
//!
//! Rows of `A` are read in place: [`Rows`] says where each row of each kernel position ("tap") starts, so a 1×1
//! convolution reads NHWC rows directly and a k×k one reads them through an indirection table (implicit GEMM)
//! without an im2col copy. Edge tiles are exact: fewer than `MR` rows run a smaller instance of the same kernel,
//! and a partial last panel stores only its real columns. The epilogue runs on the registers before the one store:
//! `Relu`/`Clip` chains as one inline clamp, anything else through [`Epilogue::apply_tile`].
//!
//! Work is split in tiles (`MR` rows by a block of panels); [`GemmShape::tiles`] counts them and every entry point
//! takes a range of them, so a thread pool can hand out disjoint ranges. Nothing is global.

use core::ops::Range;

use crate::epilogue::Epilogue;
use crate::simd::{F32x4, LANES};

/// Panel width: columns of `B` (and `C`) per micro-kernel call, two vectors.
pub const NR: usize = 8;
const NV: usize = NR / LANES;

/// Rows of the micro-kernel's tile by default, chosen by the benchmark: 4 × 8 keeps 8 accumulators, 4
/// broadcasts and 2 `B` vectors in registers (6 × 8 spills in V8, whose scheduler hoists all broadcasts).
pub const MR: usize = 4;

/// The largest row tile the micro-kernel is instantiated for.
pub const MAX_MR: usize = 6;

/// Bytes of packed `B` a block of panels may span, so that it stays in the L2 cache while the row tiles of `A`
/// stream past it.
const B_BLOCK_BYTES: usize = 256 * 1024;

/// How the micro-kernel broadcasts one value of `A` across a vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Broadcast {
    /// `v128.load32_splat` per value (XNNPACK's `loadsplat`): a load-port operation only.
    LoadSplat,
    /// One `v128.load` of four values, then four lane shuffles (XNNPACK's `splat`).
    Shuffle,
}

/// A micro-kernel variant: its row tile (1 to [`MAX_MR`] rows) and its broadcast.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MicroKernel {
    mr: usize,
    broadcast: Broadcast,
}

impl MicroKernel {
    /// The variant the benchmark found fastest.
    pub const DEFAULT: MicroKernel = MicroKernel { mr: MR, broadcast: Broadcast::LoadSplat };

    /// A variant with `mr` rows per tile, if `mr` is in `1..=MAX_MR`.
    pub fn new(mr: usize, broadcast: Broadcast) -> Option<Self> {
        (1..=MAX_MR).contains(&mr).then_some(Self { mr, broadcast })
    }

    /// Rows per tile.
    pub fn mr(&self) -> usize {
        self.mr
    }

    /// How `A` values are broadcast.
    pub fn broadcast(&self) -> Broadcast {
        self.broadcast
    }
}

impl Default for MicroKernel {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Where the rows of `A` start, per kernel position.
pub(crate) trait Rows {
    /// Kernel positions; `A`'s depth is `taps · depth`.
    fn taps(&self) -> usize;
    /// Values per row per kernel position.
    fn depth(&self) -> usize;
    /// Pointers to the `depth` values of rows `m0 .. m0 + MR` at kernel position `t`. Rows at or past `m0 + rows`
    /// must alias a real row (they are computed and never stored).
    ///
    /// # Safety
    /// `m0 + rows` must not exceed the rows the source was built for, and `t < taps`.
    unsafe fn pointers<const R: usize>(&self, m0: usize, rows: usize, t: usize) -> [*const f32; R];
}

/// Rows at a fixed stride: a plain matrix, or NHWC pixels (`stride` = channels).
pub(crate) struct DenseRows {
    pub a: *const f32,
    pub stride: usize,
    pub depth: usize,
}

impl Rows for DenseRows {
    fn taps(&self) -> usize {
        1
    }

    fn depth(&self) -> usize {
        self.depth
    }

    #[inline(always)]
    unsafe fn pointers<const R: usize>(&self, m0: usize, rows: usize, _t: usize) -> [*const f32; R] {
        // SAFETY: the caller keeps rows inside the matrix.
        core::array::from_fn(|r| unsafe { self.a.add((m0 + r.min(rows - 1)) * self.stride) })
    }
}

/// The shape of one GEMM: `C[m × n] = A[m × (taps · depth)] · B`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GemmShape {
    /// Rows of `A` and `C`.
    pub m: usize,
    /// Columns of `B` and `C`.
    pub n: usize,
    /// Reduction length (`taps · depth` for a convolution).
    pub k: usize,
}

impl GemmShape {
    fn panels(&self) -> usize {
        self.n.div_ceil(NR)
    }

    fn row_tiles(&self, mr: usize) -> usize {
        self.m.div_ceil(mr)
    }

    /// Panels per block: as many as fit [`B_BLOCK_BYTES`].
    fn block_panels(&self) -> usize {
        (B_BLOCK_BYTES / ((self.k + 1) * NR * 4)).clamp(1, self.panels().max(1))
    }

    /// Work items with row tiles of `mr`: row tiles times panel blocks.
    pub fn tiles(&self, mr: usize) -> usize {
        self.row_tiles(mr) * self.panels().div_ceil(self.block_panels())
    }

    /// Values of packed `B` this shape reads.
    pub fn packed_len(&self) -> usize {
        wdnn_descriptor_spec::packing::gemm_panels_len(self.k, self.n, NR)
    }
}

/// Where a GEMM stores: `C` row `m`, column `n` at `c[m · ldc + col0 + n]`; the epilogue sees it as row
/// `row0 + m`, column `col0 + n` (the image's first pixel and the group's first channel of a convolution).
pub(crate) struct Output {
    pub c: *mut f32,
    pub ldc: usize,
    pub row0: usize,
    pub col0: usize,
}

/// Runs `tiles` of `shape` with `kernel`, reading `A` through `rows` and `B` from `packed`.
///
/// # Safety
/// `rows` must cover `shape.m` rows of `shape.k` values, `packed` must hold `shape.packed_len()` values, the
/// output must be writable at every `(m, col0 + n)` of the shape.
pub(crate) unsafe fn run<R: Rows>(
    shape: GemmShape,
    kernel: MicroKernel,
    rows: &R,
    packed: *const f32,
    out: &Output,
    epilogue: &Epilogue,
    tiles: Range<usize>,
) {
    let mr = kernel.mr;
    let row_tiles = shape.row_tiles(mr);
    let block = shape.block_panels();
    let panels = shape.panels();
    let shuffle = kernel.broadcast == Broadcast::Shuffle;
    for t in tiles {
        let (bi, mt) = (t / row_tiles, t % row_tiles);
        let m0 = mt * mr;
        let n_rows = (shape.m - m0).min(mr);
        let p = bi * block..((bi + 1) * block).min(panels);
        // SAFETY: forwarded from the caller; the tile lies inside the shape.
        unsafe { row_tile(n_rows, shuffle, shape, rows, packed, out, epilogue, m0, p) };
    }
}

/// One row tile of `n_rows` rows on the kernel instance of exactly that height.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn row_tile<R: Rows>(
    n_rows: usize,
    shuffle: bool,
    shape: GemmShape,
    rows: &R,
    packed: *const f32,
    out: &Output,
    epilogue: &Epilogue,
    m0: usize,
    panels: Range<usize>,
) {
    // SAFETY: forwarded from `run`.
    unsafe {
        match (n_rows, shuffle) {
            (6, false) => panels_of::<6, R, false>(shape, rows, packed, out, epilogue, m0, panels),
            (5, false) => panels_of::<5, R, false>(shape, rows, packed, out, epilogue, m0, panels),
            (4, false) => panels_of::<4, R, false>(shape, rows, packed, out, epilogue, m0, panels),
            (3, false) => panels_of::<3, R, false>(shape, rows, packed, out, epilogue, m0, panels),
            (2, false) => panels_of::<2, R, false>(shape, rows, packed, out, epilogue, m0, panels),
            (1, false) => panels_of::<1, R, false>(shape, rows, packed, out, epilogue, m0, panels),
            (6, true) => panels_of::<6, R, true>(shape, rows, packed, out, epilogue, m0, panels),
            (5, true) => panels_of::<5, R, true>(shape, rows, packed, out, epilogue, m0, panels),
            (4, true) => panels_of::<4, R, true>(shape, rows, packed, out, epilogue, m0, panels),
            (3, true) => panels_of::<3, R, true>(shape, rows, packed, out, epilogue, m0, panels),
            (2, true) => panels_of::<2, R, true>(shape, rows, packed, out, epilogue, m0, panels),
            (1, true) => panels_of::<1, R, true>(shape, rows, packed, out, epilogue, m0, panels),
            _ => unreachable!("row tiles have 1..=MAX_MR rows"),
        }
    }
}

/// `R0` rows from `m0` across `panels`: the micro-kernel, the epilogue on registers, one store.
#[inline(never)]
unsafe fn panels_of<const R0: usize, R: Rows, const SHUFFLE: bool>(
    shape: GemmShape,
    rows: &R,
    packed: *const f32,
    out: &Output,
    epilogue: &Epilogue,
    m0: usize,
    panels: Range<usize>,
) {
    let n_rows = (shape.m - m0).min(R0);
    let panel_len = (shape.k + 1) * NR;
    let clamp = epilogue.clamp();
    for p in panels {
        // SAFETY: the panel lies inside `packed`; rows and output are the caller's contract.
        unsafe {
            let mut acc = micro_kernel::<R0, R, SHUFFLE>(rows, m0, n_rows, packed.add(p * panel_len));
            let n0 = p * NR;
            let cols = (shape.n - n0).min(NR);
            if let Some(c) = clamp {
                for v in acc.iter_mut().flatten() {
                    *v = Epilogue::clamp_vec(*v, c);
                }
            } else if !epilogue.is_empty() {
                epilogue.apply_tile(&mut acc, out.row0 + m0, n_rows, out.col0 + n0, cols);
            }
            store_tile(&acc, out, m0, n_rows, n0, cols);
        }
    }
}

/// Accumulates one `R0 × NR` tile over all taps and depths of `A`, starting from the panel's bias row.
#[inline(always)]
unsafe fn micro_kernel<const R0: usize, R: Rows, const SHUFFLE: bool>(
    rows: &R,
    m0: usize,
    n_rows: usize,
    panel: *const f32,
) -> [[F32x4; NV]; R0] {
    // SAFETY (whole body): the panel holds NR bias values then taps·depth rows of NR; the row pointers each cover
    // `depth` values.
    unsafe {
        let mut acc = [[F32x4::load(panel), F32x4::load(panel.add(LANES))]; R0];
        let mut w = panel.add(NR);
        let depth = rows.depth();
        for t in 0..rows.taps() {
            let a = rows.pointers::<R0>(m0, n_rows, t);
            let mut k = 0;
            if SHUFFLE {
                while k + LANES <= depth {
                    let va: [F32x4; R0] = core::array::from_fn(|r| F32x4::load(a[r].add(k)));
                    step(&mut acc, w, |r| va[r].lane::<0>());
                    step(&mut acc, w.add(NR), |r| va[r].lane::<1>());
                    step(&mut acc, w.add(2 * NR), |r| va[r].lane::<2>());
                    step(&mut acc, w.add(3 * NR), |r| va[r].lane::<3>());
                    w = w.add(LANES * NR);
                    k += LANES;
                }
            }
            while k < depth {
                step(&mut acc, w, |r| F32x4::load_splat(a[r].add(k)));
                w = w.add(NR);
                k += 1;
            }
        }
        acc
    }
}

/// One step of `k`: `acc[r] += a(r) · B[k]` for every row.
#[inline(always)]
unsafe fn step<const R0: usize>(acc: &mut [[F32x4; NV]; R0], w: *const f32, a: impl Fn(usize) -> F32x4) {
    // SAFETY: `w` points at NR readable values.
    let (b0, b1) = unsafe { (F32x4::load(w), F32x4::load(w.add(LANES))) };
    for (r, row) in acc.iter_mut().enumerate() {
        let ar = a(r);
        row[0] = ar.mul_add(b0, row[0]);
        row[1] = ar.mul_add(b1, row[1]);
    }
}

#[inline(always)]
unsafe fn store_tile<const R0: usize>(
    acc: &[[F32x4; NV]; R0],
    out: &Output,
    m0: usize,
    n_rows: usize,
    n0: usize,
    cols: usize,
) {
    for (r, row) in acc.iter().enumerate().take(n_rows) {
        // SAFETY: the caller guarantees the output covers the tile.
        unsafe {
            let c = out.c.add((m0 + r) * out.ldc + out.col0 + n0);
            if cols == NR {
                row[0].store(c);
                row[1].store(c.add(LANES));
            } else {
                for (j, v) in row.iter().enumerate() {
                    let n = j * LANES;
                    if n < cols {
                        v.store_partial(core::slice::from_raw_parts_mut(c.add(n), (cols - n).min(LANES)));
                    }
                }
            }
        }
    }
}

/// A checked GEMM over slices: `C[m × n] (row stride ldc) = epilogue(A[m × k] (row stride lda) · B + bias)`.
#[derive(Debug, Clone, Copy)]
pub struct Gemm {
    /// The shape.
    pub shape: GemmShape,
    /// The micro-kernel variant (the benchmark's knob; [`Gemm::new`] takes the default).
    pub kernel: MicroKernel,
}

/// A GEMM operand too short for its shape and strides.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("GEMM {m}×{n}×{k}: {what} has {found} values, needs {needed}")]
pub struct GemmError {
    /// Rows.
    pub m: usize,
    /// Columns.
    pub n: usize,
    /// Depth.
    pub k: usize,
    /// Which operand.
    pub what: &'static str,
    /// Values it needs.
    pub needed: usize,
    /// Values it has.
    pub found: usize,
}

impl Gemm {
    /// A GEMM of `m × k` by `k × n`.
    pub fn new(m: usize, n: usize, k: usize) -> Self {
        Self { shape: GemmShape { m, n, k }, kernel: MicroKernel::DEFAULT }
    }

    /// Work items for [`Gemm::run`].
    pub fn tiles(&self) -> usize {
        self.shape.tiles(self.kernel.mr)
    }

    /// Computes the tiles in `tiles` (all of them: `0..self.tiles()`). `packed` holds `B` (and the bias) as
    /// [GEMM panels](wdnn_descriptor_spec::packing::gemm_panels) with `NR` = [`NR`].
    #[allow(clippy::too_many_arguments)]
    pub fn run(
        &self,
        a: &[f32],
        lda: usize,
        packed: &[f32],
        c: &mut [f32],
        ldc: usize,
        epilogue: &Epilogue,
        tiles: Range<usize>,
    ) -> Result<(), GemmError> {
        let GemmShape { m, n, k } = self.shape;
        if m == 0 || n == 0 {
            return Ok(());
        }
        let err = |what, needed, found| GemmError { m, n, k, what, needed, found };
        let need_a = (m - 1) * lda + k;
        if a.len() < need_a || lda < k {
            return Err(err("A", need_a, a.len()));
        }
        if packed.len() < self.shape.packed_len() {
            return Err(err("packed B", self.shape.packed_len(), packed.len()));
        }
        let need_c = (m - 1) * ldc + n;
        if c.len() < need_c || ldc < n {
            return Err(err("C", need_c, c.len()));
        }
        let rows = DenseRows { a: a.as_ptr(), stride: lda, depth: k };
        let out = Output { c: c.as_mut_ptr(), ldc, row0: 0, col0: 0 };
        let tiles = tiles.start.min(self.tiles())..tiles.end.min(self.tiles());
        // SAFETY: every length was checked above.
        unsafe { run(self.shape, self.kernel, &rows, packed.as_ptr(), &out, epilogue, tiles) };
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::epilogue::{Operand, Step, VectorBinary, VectorUnary};
    use crate::testing::{Rng, assert_close};
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;
    use wdnn_descriptor_spec::packing::{MatrixOrder, gemm_panels};
    use wdnn_descriptor_spec::{BinaryFn, UnaryFn};

    fn reference(a: &[f32], lda: usize, b: &[f32], bias: &[f32], m: usize, n: usize, k: usize) -> Vec<f64> {
        let mut c = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                c[i * n + j] =
                    bias[j] as f64 + (0..k).map(|p| a[i * lda + p] as f64 * b[p * n + j] as f64).sum::<f64>();
            }
        }
        c
    }

    #[test]
    fn random_shapes_with_edge_tiles_and_both_broadcasts() {
        let mut rng = Rng::new(1);
        let mut shapes = vec![(1, 1, 1), (1, 8, 3), (6, 8, 4), (7, 9, 5), (13, 17, 33), (1, 1000, 64), (50, 3, 7)];
        for _ in 0..30 {
            shapes.push((rng.range(1, 40), rng.range(1, 40), rng.range(1, 70)));
        }
        for (m, n, k) in shapes {
            for (mr, broadcast) in [(6, Broadcast::LoadSplat), (5, Broadcast::Shuffle), (4, Broadcast::LoadSplat)] {
                let lda = k + rng.range(0, 3);
                let ldc = n + rng.range(0, 2);
                let a = rng.values((m - 1) * lda + k);
                let b = rng.values(k * n);
                let bias = rng.values(n);
                let packed = gemm_panels(&b, k, n, MatrixOrder::KN, Some(&bias), NR).unwrap();
                let mut c = vec![f32::NAN; (m - 1) * ldc + n];
                let gemm = Gemm { shape: GemmShape { m, n, k }, kernel: MicroKernel::new(mr, broadcast).unwrap() };
                gemm.run(&a, lda, &packed, &mut c, ldc, &Epilogue::NONE, 0..gemm.tiles()).unwrap();
                let want = reference(&a, lda, &b, &bias, m, n, k);
                let got: Vec<f32> = (0..m).flat_map(|i| c[i * ldc..i * ldc + n].to_vec()).collect();
                assert_close(&got, &want, 1e-6, &format!("gemm {m}x{n}x{k} mr {mr} {broadcast:?}"));
                // Padding between rows is never written.
                for i in 0..m - 1 {
                    assert!(c[i * ldc + n..(i + 1) * ldc].iter().all(|v| v.is_nan()));
                }
            }
        }
    }

    #[test]
    fn fused_epilogue_relu_then_residual_add() {
        let (m, n, k) = (11, 21, 19);
        let mut rng = Rng::new(2);
        let (a, b, bias, residual) = (rng.values(m * k), rng.values(k * n), rng.values(n), rng.values(m * n));
        let packed = gemm_panels(&b, k, n, MatrixOrder::KN, Some(&bias), NR).unwrap();
        let steps = [
            Step::Unary(VectorUnary::new(UnaryFn::Relu).unwrap()),
            Step::Binary {
                fun: VectorBinary::new(BinaryFn::Add).unwrap(),
                operand: Operand::Full { data: &residual, row_stride: n },
                operand_first: false,
            },
        ];
        let ep = Epilogue::new(&steps, m, n).unwrap();
        let gemm = Gemm::new(m, n, k);
        let mut c = vec![0.0; m * n];
        gemm.run(&a, k, &packed, &mut c, n, &ep, 0..gemm.tiles()).unwrap();
        let want: Vec<f64> = reference(&a, k, &b, &bias, m, n, k)
            .into_iter()
            .zip(&residual)
            .map(|(v, &r)| v.max(0.0) + r as f64)
            .collect();
        assert_close(&c, &want, 1e-6, "gemm + relu + residual");
        // Relu then Clip is one in-register clamp.
        let steps = [steps[0], Step::Unary(VectorUnary::new(UnaryFn::Clip { min: -1.0, max: 0.5 }).unwrap())];
        let ep = Epilogue::new(&steps, m, n).unwrap();
        assert_eq!(ep.clamp(), Some((0.0, 0.5)));
        gemm.run(&a, k, &packed, &mut c, n, &ep, 0..gemm.tiles()).unwrap();
        let want: Vec<f64> = reference(&a, k, &b, &bias, m, n, k).into_iter().map(|v| v.clamp(0.0, 0.5)).collect();
        assert_close(&c, &want, 1e-6, "gemm + relu + clip");
    }

    #[test]
    fn tile_ranges_partition_the_work() {
        // Deep enough that B spans several blocks: tiles cover (row tile, panel block) pairs.
        let (m, n, k) = (20, 300, 1100);
        let mut rng = Rng::new(3);
        let (a, b) = (rng.values(m * k), rng.values(k * n));
        let packed = gemm_panels(&b, k, n, MatrixOrder::KN, None, NR).unwrap();
        let gemm = Gemm::new(m, n, k);
        let tiles = gemm.tiles();
        assert!(tiles > m.div_ceil(MR), "several panel blocks");
        let mut whole = vec![0.0; m * n];
        gemm.run(&a, k, &packed, &mut whole, n, &Epilogue::NONE, 0..tiles).unwrap();
        let mut split = vec![0.0; m * n];
        for part in [0..3, 3..tiles / 2, tiles / 2..tiles] {
            gemm.run(&a, k, &packed, &mut split, n, &Epilogue::NONE, part).unwrap();
        }
        assert_eq!(whole, split);
        assert_close(&whole, &reference(&a, k, &b, &vec![0.0; n], m, n, k), 1e-6, "blocked gemm");
    }

    #[test]
    fn short_operands_are_errors() {
        let gemm = Gemm::new(4, 8, 3);
        let packed = vec![0.0; gemm.shape.packed_len()];
        let mut c = vec![0.0; 32];
        let e = gemm.run(&[0.0; 11], 3, &packed, &mut c, 8, &Epilogue::NONE, 0..1).unwrap_err();
        assert_eq!((e.what, e.needed), ("A", 12));
        assert!(gemm.run(&[0.0; 12], 3, &packed[1..], &mut c, 8, &Epilogue::NONE, 0..1).is_err());
        assert!(gemm.run(&[0.0; 12], 3, &packed, &mut c[..31], 8, &Epilogue::NONE, 0..1).is_err());
    }
}
