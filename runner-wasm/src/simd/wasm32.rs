//! [`F32x4`] on WebAssembly SIMD128 (`core::arch::wasm32`), with `f32x4.relaxed_madd` under `+relaxed-simd`.

use core::arch::wasm32::*;

#[cfg(target_feature = "relaxed-simd")]
pub(super) const NAME: &str = "wasm32 simd128 + relaxed-simd";
#[cfg(not(target_feature = "relaxed-simd"))]
pub(super) const NAME: &str = "wasm32 simd128";

/// Four `f32` lanes.
#[derive(Clone, Copy)]
#[repr(transparent)]
pub struct F32x4(v128);

/// A lane mask from a comparison: all bits set where true.
#[derive(Clone, Copy)]
#[repr(transparent)]
pub struct Mask(v128);

impl F32x4 {
    /// All lanes `x`.
    #[inline(always)]
    pub fn splat(x: f32) -> Self {
        Self(f32x4_splat(x))
    }

    /// All lanes zero.
    #[inline(always)]
    pub fn zero() -> Self {
        Self(f32x4_splat(0.0))
    }

    /// The lanes of an array.
    #[inline(always)]
    pub fn from_array(a: [f32; 4]) -> Self {
        Self(f32x4(a[0], a[1], a[2], a[3]))
    }

    /// The lanes as an array.
    #[inline(always)]
    pub fn to_array(self) -> [f32; 4] {
        [
            f32x4_extract_lane::<0>(self.0),
            f32x4_extract_lane::<1>(self.0),
            f32x4_extract_lane::<2>(self.0),
            f32x4_extract_lane::<3>(self.0),
        ]
    }

    /// Loads four values from `p` (any alignment).
    ///
    /// # Safety
    /// `p..p+4` must be readable.
    #[inline(always)]
    pub unsafe fn load(p: *const f32) -> Self {
        // SAFETY: the caller guarantees four readable values; v128_load accepts any alignment.
        Self(unsafe { v128_load(p as *const v128) })
    }

    /// Stores four values at `p` (any alignment).
    ///
    /// # Safety
    /// `p..p+4` must be writable.
    #[inline(always)]
    pub unsafe fn store(self, p: *mut f32) {
        // SAFETY: the caller guarantees four writable values.
        unsafe { v128_store(p as *mut v128, self.0) }
    }

    /// Loads one value from `p` into all lanes.
    ///
    /// # Safety
    /// `p` must be readable.
    #[inline(always)]
    pub unsafe fn load_splat(p: *const f32) -> Self {
        // SAFETY: the caller guarantees one readable value.
        Self(unsafe { v128_load32_splat(p as *const u32) })
    }

    #[inline(always)]
    pub(super) fn add_(self, b: Self) -> Self {
        Self(f32x4_add(self.0, b.0))
    }

    #[inline(always)]
    pub(super) fn sub_(self, b: Self) -> Self {
        Self(f32x4_sub(self.0, b.0))
    }

    #[inline(always)]
    pub(super) fn mul_(self, b: Self) -> Self {
        Self(f32x4_mul(self.0, b.0))
    }

    #[inline(always)]
    pub(super) fn div_(self, b: Self) -> Self {
        Self(f32x4_div(self.0, b.0))
    }

    #[inline(always)]
    pub(super) fn neg_(self) -> Self {
        Self(f32x4_neg(self.0))
    }

    /// `self * b + c`: fused (one rounding) where relaxed SIMD provides it, else a multiply then an add.
    #[inline(always)]
    pub fn mul_add(self, b: Self, c: Self) -> Self {
        #[cfg(target_feature = "relaxed-simd")]
        {
            Self(f32x4_relaxed_madd(self.0, b.0, c.0))
        }
        #[cfg(not(target_feature = "relaxed-simd"))]
        {
            Self(f32x4_add(f32x4_mul(self.0, b.0), c.0))
        }
    }

