//! Depthwise convolution (`groups = C = O`) over NHWC: each output channel is a `KH × KW` stencil of its own input
//! channel, so there is no reduction across channels to feed a GEMM; the kernel vectorizes across channels instead.
//!
//! Weights are [depthwise blocks](wdnn_descriptor_spec::packing::depthwise_blocks) of [`CB`] = 8 channels (two
//! vectors): a block's bias, then its taps. Per output row, the pixels whose whole window lies inside the image form
//! one segment that the fast path computes for 3×3 and 5×5 kernels (any stride and dilation; the tap offsets are
//! computed once per call): block by block, four pixels at a time, so that each tap's two weight vectors are loaded
//! once for eight multiply-adds. Border pixels and other kernel sizes take the generic path, which skips taps in
//! the padding. `Relu`/`Clip` epilogues clamp in registers; others run over each stored pixel. Work tiles are
//! output rows.

use core::ops::Range;

use super::ConvGeometry;
use crate::epilogue::Epilogue;
use crate::simd::{F32x4, LANES};

/// Channels per weight block.
pub const CB: usize = 8;

/// # Safety
/// `x`, `packed` and `y` must be as long as [`super::Conv2d::run`] checks, for a depthwise `g`.
pub(super) unsafe fn run(
    g: &ConvGeometry,
    (oh, ow): (usize, usize),
    x: &[f32],
    packed: &[f32],
    y: &mut [f32],
    epilogue: &Epilogue,
    tiles: Range<usize>,
) {
    let c = g.in_c;
    let (kh, kw) = (g.kernel[0], g.kernel[1]);
    let [sh, sw] = g.stride;
    let [dh, dw] = g.dilation;
    let (pt, pl) = (g.pads[0], g.pads[1]);
    // Tap offsets from a window's top-left input pixel, in values.
    let offsets: Vec<usize> = (0..kh).flat_map(|ky| (0..kw).map(move |kx| (ky * dh * g.in_w + kx * dw) * c)).collect();
    // Output columns whose window lies inside the image horizontally.
    let span_w = (kw - 1) * dw;
    let ox_lo = pl.div_ceil(sw).min(ow);
    let ox_hi = if g.in_w + pl > span_w { ((g.in_w - 1 + pl - span_w) / sw + 1).min(ow) } else { 0 };
    let image = g.in_h * g.in_w * c;
    // Relu/Clip run in registers; any other epilogue runs over each stored pixel.
    let clamp = epilogue.clamp();
    let general = clamp.is_none() && !epilogue.is_empty();
    let off9: [usize; 9] = core::array::from_fn(|t| offsets.get(t).copied().unwrap_or(0));
    let off25: [usize; 25] = core::array::from_fn(|t| offsets.get(t).copied().unwrap_or(0));
    for t in tiles {
        let (img, oy) = (t / oh, t % oh);
        let xi = x[img * image..].as_ptr();
        let top = (oy * sh) as isize - pt as isize;
        let rows_inside = top >= 0 && (top as usize + (kh - 1) * dh) < g.in_h;
        let row0 = (img * oh + oy) * ow;
        let fast = rows_inside && ox_lo < ox_hi && matches!((kh, kw), (3, 3) | (5, 5));
        let (seg_lo, seg_hi) = if fast { (ox_lo, ox_hi) } else { (ow, ow) };
        for ox in (0..ow).filter(|ox| !(seg_lo..seg_hi).contains(ox)) {
            let left = (ox * sw) as isize - pl as isize;
            // SAFETY: `row0 + ox` is an output pixel; the border path reads only taps inside the image.
            unsafe { border_pixel(g, xi, top, left, c, packed, y.as_mut_ptr().add((row0 + ox) * c), clamp) };
        }
        if seg_lo < seg_hi {
            let left = seg_lo * sw - pl;
            // SAFETY: every window of the segment lies inside the image (rows_inside, ox_lo..ox_hi).
            unsafe {
                let origin = xi.add((top as usize * g.in_w + left) * c);
                let out = y.as_mut_ptr().add((row0 + seg_lo) * c);
                let seg = Segment { origin, step: sw * c, count: seg_hi - seg_lo, c, out };
                match (kh, kw) {
                    (3, 3) => seg.run::<9>(&off9, packed, clamp),
                    _ => seg.run::<25>(&off25, packed, clamp),
                }
            }
        }
        if general {
            for m in row0..row0 + ow {
                epilogue.apply_row(&mut y[m * c..(m + 1) * c], m, 0);
            }
        }
    }
}

