//! Element types: reading and writing little-endian values, conversions, and the arithmetic kernels share.
//!
//! Kernels are generic over these traits and a `*_types!` macro picks the Rust type from a runtime [`DType`], so one
//! body serves every dtype an op allows.

use std::fmt::Debug;
use std::ops::{Add, AddAssign, Div, DivAssign, Mul, MulAssign, Neg, Sub, SubAssign};

use half::f16;
use wdnn_descriptor_spec::DType;
use wdnn_runner_core::Tensor;

use crate::error::{Result, invalid};

/// A value in the widest type of its kind: the pivot of `Cast` and of attribute values such as `Pad`'s.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Scalar {
    /// Any float.
    F(f64),
    /// Any signed integer.
    I(i64),
    /// Any unsigned integer.
    U(u64),
    /// A bool.
    B(bool),
}

/// A Rust type that stores one [`DType`].
pub(crate) trait Elem: Copy + Default + PartialEq + PartialOrd + Debug + 'static {
    /// The dtype.
    const DTYPE: DType;
    /// Reads one value from exactly `DTYPE.size()` little-endian bytes.
    fn read(bytes: &[u8]) -> Self;
    /// Appends the little-endian bytes.
    fn write(self, out: &mut Vec<u8>);
    /// The value, widened.
    fn to_scalar(self) -> Scalar;
    /// Converts with ONNX `Cast` semantics: floats to integers truncate toward zero (saturating), integers wrap,
    /// anything to bool is `!= 0`.
    fn from_scalar(s: Scalar) -> Self;
}

/// Numbers: what elementwise arithmetic, reductions and comparisons need. Integer arithmetic wraps, as in ONNX
/// runtimes, instead of panicking.
pub(crate) trait Num: Elem {
    const ZERO: Self;
    const ONE: Self;
    /// `v as Self`.
    fn from_f64(v: f64) -> Self;
    /// `self as f64`.
    fn to_f64(self) -> f64;
    fn plus(self, o: Self) -> Self;
    fn minus(self, o: Self) -> Self;
    fn times(self, o: Self) -> Self;
    /// Division; integers truncate toward zero. The caller rules out an integer zero divisor.
    fn divide(self, o: Self) -> Self;
    /// Remainder with the sign of the dividend (C `fmod`). The caller rules out an integer zero divisor.
    fn rem_trunc(self, o: Self) -> Self;
    /// Remainder with the sign of the divisor (Python `%`). The caller rules out an integer zero divisor.
    fn rem_floor(self, o: Self) -> Self {
        let r = self.rem_trunc(o);
        if r != Self::ZERO && ((r < Self::ZERO) != (o < Self::ZERO)) { r.plus(o) } else { r }
    }
    fn pow(self, e: Self) -> Self;
    fn is_nan(self) -> bool;
    /// Maximum; a NaN wins, as in numpy.
    fn max_of(self, o: Self) -> Self {
        if self.is_nan() || o.is_nan() {
            if self.is_nan() { self } else { o }
        } else if o > self {
            o
        } else {
            self
        }
    }
    /// Minimum; a NaN wins, as in numpy.
    fn min_of(self, o: Self) -> Self {
        if self.is_nan() || o.is_nan() {
            if self.is_nan() { self } else { o }
        } else if o < self {
            o
        } else {
            self
        }
    }
    fn abs_of(self) -> Self {
        if self < Self::ZERO { Self::ZERO.minus(self) } else { self }
    }
}

/// Integers: the bitwise functions.
pub(crate) trait Int: Num {
    fn bit_not(self) -> Self;
    fn bit_and(self, o: Self) -> Self;
    fn bit_or(self, o: Self) -> Self;
    fn bit_xor(self, o: Self) -> Self;
    /// ONNX `BitShift`: a shift by a negative amount or by the type's width or more leaves no bit of `self`: 0.
    fn shift_left(self, o: Self) -> Self;
    /// Arithmetic for signed types; an out-of-range shift (negative, or the width or more) gives the sign fill:
    /// -1 for a negative `self`, else 0 (ONNX's reference).
    fn shift_right(self, o: Self) -> Self;
}

