//! Vector transcendental functions on [`F32x4`]: `exp`, `ln`, `tanh`, `sigmoid`, `erf`.
//!
//! Each is a range reduction plus a Cephes single-precision polynomial (the same approach as XNNPACK's and
//! Eigen's), accurate to a few ulps over the whole `f32` range, with IEEE results at the edges (`exp` overflows to
//! `+inf` and underflows to 0, `ln(0) = -inf`, `ln(x<0) = NaN`, NaN in → NaN out). They use only multiplies, adds,
//! compares, selects and exponent-bit arithmetic, so they vectorize on every target.

// The coefficients are quoted as published (Cephes, Eigen), beyond f32's precision.
#![allow(clippy::excessive_precision)]

use crate::simd::F32x4;

const LOG2_E: f32 = std::f32::consts::LOG2_E;
/// ln 2 split in a part exact in few bits and the rest (Cody–Waite), so `x − n·ln2` loses nothing.
const LN2_HI: f32 = 0.693_359_4;
const LN2_LO: f32 = -2.121_944_4e-4;
/// 1.5 · 2²³: adding then subtracting it rounds to the nearest integer (ties to even) for |v| < 2²².
const ROUND_MAGIC: f32 = 12_582_912.0;
/// Above this, `exp` overflows; below [`EXP_LO`], it is denormal (flushed to 0 here).
const EXP_HI: f32 = 88.722_84;
const EXP_LO: f32 = -87.336_55;

/// `e^x`.
#[inline(always)]
pub fn exp(x: F32x4) -> F32x4 {
    // Clamp so that n stays in the normal exponent range [-126, 127]; the edges are patched below.
    let xc = x.max(F32x4::splat(EXP_LO)).min(F32x4::splat(88.376_26));
    let magic = F32x4::splat(ROUND_MAGIC);
    let n = xc.mul_add(F32x4::splat(LOG2_E), magic) - magic;
    let r = n.mul_add(F32x4::splat(-LN2_HI), xc);
    let r = n.mul_add(F32x4::splat(-LN2_LO), r);
    let mut p = F32x4::splat(1.987_569_1e-4);
    p = p.mul_add(r, F32x4::splat(1.398_199_9e-3));
    p = p.mul_add(r, F32x4::splat(8.333_452e-3));
    p = p.mul_add(r, F32x4::splat(4.166_579_6e-2));
    p = p.mul_add(r, F32x4::splat(1.666_666_5e-1));
    p = p.mul_add(r, F32x4::splat(5.000_000_1e-1));
    let e = (p * (r * r) + r + F32x4::splat(1.0)) * F32x4::pow2i(n);
    let e = F32x4::select(x.gt(F32x4::splat(EXP_HI)), F32x4::splat(f32::INFINITY), e);
    F32x4::select(x.lt(F32x4::splat(EXP_LO)), F32x4::zero(), e)
}

/// Natural logarithm.
#[inline(always)]
pub fn ln(x: F32x4) -> F32x4 {
    // Denormals are scaled into the normal range first.
    let tiny = x.lt(F32x4::splat(f32::MIN_POSITIVE));
    let xs = F32x4::select(tiny, x * F32x4::splat(16_777_216.0), x);
    let (mut e, m) = frexp(xs);
    e = F32x4::select(tiny, e - F32x4::splat(24.0), e);
    // m in [0.5, 1): fold to [√½, √2) so the polynomial argument stays small.
    let small = m.lt(F32x4::splat(std::f32::consts::FRAC_1_SQRT_2));
    e = F32x4::select(small, e - F32x4::splat(1.0), e);
    let t = F32x4::select(small, m + m, m) - F32x4::splat(1.0);
    let z = t * t;
    let mut y = F32x4::splat(7.037_683_6e-2);
    for c in [-1.151_461e-1, 1.167_699_9e-1, -1.242_014_1e-1, 1.424_932_3e-1, -1.666_805_8e-1, 2.000_071_4e-1] {
        y = y.mul_add(t, F32x4::splat(c));
    }
    y = y.mul_add(t, F32x4::splat(-2.499_999_4e-1));
    y = y.mul_add(t, F32x4::splat(3.333_333_1e-1));
    y = y * t * z;
    y = e.mul_add(F32x4::splat(LN2_LO), y);
    y = z.mul_add(F32x4::splat(-0.5), y);
    let r = e.mul_add(F32x4::splat(LN2_HI), t + y);
    // Edges: ln(0) = -inf, ln(x < 0) = NaN, ln(inf) = inf, NaN stays NaN.
    let r = F32x4::select(x.eq(F32x4::splat(f32::INFINITY)), x, r);
    let r = F32x4::select(x.eq(F32x4::zero()), F32x4::splat(f32::NEG_INFINITY), r);
    F32x4::select(x.lt(F32x4::zero()).or(!x.eq(x)), F32x4::splat(f32::NAN), r)
}

