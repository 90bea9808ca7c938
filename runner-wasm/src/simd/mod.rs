//! One 4-lane `f32` vector type, [`F32x4`], that every kernel is written against.
//!
//! The kernels are the same source on every target; only this module knows the instruction set:
//! - `wasm32` with `+simd128`: `core::arch::wasm32::v128` (the build that ships). With `+relaxed-simd` as well,
//!   [`F32x4::mul_add`] is `f32x4.relaxed_madd` (a fused multiply-add where the engine has one), else `f32x4.mul`
//!   then `f32x4.add`.
//! - `x86_64`: SSE2 `__m128` (part of the x86_64 baseline), so `cargo test` runs the kernels fast natively.
//! - anything else (and wasm32 without `+simd128`): plain `[f32; 4]`, which LLVM vectorizes where it can.
//!
//! Semantics are those of wasm SIMD128 wherever the targets could differ: [`F32x4::min`]/[`F32x4::max`] are the
//! *pseudo*-minimum/maximum (`pmin`/`pmax`: `b < a ? b : a`, which is one `minps` on x86 and what V8 lowers best),
//! so a NaN in `self` wins and a NaN in the argument is ignored, and rounding functions are IEEE.

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[path = "wasm32.rs"]
mod imp;

#[cfg(target_arch = "x86_64")]
#[path = "sse.rs"]
mod imp;

#[cfg(not(any(all(target_arch = "wasm32", target_feature = "simd128"), target_arch = "x86_64")))]
#[path = "portable.rs"]
mod imp;

pub use imp::{F32x4, Mask};

/// Lanes per vector.
pub const LANES: usize = 4;

/// The instruction set [`F32x4`] compiles to in this build, for reports and benchmarks.
pub const INSTRUCTION_SET: &str = imp::NAME;

impl F32x4 {
    /// Loads the first `min(4, s.len())` values of `s`; missing lanes are zero.
    #[inline(always)]
    pub fn load_partial(s: &[f32]) -> Self {
        if s.len() >= LANES {
            // SAFETY: four values are readable.
            unsafe { Self::load(s.as_ptr()) }
        } else {
            let mut lanes = [0.0; LANES];
            lanes[..s.len()].copy_from_slice(s);
            Self::from_array(lanes)
        }
    }

    /// Stores the first `min(4, s.len())` lanes into `s`.
    #[inline(always)]
    pub fn store_partial(self, s: &mut [f32]) {
        if s.len() >= LANES {
            // SAFETY: four values are writable.
            unsafe { self.store(s.as_mut_ptr()) }
        } else {
            let n = s.len();
            s.copy_from_slice(&self.to_array()[..n]);
        }
    }

    /// Loads four values from a slice of at least four.
    #[inline(always)]
    pub fn load_from(s: &[f32]) -> Self {
        assert!(s.len() >= LANES);
        // SAFETY: checked above.
        unsafe { Self::load(s.as_ptr()) }
    }

    /// Stores four values into a slice of at least four.
    #[inline(always)]
    pub fn store_to(self, s: &mut [f32]) {
        assert!(s.len() >= LANES);
        // SAFETY: checked above.
        unsafe { self.store(s.as_mut_ptr()) }
    }

    /// The sum of the four lanes.
    #[inline(always)]
    pub fn reduce_sum(self) -> f32 {
        let [a, b, c, d] = self.to_array();
        (a + c) + (b + d)
    }

    /// The largest lane (NaN lanes are ignored unless all are NaN).
    #[inline(always)]
    pub fn reduce_max(self) -> f32 {
        let [a, b, c, d] = self.to_array();
        a.max(b).max(c.max(d))
    }

    /// The smallest lane (NaN lanes are ignored unless all are NaN).
    #[inline(always)]
    pub fn reduce_min(self) -> f32 {
        let [a, b, c, d] = self.to_array();
        a.min(b).min(c.min(d))
    }

    /// The bit patterns of the lanes.
    #[inline(always)]
    pub fn to_bits(self) -> [u32; 4] {
        self.to_array().map(f32::to_bits)
    }

    /// Lanes from bit patterns.
    #[inline(always)]
    pub fn from_bits(bits: [u32; 4]) -> Self {
        Self::from_array(bits.map(f32::from_bits))
    }

    /// `2^n` for integer-valued lanes `n` in `[-126, 127]`, built from the exponent bits.
    #[inline(always)]
    pub fn pow2i(n: Self) -> Self {
        imp::pow2i(n)
    }

    /// Lane-wise function applied through scalars: for the rare functions no instruction covers.
    #[inline(always)]
    pub fn map(self, f: impl Fn(f32) -> f32) -> Self {
        let [a, b, c, d] = self.to_array();
        Self::from_array([f(a), f(b), f(c), f(d)])
    }
}

impl core::ops::Add for F32x4 {
    type Output = Self;
    #[inline(always)]
    fn add(self, b: Self) -> Self {
        self.add_(b)
    }
}

impl core::ops::Sub for F32x4 {
    type Output = Self;
    #[inline(always)]
    fn sub(self, b: Self) -> Self {
        self.sub_(b)
    }
}