    /// Pseudo-minimum `b < self ? b : self`.
    #[inline(always)]
    pub fn min(self, b: Self) -> Self {
        Self(f32x4_pmin(self.0, b.0))
    }

    /// Pseudo-maximum `self < b ? b : self`.
    #[inline(always)]
    pub fn max(self, b: Self) -> Self {
        Self(f32x4_pmax(self.0, b.0))
    }

    /// Absolute value.
    #[inline(always)]
    pub fn abs(self) -> Self {
        Self(f32x4_abs(self.0))
    }

    /// Square root.
    #[inline(always)]
    pub fn sqrt(self) -> Self {
        Self(f32x4_sqrt(self.0))
    }

    /// Rounds toward −∞.
    #[inline(always)]
    pub fn floor(self) -> Self {
        Self(f32x4_floor(self.0))
    }

    /// Rounds toward +∞.
    #[inline(always)]
    pub fn ceil(self) -> Self {
        Self(f32x4_ceil(self.0))
    }

    /// Rounds toward zero.
    #[inline(always)]
    pub fn trunc(self) -> Self {
        Self(f32x4_trunc(self.0))
    }

    /// Rounds to the nearest integer, ties to even.
    #[inline(always)]
    pub fn round_even(self) -> Self {
        Self(f32x4_nearest(self.0))
    }

    /// Lane `L` in all lanes.
    #[inline(always)]
    pub fn lane<const L: usize>(self) -> Self {
        Self(match L {
            0 => i32x4_shuffle::<0, 0, 0, 0>(self.0, self.0),
            1 => i32x4_shuffle::<1, 1, 1, 1>(self.0, self.0),
            2 => i32x4_shuffle::<2, 2, 2, 2>(self.0, self.0),
            _ => i32x4_shuffle::<3, 3, 3, 3>(self.0, self.0),
        })
    }

    /// `self < b`.
    #[inline(always)]
    pub fn lt(self, b: Self) -> Mask {
        Mask(f32x4_lt(self.0, b.0))
    }

    /// `self <= b`.
    #[inline(always)]
    pub fn le(self, b: Self) -> Mask {
        Mask(f32x4_le(self.0, b.0))
    }

    /// `self > b`.
    #[inline(always)]
    pub fn gt(self, b: Self) -> Mask {
        Mask(f32x4_gt(self.0, b.0))
    }

    /// `self >= b`.
    #[inline(always)]
    pub fn ge(self, b: Self) -> Mask {
        Mask(f32x4_ge(self.0, b.0))
    }

    /// `self == b`.
    #[inline(always)]
    pub fn eq(self, b: Self) -> Mask {
        Mask(f32x4_eq(self.0, b.0))
    }

    /// `if mask { a } else { b }` lane by lane.
    #[inline(always)]
    pub fn select(mask: Mask, a: Self, b: Self) -> Self {
        Self(v128_bitselect(a.0, b.0, mask.0))
    }

    /// The sign bit of `sign` on the magnitude of `self`.
    #[inline(always)]
    pub fn copysign(self, sign: Self) -> Self {
        let bit = f32x4_splat(-0.0);
        Self(v128_bitselect(sign.0, self.0, bit))
    }
}

impl Mask {
    /// Lanes true in both.
    #[inline(always)]
    pub fn and(self, b: Self) -> Self {
        Self(v128_and(self.0, b.0))
    }

    /// Lanes true in either.
    #[inline(always)]
    pub fn or(self, b: Self) -> Self {
        Self(v128_or(self.0, b.0))
    }
}

#[inline(always)]
pub(super) fn pow2i(n: F32x4) -> F32x4 {
    let bits = i32x4_shl(i32x4_add(i32x4_trunc_sat_f32x4(n.0), i32x4_splat(127)), 23);
    F32x4(bits)
}

impl core::ops::Not for Mask {
    type Output = Self;

    /// Lanes false in `self`.
    #[inline(always)]
    fn not(self) -> Self {
        Self(v128_not(self.0))
    }
}
