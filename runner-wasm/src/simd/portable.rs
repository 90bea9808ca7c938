//! [`F32x4`] as a plain array, for targets without a SIMD implementation here (LLVM vectorizes it where it can).

pub(super) const NAME: &str = "portable [f32; 4]";

/// Four `f32` lanes.
#[derive(Clone, Copy)]
#[repr(transparent)]
pub struct F32x4([f32; 4]);

/// A lane mask from a comparison.
#[derive(Clone, Copy)]
#[repr(transparent)]
pub struct Mask([bool; 4]);

#[inline(always)]
fn zip(a: [f32; 4], b: [f32; 4], f: impl Fn(f32, f32) -> f32) -> [f32; 4] {
    [f(a[0], b[0]), f(a[1], b[1]), f(a[2], b[2]), f(a[3], b[3])]
}

#[inline(always)]
fn cmp(a: [f32; 4], b: [f32; 4], f: impl Fn(f32, f32) -> bool) -> Mask {
    Mask([f(a[0], b[0]), f(a[1], b[1]), f(a[2], b[2]), f(a[3], b[3])])
}

impl F32x4 {
    /// All lanes `x`.
    #[inline(always)]
    pub fn splat(x: f32) -> Self {
        Self([x; 4])
    }

    /// All lanes zero.
    #[inline(always)]
    pub fn zero() -> Self {
        Self([0.0; 4])
    }

    /// The lanes of an array.
    #[inline(always)]
    pub fn from_array(a: [f32; 4]) -> Self {
        Self(a)
    }

    /// The lanes as an array.
    #[inline(always)]
    pub fn to_array(self) -> [f32; 4] {
        self.0
    }

    /// Loads four values from `p` (any alignment).
    ///
    /// # Safety
    /// `p..p+4` must be readable.
    #[inline(always)]
    pub unsafe fn load(p: *const f32) -> Self {
        // SAFETY: the caller guarantees four readable values.
        Self(unsafe { (p as *const [f32; 4]).read_unaligned() })
    }

    /// Stores four values at `p` (any alignment).
    ///
    /// # Safety
    /// `p..p+4` must be writable.
    #[inline(always)]
    pub unsafe fn store(self, p: *mut f32) {
        // SAFETY: the caller guarantees four writable values.
        unsafe { (p as *mut [f32; 4]).write_unaligned(self.0) }
    }

    /// Loads one value from `p` into all lanes.
    ///
    /// # Safety
    /// `p` must be readable.
    #[inline(always)]
    pub unsafe fn load_splat(p: *const f32) -> Self {
        // SAFETY: the caller guarantees one readable value.
        Self([unsafe { p.read() }; 4])
    }

    #[inline(always)]
    pub(super) fn add_(self, b: Self) -> Self {
        Self(zip(self.0, b.0, |x, y| x + y))
    }

    #[inline(always)]
    pub(super) fn sub_(self, b: Self) -> Self {
        Self(zip(self.0, b.0, |x, y| x - y))
    }

    #[inline(always)]
    pub(super) fn mul_(self, b: Self) -> Self {
        Self(zip(self.0, b.0, |x, y| x * y))
    }

    #[inline(always)]
    pub(super) fn div_(self, b: Self) -> Self {
        Self(zip(self.0, b.0, |x, y| x / y))
    }

    #[inline(always)]
    pub(super) fn neg_(self) -> Self {
        self.map(|x| -x)
    }

    /// `self * b + c` (a multiply then an add).
    #[inline(always)]
    pub fn mul_add(self, b: Self, c: Self) -> Self {
        self.mul_(b).add_(c)
    }

    /// Pseudo-minimum `b < self ? b : self`.
    #[inline(always)]
    pub fn min(self, b: Self) -> Self {
        Self(zip(self.0, b.0, |x, y| if y < x { y } else { x }))
    }

    /// Pseudo-maximum `self < b ? b : self`.
    #[inline(always)]
    pub fn max(self, b: Self) -> Self {
        Self(zip(self.0, b.0, |x, y| if x < y { y } else { x }))
    }

    /// Absolute value.
    #[inline(always)]
    pub fn abs(self) -> Self {
        self.map(f32::abs)
    }

    /// Square root.
    #[inline(always)]
    pub fn sqrt(self) -> Self {
        self.map(f32::sqrt)
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
        Self([self.0[L]; 4])
    }

    /// `self < b`.
    #[inline(always)]
    pub fn lt(self, b: Self) -> Mask {
        cmp(self.0, b.0, |x, y| x < y)
    }

    /// `self <= b`.
    #[inline(always)]
    pub fn le(self, b: Self) -> Mask {
        cmp(self.0, b.0, |x, y| x <= y)
    }

    /// `self > b`.
    #[inline(always)]
    pub fn gt(self, b: Self) -> Mask {
        cmp(self.0, b.0, |x, y| x > y)
    }

    /// `self >= b`.
    #[inline(always)]
    pub fn ge(self, b: Self) -> Mask {
        cmp(self.0, b.0, |x, y| x >= y)
    }

    /// `self == b`.
    #[inline(always)]
    pub fn eq(self, b: Self) -> Mask {
        cmp(self.0, b.0, |x, y| x == y)
    }

    /// `if mask { a } else { b }` lane by lane.
    #[inline(always)]
    pub fn select(mask: Mask, a: Self, b: Self) -> Self {
        let m = mask.0;
        Self(core::array::from_fn(|i| if m[i] { a.0[i] } else { b.0[i] }))
    }

    /// The sign bit of `sign` on the magnitude of `self`.
    #[inline(always)]
    pub fn copysign(self, sign: Self) -> Self {
        Self(zip(self.0, sign.0, f32::copysign))
    }
}

impl Mask {
    /// Lanes true in both.
    #[inline(always)]
    pub fn and(self, b: Self) -> Self {
        Self(core::array::from_fn(|i| self.0[i] && b.0[i]))
    }

    /// Lanes true in either.
    #[inline(always)]
    pub fn or(self, b: Self) -> Self {
        Self(core::array::from_fn(|i| self.0[i] || b.0[i]))
    }
}

#[inline(always)]
pub(super) fn pow2i(n: F32x4) -> F32x4 {
    n.map(|e| f32::from_bits(((e as i32 + 127) as u32) << 23))
}

impl core::ops::Not for Mask {
    type Output = Self;

    /// Lanes false in `self`.
    #[inline(always)]
    fn not(self) -> Self {
        Self(self.0.map(|b| !b))
    }
}