/// Exponent and mantissa of positive normal lanes: `x = m · 2^e` with `m` in [0.5, 1).
#[inline(always)]
fn frexp(x: F32x4) -> (F32x4, F32x4) {
    let [a, b, c, d] = x.to_bits();
    let e = |bits: u32| ((bits >> 23) & 0xff) as i32 as f32 - 126.0;
    let m = |bits: u32| (bits & 0x807f_ffff) | 0x3f00_0000;
    (F32x4::from_array([e(a), e(b), e(c), e(d)]), F32x4::from_bits([m(a), m(b), m(c), m(d)]))
}

/// Hyperbolic tangent.
#[inline(always)]
pub fn tanh(x: F32x4) -> F32x4 {
    let ax = x.abs();
    // Near zero, an odd polynomial (the exp form would cancel); elsewhere 1 − 2/(e^{2|x|} + 1).
    let s = x * x;
    let mut p = F32x4::splat(-5.704_988_7e-3);
    p = p.mul_add(s, F32x4::splat(2.063_908_9e-2));
    p = p.mul_add(s, F32x4::splat(-5.373_971_6e-2));
    p = p.mul_add(s, F32x4::splat(1.333_144_2e-1));
    p = p.mul_add(s, F32x4::splat(-3.333_328_2e-1));
    let near = (p * s).mul_add(x, x);
    let one = F32x4::splat(1.0);
    let far = one - F32x4::splat(2.0) / (exp(ax + ax) + one);
    F32x4::select(ax.lt(F32x4::splat(0.625)), near, far.copysign(x))
}

/// The logistic function `1 / (1 + e^-x)`.
#[inline(always)]
pub fn sigmoid(x: F32x4) -> F32x4 {
    // e^{-|x|} never overflows; the negative half is the mirror image 1 − σ(|x|) = e/(1+e).
    let e = exp(-x.abs());
    let one = F32x4::splat(1.0);
    let pos = one / (one + e);
    F32x4::select(x.lt(F32x4::zero()), e * pos, pos)
}