/// A run of output pixels of one row whose windows lie wholly inside the image: pixel `i`'s window starts at
/// `origin + i · step` and its output at `out + i · c`.
struct Segment {
    origin: *const f32,
    step: usize,
    count: usize,
    c: usize,
    out: *mut f32,
}

impl Segment {
    /// Block by block, four pixels at a time: each tap's weights are loaded once for all four, and the address
    /// arithmetic of a tap is shared by eight multiply-adds.
    #[inline(never)]
    unsafe fn run<const TAPS: usize>(&self, offsets: &[usize; TAPS], packed: &[f32], clamp: Option<(f32, f32)>) {
        let block_len = CB * (1 + TAPS);
        let full = self.c / CB;
        let (s1, s2, s3) = (self.step, 2 * self.step, 3 * self.step);
        // SAFETY (whole body): the caller guarantees every tap of every pixel; blocks and outputs cover `c`.
        unsafe {
            for b in 0..full {
                let w = packed.as_ptr().add(b * block_len);
                let bias = [F32x4::load(w), F32x4::load(w.add(LANES))];
                let mut i = 0;
                while i + 4 <= self.count {
                    let a = self.origin.add(i * self.step + b * CB);
                    let mut acc = [bias; 4];
                    for (t, &off) in offsets.iter().enumerate() {
                        let wt = w.add(CB * (1 + t));
                        let (w0, w1) = (F32x4::load(wt), F32x4::load(wt.add(LANES)));
                        let p = a.add(off);
                        for (acc, q) in acc.iter_mut().zip([p, p.add(s1), p.add(s2), p.add(s3)]) {
                            acc[0] = F32x4::load(q).mul_add(w0, acc[0]);
                            acc[1] = F32x4::load(q.add(LANES)).mul_add(w1, acc[1]);
                        }
                    }
                    for (j, acc) in acc.iter().enumerate() {
                        let out = self.out.add((i + j) * self.c + b * CB);
                        activate(acc[0], clamp).store(out);
                        activate(acc[1], clamp).store(out.add(LANES));
                    }
                    i += 4;
                }
                while i < self.count {
                    let a = self.origin.add(i * self.step + b * CB);
                    let [mut a0, mut a1] = bias;
                    for (t, &off) in offsets.iter().enumerate() {
                        let wt = w.add(CB * (1 + t));
                        a0 = F32x4::load(a.add(off)).mul_add(F32x4::load(wt), a0);
                        a1 = F32x4::load(a.add(off + LANES)).mul_add(F32x4::load(wt.add(LANES)), a1);
                    }
                    let out = self.out.add(i * self.c + b * CB);
                    activate(a0, clamp).store(out);
                    activate(a1, clamp).store(out.add(LANES));
                    i += 1;
                }
            }
            if full * CB < self.c {
                let w = packed.as_ptr().add(full * block_len);
                for i in 0..self.count {
                    let origin = self.origin.add(i * self.step + full * CB);
                    let taps = offsets.map(|off| origin.add(off));
                    tail_block(&taps, full * CB, self.c, w, self.out.add(i * self.c), clamp);
                }
            }
        }
    }
}

/// The in-register part of the epilogue: a clamp, or nothing.
#[inline(always)]
fn activate(v: F32x4, clamp: Option<(f32, f32)>) -> F32x4 {
    match clamp {
        Some(c) => Epilogue::clamp_vec(v, c),
        None => v,
    }
}

/// The last, partial block (`c` not a multiple of [`CB`]) from channel `n0`: partial loads and stores, tap `t`
/// read at `taps[t]` (its pixel's channel `n0`, or a row of zeros).
#[inline(never)]
unsafe fn tail_block(
    taps: &[*const f32],
    n0: usize,
    c: usize,
    w: *const f32,
    out: *mut f32,
    clamp: Option<(f32, f32)>,
) {
    let valid = c - n0;
    // SAFETY: each tap pointer has `valid` readable values; `out` has `c` values.
    unsafe {
        for h in 0..CB / LANES {
            if h * LANES >= valid {
                break;
            }
            let lanes = (valid - h * LANES).min(LANES);
            let mut acc = F32x4::load(w.add(h * LANES));
            for (t, &p) in taps.iter().enumerate() {
                let xv = F32x4::load_partial(core::slice::from_raw_parts(p.add(h * LANES), lanes));
                acc = xv.mul_add(F32x4::load(w.add(CB * (1 + t) + h * LANES)), acc);
            }
            let n = n0 + h * LANES;
            activate(acc, clamp).store_partial(core::slice::from_raw_parts_mut(out.add(n), lanes));
        }
    }
}

