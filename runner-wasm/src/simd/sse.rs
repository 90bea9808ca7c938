//! [`F32x4`] on x86_64 SSE2 (`__m128`), the native build the tests run fastest on.

use core::arch::x86_64::*;

pub(super) const NAME: &str = "x86_64 sse2";

/// Four `f32` lanes.
#[derive(Clone, Copy)]
#[repr(transparent)]
pub struct F32x4(__m128);

/// A lane mask from a comparison: all bits set where true.
#[derive(Clone, Copy)]
#[repr(transparent)]
pub struct Mask(__m128);

// SAFETY (for every `unsafe` block below without its own comment): SSE2 is part of the x86_64 baseline, so these
// intrinsics are always available; only the pointer accesses carry their own contracts.
impl F32x4 {
    /// All lanes `x`.
    #[inline(always)]
    pub fn splat(x: f32) -> Self {
        Self(unsafe { _mm_set1_ps(x) })
    }

    /// All lanes zero.
    #[inline(always)]
    pub fn zero() -> Self {
        Self(unsafe { _mm_setzero_ps() })
    }

    /// The lanes of an array.
    #[inline(always)]
    pub fn from_array(a: [f32; 4]) -> Self {
        // SAFETY: reads four values of a local array.
        Self(unsafe { _mm_loadu_ps(a.as_ptr()) })
    }

    /// The lanes as an array.
    #[inline(always)]
    pub fn to_array(self) -> [f32; 4] {
        let mut a = [0.0; 4];
        // SAFETY: writes four values of a local array.
        unsafe { _mm_storeu_ps(a.as_mut_ptr(), self.0) };
        a
    }

    /// Loads four values from `p` (any alignment).
    ///
    /// # Safety
    /// `p..p+4` must be readable.
    #[inline(always)]
    pub unsafe fn load(p: *const f32) -> Self {
        // SAFETY: the caller guarantees four readable values.
        Self(unsafe { _mm_loadu_ps(p) })
    }

    /// Stores four values at `p` (any alignment).
    ///
    /// # Safety
    /// `p..p+4` must be writable.
    #[inline(always)]
    pub unsafe fn store(self, p: *mut f32) {
        // SAFETY: the caller guarantees four writable values.
        unsafe { _mm_storeu_ps(p, self.0) }
    }

    /// Loads one value from `p` into all lanes.
    ///
    /// # Safety
    /// `p` must be readable.
    #[inline(always)]
    pub unsafe fn load_splat(p: *const f32) -> Self {
        // SAFETY: the caller guarantees one readable value.
        Self(unsafe { _mm_load1_ps(p) })
    }

    #[inline(always)]
    pub(super) fn add_(self, b: Self) -> Self {
        Self(unsafe { _mm_add_ps(self.0, b.0) })
    }

    #[inline(always)]
    pub(super) fn sub_(self, b: Self) -> Self {
        Self(unsafe { _mm_sub_ps(self.0, b.0) })
    }

    #[inline(always)]
    pub(super) fn mul_(self, b: Self) -> Self {
        Self(unsafe { _mm_mul_ps(self.0, b.0) })
    }

    #[inline(always)]
    pub(super) fn div_(self, b: Self) -> Self {
        Self(unsafe { _mm_div_ps(self.0, b.0) })
    }

    #[inline(always)]
    pub(super) fn neg_(self) -> Self {
        Self(unsafe { _mm_xor_ps(self.0, _mm_set1_ps(-0.0)) })
    }

    /// `self * b + c` (a multiply then an add, as plain SIMD128 does).
    #[inline(always)]
    pub fn mul_add(self, b: Self, c: Self) -> Self {
        Self(unsafe { _mm_add_ps(_mm_mul_ps(self.0, b.0), c.0) })
    }

    /// Pseudo-minimum `b < self ? b : self`.
    #[inline(always)]
    pub fn min(self, b: Self) -> Self {
        // minps(x, y) = x < y ? x : y.
        Self(unsafe { _mm_min_ps(b.0, self.0) })
    }

    /// Pseudo-maximum `self < b ? b : self`.
    #[inline(always)]
    pub fn max(self, b: Self) -> Self {
        // maxps(x, y) = x > y ? x : y.
        Self(unsafe { _mm_max_ps(b.0, self.0) })
    }