/// The error function.
#[inline(always)]
pub fn erf(x: F32x4) -> F32x4 {
    // Eigen's (and TensorFlow's) rational approximation x·P(x²)/Q(x²) (|error| < 4e-7); from |x| = 3.92 on, erf
    // rounds to ±1 in f32 and is returned exactly, so that 1 + erf(x) (GELU) vanishes in the far tail.
    let ax = x.abs();
    let tail = F32x4::splat(1.0).copysign(x);
    let x = x.max(F32x4::splat(-4.0)).min(F32x4::splat(4.0));
    let s = x * x;
    let mut p = F32x4::splat(-2.726_142_2e-10);
    for c in [2.770_681_4e-8, -2.101_024e-6, -5.692_506_4e-5, -7.349_906_3e-4, -2.954_6e-3, -1.609_603_3e-2] {
        p = p.mul_add(s, F32x4::splat(c));
    }
    let mut q = F32x4::splat(-1.456_607_2e-5);
    for c in [-2.133_740_6e-4, -1.682_827e-3, -7.373_329e-3, -1.426_474e-2] {
        q = q.mul_add(s, F32x4::splat(c));
    }
    F32x4::select(ax.ge(F32x4::splat(3.92)), tail, x * p / q)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    /// Largest relative error of `f` against `reference` over `xs`, with `floor` as the smallest denominator.
    fn worst(f: fn(F32x4) -> F32x4, reference: fn(f64) -> f64, xs: &[f32], floor: f64) -> f64 {
        let mut worst = 0f64;
        for chunk in xs.chunks(4) {
            let y = f(F32x4::load_partial(chunk)).to_array();
            for (&x, &y) in chunk.iter().zip(&y) {
                let r = reference(x as f64);
                if r.is_nan() {
                    assert!(y.is_nan(), "f({x}) = {y}, expected NaN");
                } else if r.is_infinite() {
                    assert_eq!(y as f64, r, "f({x})");
                } else {
                    worst = worst.max((y as f64 - r).abs() / r.abs().max(floor));
                }
            }
        }
        worst
    }

    fn grid(lo: f32, hi: f32, n: usize) -> Vec<f32> {
        (0..=n).map(|i| lo + (hi - lo) * i as f32 / n as f32).collect()
    }

    #[test]
    fn exp_is_accurate_and_saturates() {
        let xs = grid(-87.0, 88.0, 20_000);
        assert!(worst(exp, f64::exp, &xs, 0.0) < 4e-7);
        assert_eq!(exp(F32x4::splat(100.0)).to_array(), [f32::INFINITY; 4]);
        assert_eq!(exp(F32x4::splat(-100.0)).to_array(), [0.0; 4]);
        assert!(exp(F32x4::splat(f32::NAN)).to_array()[0].is_nan());
        assert_eq!(exp(F32x4::zero()).to_array(), [1.0; 4]);
    }

    #[test]
    fn ln_is_accurate_with_ieee_edges() {
        let mut xs = grid(1e-3, 100.0, 20_000);
        xs.extend([1e-38, 3e-42, 1e30, 3.4e38, 1.0, 0.5, 0.0, -1.0, f32::INFINITY, f32::NAN]);
        assert!(worst(ln, f64::ln, &xs, 1e-3) < 4e-7);
    }

    #[test]
    fn tanh_sigmoid_erf_are_accurate() {
        let xs = grid(-12.0, 12.0, 24_001);
        assert!(worst(tanh, f64::tanh, &xs, 1e-30) < 5e-7);
        assert!(worst(sigmoid, |x| 1.0 / (1.0 + (-x).exp()), &xs, 1e-30) < 5e-7);
        let erf64 = |x: f64| {
            // Reference: the same series/continued-fraction free form as the fallback, by numeric integration.
            let n = 4000;
            let h = x / n as f64;
            let f = |t: f64| (-t * t).exp();
            let s: f64 = (0..n)
                .map(|i| (f(i as f64 * h) + 4.0 * f((i as f64 + 0.5) * h) + f((i + 1) as f64 * h)) * h / 6.0)
                .sum();
            s * 2.0 / std::f64::consts::PI.sqrt()
        };
        let small = grid(-4.0, 4.0, 4000);
        // erf's A&S form is absolute-accurate; relative accuracy matters near zero, where the series takes over.
        let (abs, rel) = (worst(erf, erf64, &small, 1.0), worst(erf, erf64, &grid(-0.49, 0.49, 980), 1e-30));
        assert!(abs < 4e-7 && rel < 4e-7, "erf: abs {abs:e}, rel near 0 {rel:e}");
        for big in [10.0f32, 1e20, f32::INFINITY] {
            assert_eq!(erf(F32x4::splat(big)).to_array(), [1.0; 4]);
            assert_eq!(tanh(F32x4::splat(-big)).to_array(), [-1.0; 4]);
        }
    }
}