impl core::ops::Mul for F32x4 {
    type Output = Self;
    #[inline(always)]
    fn mul(self, b: Self) -> Self {
        self.mul_(b)
    }
}

impl core::ops::Div for F32x4 {
    type Output = Self;
    #[inline(always)]
    fn div(self, b: Self) -> Self {
        self.div_(b)
    }
}

impl core::ops::Neg for F32x4 {
    type Output = Self;
    #[inline(always)]
    fn neg(self) -> Self {
        self.neg_()
    }
}

impl core::fmt::Debug for F32x4 {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        self.to_array().fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn v(a: [f32; 4]) -> F32x4 {
        F32x4::from_array(a)
    }

    #[test]
    fn arithmetic_matches_scalars() {
        let (a, b, c) = (v([1.0, -2.0, 3.5, 0.25]), v([4.0, 0.5, -1.0, 8.0]), v([0.5, 0.5, 0.5, 0.5]));
        assert_eq!((a + b).to_array(), [5.0, -1.5, 2.5, 8.25]);
        assert_eq!((a - b).to_array(), [-3.0, -2.5, 4.5, -7.75]);
        assert_eq!((a * b).to_array(), [4.0, -1.0, -3.5, 2.0]);
        assert_eq!((a / b).to_array(), [0.25, -4.0, -3.5, 0.03125]);
        assert_eq!(a.mul_add(b, c).to_array(), [4.5, -0.5, -3.0, 2.5]);
        assert_eq!((-a).to_array(), [-1.0, 2.0, -3.5, -0.25]);
        assert_eq!(a.abs().to_array(), [1.0, 2.0, 3.5, 0.25]);
        assert_eq!(v([4.0, 9.0, 0.0, 2.25]).sqrt().to_array(), [2.0, 3.0, 0.0, 1.5]);
        assert_eq!(a.min(b).to_array(), [1.0, -2.0, -1.0, 0.25]);
        assert_eq!(a.max(b).to_array(), [4.0, 0.5, 3.5, 8.0]);
        assert_eq!(a.reduce_sum(), 2.75);
        assert_eq!(a.reduce_max(), 3.5);
        assert_eq!(a.reduce_min(), -2.0);
    }

    #[test]
    fn pseudo_min_max_let_a_nan_in_self_win() {
        let nan = v([f32::NAN, 1.0, 1.0, 1.0]);
        let one = F32x4::splat(1.0);
        assert!(nan.max(F32x4::zero()).to_array()[0].is_nan());
        assert_eq!(F32x4::zero().max(nan).to_array()[0], 0.0);
        assert!(nan.min(one).to_array()[0].is_nan());
    }

    #[test]
    fn rounding_is_ieee() {
        let x = v([-1.5, 2.5, -0.25, 1e9]);
        assert_eq!(x.floor().to_array(), [-2.0, 2.0, -1.0, 1e9]);
        assert_eq!(x.ceil().to_array(), [-1.0, 3.0, -0.0, 1e9]);
        assert_eq!(x.round_even().to_array(), [-2.0, 2.0, -0.0, 1e9]);
        assert_eq!(v([-3.7, 3.7, 1e10, -0.5]).trunc().to_array(), [-3.0, 3.0, 1e10, -0.0]);
    }

    #[test]
    fn comparisons_select_lanes() {
        let (a, b) = (v([1.0, 2.0, 3.0, 4.0]), v([4.0, 2.0, 1.0, 5.0]));
        assert_eq!(F32x4::select(a.lt(b), a, b).to_array(), [1.0, 2.0, 1.0, 4.0]);
        assert_eq!(F32x4::select(a.le(b), a, b).to_array(), [1.0, 2.0, 1.0, 4.0]);
        assert_eq!(F32x4::select(a.gt(b), a, b).to_array(), [4.0, 2.0, 3.0, 5.0]);
        assert_eq!(F32x4::select(a.ge(b), a, b).to_array(), [4.0, 2.0, 3.0, 5.0]);
        assert_eq!(F32x4::select(a.eq(b), a, F32x4::zero()).to_array(), [0.0, 2.0, 0.0, 0.0]);
    }

    #[test]
    fn lanes_loads_and_partial_access() {
        let x = v([1.0, 2.0, 3.0, 4.0]);
        assert_eq!(x.lane::<2>().to_array(), [3.0; 4]);
        let data = [5.0, 6.0, 7.0];
        assert_eq!(F32x4::load_partial(&data).to_array(), [5.0, 6.0, 7.0, 0.0]);
        // SAFETY: data has a value at index 1.
        assert_eq!(unsafe { F32x4::load_splat(data.as_ptr().add(1)) }.to_array(), [6.0; 4]);
        let mut out = [0.0; 2];
        x.store_partial(&mut out);
        assert_eq!(out, [1.0, 2.0]);
    }

    #[test]
    fn pow2i_builds_exponents() {
        let n = v([0.0, 1.0, -3.0, 127.0]);
        assert_eq!(F32x4::pow2i(n).to_array(), [1.0, 2.0, 0.125, 2f32.powi(127)]);
        assert_eq!(F32x4::pow2i(F32x4::splat(-126.0)).to_array(), [f32::MIN_POSITIVE; 4]);
    }
}