    /// Absolute value.
    #[inline(always)]
    pub fn abs(self) -> Self {
        Self(unsafe { _mm_andnot_ps(_mm_set1_ps(-0.0), self.0) })
    }

    /// Square root.
    #[inline(always)]
    pub fn sqrt(self) -> Self {
        Self(unsafe { _mm_sqrt_ps(self.0) })
    }

    /// Rounds toward −∞.
    #[inline(always)]
    pub fn floor(self) -> Self {
        self.map(f32::floor)
    }

    /// Rounds toward +∞.
    #[inline(always)]
    pub fn ceil(self) -> Self {
        self.map(f32::ceil)
    }

    /// Rounds toward zero.
    #[inline(always)]
    pub fn trunc(self) -> Self {
        self.map(f32::trunc)
    }

    /// Rounds to the nearest integer, ties to even.
    #[inline(always)]
    pub fn round_even(self) -> Self {
        self.map(f32::round_ties_even)
    }

    /// Lane `L` in all lanes.
    #[inline(always)]
    pub fn lane<const L: usize>(self) -> Self {
        Self(unsafe {
            match L {
                0 => _mm_shuffle_ps::<0x00>(self.0, self.0),
                1 => _mm_shuffle_ps::<0x55>(self.0, self.0),
                2 => _mm_shuffle_ps::<0xAA>(self.0, self.0),
                _ => _mm_shuffle_ps::<0xFF>(self.0, self.0),
            }
        })
    }

    /// `self < b`.
    #[inline(always)]
    pub fn lt(self, b: Self) -> Mask {
        Mask(unsafe { _mm_cmplt_ps(self.0, b.0) })
    }

    /// `self <= b`.
    #[inline(always)]
    pub fn le(self, b: Self) -> Mask {
        Mask(unsafe { _mm_cmple_ps(self.0, b.0) })
    }

    /// `self > b`.
    #[inline(always)]
    pub fn gt(self, b: Self) -> Mask {
        Mask(unsafe { _mm_cmpgt_ps(self.0, b.0) })
    }

    /// `self >= b`.
    #[inline(always)]
    pub fn ge(self, b: Self) -> Mask {
        Mask(unsafe { _mm_cmpge_ps(self.0, b.0) })
    }

    /// `self == b`.
    #[inline(always)]
    pub fn eq(self, b: Self) -> Mask {
        Mask(unsafe { _mm_cmpeq_ps(self.0, b.0) })
    }

    /// `if mask { a } else { b }` lane by lane.
    #[inline(always)]
    pub fn select(mask: Mask, a: Self, b: Self) -> Self {
        Self(unsafe { _mm_or_ps(_mm_and_ps(mask.0, a.0), _mm_andnot_ps(mask.0, b.0)) })
    }

    /// The sign bit of `sign` on the magnitude of `self`.
    #[inline(always)]
    pub fn copysign(self, sign: Self) -> Self {
        Self(unsafe {
            let bit = _mm_set1_ps(-0.0);
            _mm_or_ps(_mm_andnot_ps(bit, self.0), _mm_and_ps(bit, sign.0))
        })
    }
}

impl Mask {
    /// Lanes true in both.
    #[inline(always)]
    pub fn and(self, b: Self) -> Self {
        Self(unsafe { _mm_and_ps(self.0, b.0) })
    }

    /// Lanes true in either.
    #[inline(always)]
    pub fn or(self, b: Self) -> Self {
        Self(unsafe { _mm_or_ps(self.0, b.0) })
    }
}

#[inline(always)]
pub(super) fn pow2i(n: F32x4) -> F32x4 {
    F32x4(unsafe { _mm_castsi128_ps(_mm_slli_epi32::<23>(_mm_add_epi32(_mm_cvttps_epi32(n.0), _mm_set1_epi32(127)))) })
}

impl core::ops::Not for Mask {
    type Output = Self;

    /// Lanes false in `self`.
    #[inline(always)]
    fn not(self) -> Self {
        Self(unsafe { _mm_xor_ps(self.0, _mm_castsi128_ps(_mm_set1_epi32(-1))) })
    }
}