/// One output pixel of any kernel size, skipping taps in the padding. The window's top-left corner is at input
/// `(top, left)`, possibly outside the image.
#[allow(clippy::too_many_arguments)]
#[inline(never)]
unsafe fn border_pixel(
    g: &ConvGeometry,
    image: *const f32,
    top: isize,
    left: isize,
    c: usize,
    packed: &[f32],
    out: *mut f32,
    clamp: Option<(f32, f32)>,
) {
    let (kh, kw) = (g.kernel[0], g.kernel[1]);
    let taps = kh * kw;
    let block_len = CB * (1 + taps);
    // Tap pointers, null in the padding: at most a 7×7 window on the stack, a vector beyond.
    let mut small = [core::ptr::null::<f32>(); 49];
    let mut large = Vec::new();
    let tap_ptrs: &mut [*const f32] = if taps <= small.len() {
        &mut small[..taps]
    } else {
        large.resize(taps, core::ptr::null());
        &mut large
    };
    for ky in 0..kh {
        let iy = top + (ky * g.dilation[0]) as isize;
        for kx in 0..kw {
            let ix = left + (kx * g.dilation[1]) as isize;
            if iy >= 0 && (iy as usize) < g.in_h && ix >= 0 && (ix as usize) < g.in_w {
                // SAFETY: (iy, ix) is inside the image.
                tap_ptrs[ky * kw + kx] = unsafe { image.add((iy as usize * g.in_w + ix as usize) * c) };
            }
        }
    }
    let full = c / CB;
    let mut w = packed.as_ptr();
    // SAFETY: non-null taps are pixels of `c` channels; blocks and outputs cover `c` channels.
    unsafe {
        for b in 0..full {
            let (mut a0, mut a1) = (F32x4::load(w), F32x4::load(w.add(LANES)));
            for (t, &p) in tap_ptrs.iter().enumerate() {
                if !p.is_null() {
                    let (src, wt) = (p.add(b * CB), w.add(CB * (1 + t)));
                    a0 = F32x4::load(src).mul_add(F32x4::load(wt), a0);
                    a1 = F32x4::load(src.add(LANES)).mul_add(F32x4::load(wt.add(LANES)), a1);
                }
            }
            let n = b * CB;
            activate(a0, clamp).store(out.add(n));
            activate(a1, clamp).store(out.add(n + LANES));
            w = w.add(block_len);
        }
        if full * CB < c {
            // Taps in the padding read a row of zeros instead.
            let zeros = [0.0f32; CB];
            for p in tap_ptrs.iter_mut() {
                *p = if p.is_null() { zeros.as_ptr() } else { p.add(full * CB) };
            }
            tail_block(tap_ptrs, full * CB, c, w, out, clamp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::Algorithm;
    use super::super::tests::check;
    use crate::testing::{ConvCase, Rng};
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn dw(h: usize, w: usize, c: usize, k: usize, stride: usize, pad: usize) -> ConvCase {
        ConvCase { h, w, c, o: c, kh: k, kw: k, stride: (stride, stride), dilation: (1, 1), pads: [pad; 4], groups: c }
    }

    #[test]
    fn fast_paths_3x3_and_5x5_with_strides_and_channel_tails() {
        let mut rng = Rng::new(21);
        for c in [8, 16, 13, 4, 3, 40] {
            for (k, stride) in [(3, 1), (3, 2), (5, 1), (5, 2)] {
                let case = dw(11, 9, c, k, stride, k / 2);
                check(&case, 1, Algorithm::Depthwise, 1e-6, &mut rng);
            }
        }
    }

    #[test]
    fn generic_path_for_other_kernels_pads_and_dilations() {
        let mut rng = Rng::new(22);
        let cases = [
            ConvCase { kh: 1, kw: 7, pads: [0, 3, 0, 3], ..dw(6, 12, 12, 1, 1, 0) },
            ConvCase { dilation: (2, 2), pads: [2; 4], ..dw(9, 9, 9, 3, 1, 0) },
            ConvCase { pads: [0, 1, 2, 0], ..dw(7, 8, 16, 3, 2, 0) },
            dw(5, 5, 24, 7, 1, 3),
            dw(4, 4, 8, 3, 1, 0),
            dw(3, 3, 5, 9, 1, 4),
        ];
        for case in &cases {
            for batch in [1, 2] {
                check(case, batch, Algorithm::Depthwise, 1e-6, &mut rng);
            }
        }
    }
}