/// Floats (f32, f64): what the numeric kernels (conv, matmul, pooling, norms, resize) need.
pub(crate) trait Float:
    Num
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + AddAssign
    + SubAssign
    + MulAssign
    + DivAssign
{
}

macro_rules! float_elem {
    ($t:ty, $d:ident) => {
        impl Elem for $t {
            const DTYPE: DType = DType::$d;
            fn read(bytes: &[u8]) -> Self {
                bytes.try_into().map(<$t>::from_le_bytes).unwrap_or_default()
            }
            fn write(self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
            fn to_scalar(self) -> Scalar {
                Scalar::F(self as f64)
            }
            fn from_scalar(s: Scalar) -> Self {
                match s {
                    Scalar::F(v) => v as $t,
                    Scalar::I(v) => v as $t,
                    Scalar::U(v) => v as $t,
                    Scalar::B(v) => v as u8 as $t,
                }
            }
        }

        impl Num for $t {
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            fn from_f64(v: f64) -> Self {
                v as $t
            }
            fn to_f64(self) -> f64 {
                self as f64
            }
            fn plus(self, o: Self) -> Self {
                self + o
            }
            fn minus(self, o: Self) -> Self {
                self - o
            }
            fn times(self, o: Self) -> Self {
                self * o
            }
            fn divide(self, o: Self) -> Self {
                self / o
            }
            fn rem_trunc(self, o: Self) -> Self {
                self % o
            }
            fn pow(self, e: Self) -> Self {
                self.powf(e)
            }
            fn is_nan(self) -> bool {
                <$t>::is_nan(self)
            }
        }

        impl Float for $t {}
    };
}

float_elem!(f32, F32);
float_elem!(f64, F64);

macro_rules! int_elem {
    ($t:ty, $d:ident, $scalar:ident, $wide:ty) => {
        impl Elem for $t {
            const DTYPE: DType = DType::$d;
            fn read(bytes: &[u8]) -> Self {
                bytes.try_into().map(<$t>::from_le_bytes).unwrap_or_default()
            }
            fn write(self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
            fn to_scalar(self) -> Scalar {
                Scalar::$scalar(self as $wide)
            }
            fn from_scalar(s: Scalar) -> Self {
                match s {
                    Scalar::F(v) => v as $t,
                    Scalar::I(v) => v as $t,
                    Scalar::U(v) => v as $t,
                    Scalar::B(v) => v as $t,
                }
            }
        }

        impl Num for $t {
            const ZERO: Self = 0;
            const ONE: Self = 1;
            fn from_f64(v: f64) -> Self {
                v as $t
            }
            fn to_f64(self) -> f64 {
                self as f64
            }
            fn plus(self, o: Self) -> Self {
                self.wrapping_add(o)
            }
            fn minus(self, o: Self) -> Self {
                self.wrapping_sub(o)
            }
            fn times(self, o: Self) -> Self {
                self.wrapping_mul(o)
            }
            fn divide(self, o: Self) -> Self {
                if o == 0 { 0 } else { self.wrapping_div(o) }
            }
            fn rem_trunc(self, o: Self) -> Self {
                self.checked_rem(o).unwrap_or(0)
            }
            fn pow(self, e: Self) -> Self {
                match u32::try_from(e) {
                    Ok(e) => self.wrapping_pow(e),
                    // A negative exponent: only 1 and -1 survive truncation; 0 gives what f64 `powf` gives.
                    Err(_) => (self as f64).powf(e as f64) as $t,
                }
            }
            fn is_nan(self) -> bool {
                false
            }
        }

        impl Int for $t {
            fn bit_not(self) -> Self {
                !self
            }
            fn bit_and(self, o: Self) -> Self {
                self & o
            }
            fn bit_or(self, o: Self) -> Self {
                self | o
            }
            fn bit_xor(self, o: Self) -> Self {
                self ^ o
            }
            fn shift_left(self, o: Self) -> Self {
                u32::try_from(o).ok().and_then(|o| self.checked_shl(o)).unwrap_or(0)
            }
            fn shift_right(self, o: Self) -> Self {
                let fill = if (self as i128) < 0 { Self::ZERO.minus(Self::ONE) } else { Self::ZERO };
                u32::try_from(o).ok().and_then(|o| self.checked_shr(o)).unwrap_or(fill)
            }
        }
    };
}

int_elem!(i8, I8, I, i64);
int_elem!(i16, I16, I, i64);
int_elem!(i32, I32, I, i64);
int_elem!(i64, I64, I, i64);
int_elem!(u8, U8, U, u64);
int_elem!(u16, U16, U, u64);
int_elem!(u32, U32, U, u64);
int_elem!(u64, U64, U, u64);

impl Elem for f16 {
    const DTYPE: DType = DType::F16;
    fn read(bytes: &[u8]) -> Self {
        bytes.try_into().map(f16::from_le_bytes).unwrap_or_default()
    }
    fn write(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
    fn to_scalar(self) -> Scalar {
        Scalar::F(self.to_f64())
    }
    fn from_scalar(s: Scalar) -> Self {
        match s {
            Scalar::F(v) => f16::from_f64(v),
            Scalar::I(v) => f16::from_f64(v as f64),
            Scalar::U(v) => f16::from_f64(v as f64),
            Scalar::B(v) => f16::from_f64(v as u8 as f64),
        }
    }
}

impl Elem for bool {
    const DTYPE: DType = DType::Bool;
    fn read(bytes: &[u8]) -> Self {
        bytes.first().is_some_and(|&b| b != 0)
    }
    fn write(self, out: &mut Vec<u8>) {
        out.push(self as u8);
    }
    fn to_scalar(self) -> Scalar {
        Scalar::B(self)
    }
    fn from_scalar(s: Scalar) -> Self {
        match s {
            // NaN is not zero, so it casts to true, as in C.
            Scalar::F(v) => v != 0.0,
            Scalar::I(v) => v != 0,
            Scalar::U(v) => v != 0,
            Scalar::B(v) => v,
        }
    }
}

/// Runs `$body` with `$T` aliased to the Rust type of a float `$dtype` (f32, f64); `$other` for any other dtype.
macro_rules! float_types {
    ($dtype:expr, $T:ident => $body:expr, _ => $other:expr) => {
        match $dtype {
            ::wdnn_descriptor_spec::DType::F32 => {
                type $T = f32;
                $body
            }
            ::wdnn_descriptor_spec::DType::F64 => {
                type $T = f64;
                $body
            }
            _ => $other,
        }
    };
}

/// Runs `$body` with `$T` aliased to the Rust type of an integer `$dtype`; `$other` for any other dtype.
macro_rules! int_types {
    ($dtype:expr, $T:ident => $body:expr, _ => $other:expr) => {
        match $dtype {
            ::wdnn_descriptor_spec::DType::I8 => {
                type $T = i8;
                $body
            }
            ::wdnn_descriptor_spec::DType::I16 => {
                type $T = i16;
                $body
            }
            ::wdnn_descriptor_spec::DType::I32 => {
                type $T = i32;
                $body
            }
            ::wdnn_descriptor_spec::DType::I64 => {
                type $T = i64;
                $body
            }
            ::wdnn_descriptor_spec::DType::U8 => {
                type $T = u8;
                $body
            }
            ::wdnn_descriptor_spec::DType::U16 => {
                type $T = u16;
                $body
            }
            ::wdnn_descriptor_spec::DType::U32 => {
                type $T = u32;
                $body
            }
            ::wdnn_descriptor_spec::DType::U64 => {
                type $T = u64;
                $body
            }
            _ => $other,
        }
    };
}

/// Runs `$body` with `$T` aliased to the Rust type of a float or integer `$dtype` (not f16, not bool).
macro_rules! num_types {
    ($dtype:expr, $T:ident => $body:expr, _ => $other:expr) => {
        $crate::kernels::types::float_types!($dtype, $T => $body, _ => {
            $crate::kernels::types::int_types!($dtype, $T => $body, _ => $other)
        })
    };
}

/// Runs `$body` with `$T` aliased to the Rust type of any `$dtype`.
macro_rules! all_types {
    ($dtype:expr, $T:ident => $body:expr) => {
        match $dtype {
            ::wdnn_descriptor_spec::DType::F32 => {
                type $T = f32;
                $body
            }
            ::wdnn_descriptor_spec::DType::F64 => {
                type $T = f64;
                $body
            }
            ::wdnn_descriptor_spec::DType::F16 => {
                type $T = ::half::f16;
                $body
            }
            ::wdnn_descriptor_spec::DType::I8 => {
                type $T = i8;
                $body
            }
            ::wdnn_descriptor_spec::DType::I16 => {
                type $T = i16;
                $body
            }
            ::wdnn_descriptor_spec::DType::I32 => {
                type $T = i32;
                $body
            }
            ::wdnn_descriptor_spec::DType::I64 => {
                type $T = i64;
                $body
            }
            ::wdnn_descriptor_spec::DType::U8 => {
                type $T = u8;
                $body
            }
            ::wdnn_descriptor_spec::DType::U16 => {
                type $T = u16;
                $body
            }
            ::wdnn_descriptor_spec::DType::U32 => {
                type $T = u32;
                $body
            }
            ::wdnn_descriptor_spec::DType::U64 => {
                type $T = u64;
                $body
            }
            ::wdnn_descriptor_spec::DType::Bool => {
                type $T = bool;
                $body
            }
        }
    };
}

pub(crate) use {float_types, int_types, num_types};

/// The tensor's values as `T`, which must be its dtype.
pub(crate) fn values<T: Elem>(t: &Tensor) -> Result<Vec<T>> {
    if t.dtype() != T::DTYPE {
        return Err(invalid(format!("expected a {} tensor, found {}", T::DTYPE, t.dtype())));
    }
    Ok(t.bytes().chunks_exact(T::DTYPE.size()).map(T::read).collect())
}

/// A tensor of `shape` holding `values`.
pub(crate) fn to_tensor<T: Elem>(shape: &[u64], values: &[T]) -> Result<Tensor> {
    let mut bytes = Vec::with_capacity(values.len() * T::DTYPE.size());
    for &v in values {
        v.write(&mut bytes);
    }
    Tensor::from_bytes(T::DTYPE, shape, bytes).map_err(|e| invalid(e.to_string()))
}

/// The tensor's values, widened.
pub(crate) fn scalars(t: &Tensor) -> Vec<Scalar> {
    fn go<T: Elem>(t: &Tensor) -> Vec<Scalar> {
        t.bytes().chunks_exact(T::DTYPE.size()).map(|b| T::read(b).to_scalar()).collect()
    }
    all_types!(t.dtype(), T => go::<T>(t))
}

/// A `dtype` tensor of `shape` from widened values, converted with `Cast` semantics.
pub(crate) fn from_scalars(dtype: DType, shape: &[u64], values: &[Scalar]) -> Result<Tensor> {
    fn go<T: Elem>(shape: &[u64], values: &[Scalar]) -> Result<Tensor> {
        let v: Vec<T> = values.iter().map(|&s| T::from_scalar(s)).collect();
        to_tensor(shape, &v)
    }
    all_types!(dtype, T => go::<T>(shape, values))
}

/// The bytes of one `dtype` value converted from `s` with `Cast` semantics.
pub(crate) fn scalar_bytes(dtype: DType, s: Scalar) -> Vec<u8> {
    fn go<T: Elem>(s: Scalar) -> Vec<u8> {
        let mut out = Vec::with_capacity(8);
        T::from_scalar(s).write(&mut out);
        out
    }
    all_types!(dtype, T => go::<T>(s))
}

/// The values of an integer tensor (indices) as i64.
pub(crate) fn indices(t: &Tensor) -> Result<Vec<i64>> {
    if t.dtype().is_float() || t.dtype() == DType::Bool {
        return Err(invalid(format!("indices must be integers, found {}", t.dtype())));
    }
    Ok(scalars(t)
        .into_iter()
        .map(|s| match s {
            Scalar::I(v) => v,
            Scalar::U(v) => i64::try_from(v).unwrap_or(i64::MAX),
            _ => 0,
        })
        .collect())
}
