//! Test support: a seeded generator, f64 references and the error measure every kernel test uses.

use wdnn_descriptor_spec::{DType, Op, UnaryFn};
use wdnn_runner_core::Tensor;

/// SplitMix64: deterministic, so a failing shape reproduces.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[lo, hi)`.
    pub fn uniform(&mut self, lo: f32, hi: f32) -> f32 {
        let u = (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32;
        lo + (hi - lo) * u
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next_u64() % (hi - lo + 1) as u64) as usize
    }

    /// `n` values uniform in `[-1, 1)`.
    pub fn values(&mut self, n: usize) -> Vec<f32> {
        (0..n).map(|_| self.uniform(-1.0, 1.0)).collect()
    }
}

/// `‖got − want‖₂ / ‖want‖₂` (or the absolute norm when `want` is all zeros).
pub fn rel_l2(got: &[f32], want: &[f64]) -> f64 {
    assert_eq!(got.len(), want.len(), "lengths differ");
    let err: f64 = got.iter().zip(want).map(|(&g, &w)| (g as f64 - w).powi(2)).sum();
    let norm: f64 = want.iter().map(|w| w * w).sum();
    if norm == 0.0 { err.sqrt() } else { (err / norm).sqrt() }
}

/// Asserts a relative L2 error below `tol`, naming the case.
#[track_caller]
pub fn assert_close(got: &[f32], want: &[f64], tol: f64, case: &str) {
    let e = rel_l2(got, want);
    if option_env!("WDNN_PRINT_ERRORS").is_some() {
        println!("{case}: rel. L2 {e:.2e}");
    }
    assert!(e <= tol, "{case}: rel. L2 error {e:.3e} > {tol:.0e}");
}

/// `fun` over `xs` in f64, as the reference backend computes it.
pub fn reference_unary(fun: UnaryFn, xs: &[f32]) -> Vec<f64> {
    let x64: Vec<f64> = xs.iter().map(|&x| x as f64).collect();
    let x = Tensor::new(&[x64.len() as u64], &x64).unwrap();
    let out = wdnn_runner_fallback::eval(&Op::Unary { fun }, &[&x], &[(DType::F64, vec![x64.len() as u64])]).unwrap();
    out[0].to_vec::<f64>().unwrap()
}

/// The convolution geometry of the f64 reference: NHWC input `[h, w, c]` (batch 1), weights `[o, c/g, kh, kw]`.
#[derive(Debug, Clone, Copy)]
pub struct ConvCase {
    pub h: usize,
    pub w: usize,
    pub c: usize,
    pub o: usize,
    pub kh: usize,
    pub kw: usize,
    pub stride: (usize, usize),
    pub dilation: (usize, usize),
    /// top, left, bottom, right
    pub pads: [usize; 4],
    pub groups: usize,
}

impl ConvCase {
    pub fn out_hw(&self) -> (usize, usize) {
        let eff_h = (self.kh - 1) * self.dilation.0 + 1;
        let eff_w = (self.kw - 1) * self.dilation.1 + 1;
        (
            (self.h + self.pads[0] + self.pads[2] - eff_h) / self.stride.0 + 1,
            (self.w + self.pads[1] + self.pads[3] - eff_w) / self.stride.1 + 1,
        )
    }

    /// Direct convolution in f64, NHWC out `[oh, ow, o]`, plus bias.
    pub fn reference(&self, x: &[f32], weights: &[f32], bias: Option<&[f32]>) -> Vec<f64> {
        let (oh, ow) = self.out_hw();
        let (cg, og) = (self.c / self.groups, self.o / self.groups);
        let mut y = vec![0.0; oh * ow * self.o];
        for oy in 0..oh {
            for ox in 0..ow {
                for oc in 0..self.o {
                    let g = oc / og;
                    let mut acc = bias.map_or(0.0, |b| b[oc] as f64);
                    for ky in 0..self.kh {
                        let iy = (oy * self.stride.0 + ky * self.dilation.0) as isize - self.pads[0] as isize;
                        if iy < 0 || iy >= self.h as isize {
                            continue;
                        }
                        for kx in 0..self.kw {
                            let ix = (ox * self.stride.1 + kx * self.dilation.1) as isize - self.pads[1] as isize;
                            if ix < 0 || ix >= self.w as isize {
                                continue;
                            }
                            let xrow = (iy as usize * self.w + ix as usize) * self.c + g * cg;
                            for ci in 0..cg {
                                let wv = weights[((oc * cg + ci) * self.kh + ky) * self.kw + kx];
                                acc += x[xrow + ci] as f64 * wv as f64;
                            }
                        }
                    }
                    y[(oy * ow + ox) * self.o + oc] = acc;
                }
            }
        }
        y
    }
}
