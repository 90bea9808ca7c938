//! Elementwise ops: unary functions, binary functions with numpy broadcasting, `Where` and `Cast`.
//!
//! Float functions are evaluated in f64 and rounded once to the tensor's type, which is at least as exact as any
//! f32 runtime and keeps one definition per function.

use wdnn_descriptor_spec::{BinaryFn, DType, UnaryFn};
use wdnn_runner_core::Tensor;

use super::layout::{broadcast_map, broadcast_shape, broadcast_strides, dims, numel, walk};
use super::types::{
    Elem, Float, Int, Num, Scalar, float_types, from_scalars, int_types, num_types, scalars, to_tensor, values,
};
use crate::error::{Result, invalid, unsupported};

/// `fun(x)` for a float function, in f64; `None` for functions that are not float to float.
pub(crate) fn unary_f64(fun: UnaryFn, x: f64) -> Option<f64> {
    use UnaryFn::*;
    let softplus = |x: f64| {
        if x > 0.0 { x + (-x).exp().ln_1p() } else { x.exp().ln_1p() }
    };
    Some(match fun {
        Abs => x.abs(),
        Neg => -x,
        Exp => x.exp(),
        Log => x.ln(),
        Sqrt => x.sqrt(),
        Rsqrt => 1.0 / x.sqrt(),
        Reciprocal => 1.0 / x,
        Square => x * x,
        Sigmoid => {
            if x >= 0.0 {
                1.0 / (1.0 + (-x).exp())
            } else {
                let e = x.exp();
                e / (1.0 + e)
            }
        }
        Tanh => x.tanh(),
        Erf => erf(x),
        Floor => x.floor(),
        Ceil => x.ceil(),
        Round => x.round_ties_even(),
        Sign => {
            if x > 0.0 {
                1.0
            } else if x < 0.0 {
                -1.0
            } else if x == 0.0 {
                0.0
            } else {
                x
            }
        }
        Sin => x.sin(),
        Cos => x.cos(),
        Tan => x.tan(),
        Asin => x.asin(),
        Acos => x.acos(),
        Atan => x.atan(),
        Sinh => x.sinh(),
        Cosh => x.cosh(),
        Asinh => x.asinh(),
        Acosh => x.acosh(),
        Atanh => x.atanh(),
        Relu => {
            if x < 0.0 {
                0.0
            } else {
                x
            }
        }
        Softplus => softplus(x),
        Softsign => x / (1.0 + x.abs()),
        Clip { min, max } => {
            if x < min as f64 {
                min as f64
            } else if x > max as f64 {
                max as f64
            } else {
                x
            }
        }
        LeakyRelu { alpha } => {
            if x < 0.0 {
                alpha as f64 * x
            } else {
                x
            }
        }
        Elu { alpha } => {
            if x < 0.0 {
                alpha as f64 * x.exp_m1()
            } else {
                x
            }
        }
        Selu { alpha, gamma } => {
            if x > 0.0 {
                gamma as f64 * x
            } else {
                gamma as f64 * (alpha as f64 * x.exp() - alpha as f64)
            }
        }
        Celu { alpha } => {
            let a = alpha as f64;
            x.max(0.0) + (a * (x / a).exp_m1()).min(0.0)
        }
        ThresholdedRelu { alpha } => {
            if x > alpha as f64 {
                x
            } else {
                0.0
            }
        }
        HardSigmoid { alpha, beta } => (alpha as f64 * x + beta as f64).clamp(0.0, 1.0),
        HardSwish => x * (x / 6.0 + 0.5).clamp(0.0, 1.0),
        Mish => x * softplus(x).tanh(),
        Gelu { approximate: false } => 0.5 * x * (1.0 + erf(x / std::f64::consts::SQRT_2)),
        Gelu { approximate: true } => {
            let c = (2.0 / std::f64::consts::PI).sqrt();
            0.5 * x * (1.0 + (c * (x + 0.044715 * x * x * x)).tanh())
        }
        Shrink { bias, lambd } => {
            if x < -lambd as f64 {
                x + bias as f64
            } else if x > lambd as f64 {
                x - bias as f64
            } else {
                0.0
            }
        }
        Not | BitwiseNot | IsNaN | IsInf { .. } | Unknown => return None,
    })
}

/// The error function, to f64 precision.
///
/// Uses `erf(x) = 2/√π · e^(−x²) · Σ 2ⁿ x^(2n+1) / (1·3·…·(2n+1))`, whose terms are all positive (no cancellation);
/// beyond |x| = 6, `1 − |erf(x)|` is below 2e-17.
pub(crate) fn erf(x: f64) -> f64 {
    if x.is_nan() {
        return x;
    }
    if x.abs() >= 6.0 {
        return x.signum();
    }
    let x2 = x * x;
    let mut term = x;
    let mut sum = x;
    let mut n = 0.0;
    while term.abs() > sum.abs() * 1e-17 && n < 500.0 {
        n += 1.0;
        term *= 2.0 * x2 / (2.0 * n + 1.0);
        sum += term;
    }
    2.0 / std::f64::consts::PI.sqrt() * (-x2).exp() * sum
}

/// Integer versions of the unary functions that ONNX defines on integers.
fn unary_int<T: Int>(fun: UnaryFn) -> Option<fn(T) -> T> {
    use UnaryFn::*;
    Some(match fun {
        Abs => |x: T| x.abs_of(),
        Neg => |x: T| T::ZERO.minus(x),
        Square => |x: T| x.times(x),
        Relu => |x: T| if x < T::ZERO { T::ZERO } else { x },
        Sign => |x: T| {
            if x > T::ZERO {
                T::ONE
            } else if x < T::ZERO {
                T::ZERO.minus(T::ONE)
            } else {
                T::ZERO
            }
        },
        Floor | Ceil | Round => |x: T| x,
        BitwiseNot => |x: T| x.bit_not(),
        _ => return None,
    })
}

/// ONNX unary ops.
pub(crate) fn unary(fun: UnaryFn, x: &Tensor, out: &(DType, Vec<u64>)) -> Result<Tensor> {
    let what = || format!("{fun:?} on {}", x.dtype());
    let expected = if matches!(fun, UnaryFn::IsNaN | UnaryFn::IsInf { .. }) { DType::Bool } else { x.dtype() };
    if out.0 != expected || out.1 != x.shape() {
        return Err(invalid(format!("{} gives {expected} {:?}, not {} {:?}", what(), x.shape(), out.0, out.1)));
    }
    match (fun, x.dtype()) {
        (UnaryFn::Not, DType::Bool) => {
            let v: Vec<bool> = values::<bool>(x)?.into_iter().map(|b| !b).collect();
            to_tensor(x.shape(), &v)
        }
        (UnaryFn::IsNaN, dt) => float_types!(dt, T => {
            let v: Vec<bool> = values::<T>(x)?.into_iter().map(|v| v.is_nan()).collect();
            to_tensor(x.shape(), &v)
        }, _ => Err(unsupported(what()))),
        (UnaryFn::IsInf { detect_positive, detect_negative }, dt) => float_types!(dt, T => {
            let v: Vec<bool> = values::<T>(x)?
                .into_iter()
                .map(|v| {
                    let v = v.to_f64();
                    let (pos, neg) = (v == f64::INFINITY, v == f64::NEG_INFINITY);
                    (detect_positive && pos) || (detect_negative && neg)
                })
                .collect();
            to_tensor(x.shape(), &v)
        }, _ => Err(unsupported(what()))),
        (fun, dt) if dt.is_float() => float_types!(dt, T => {
            let v = values::<T>(x)?;
            let y = map_float(fun, &v).ok_or_else(|| unsupported(what()))?;
            to_tensor(x.shape(), &y)
        }, _ => Err(unsupported(what()))),
        (UnaryFn::Clip { min, max }, dt) => int_types!(dt, T => {
            let (lo, hi) = (T::from_f64(min as f64), T::from_f64(max as f64));
            let clip = |v: T| if v < lo { lo } else if v > hi { hi } else { v };
            let y: Vec<T> = values::<T>(x)?.into_iter().map(clip).collect();
            to_tensor(x.shape(), &y)
        }, _ => Err(unsupported(what()))),
        (fun, dt) => int_types!(dt, T => {
            let f = unary_int::<T>(fun).ok_or_else(|| unsupported(what()))?;
            let y: Vec<T> = values::<T>(x)?.into_iter().map(f).collect();
            to_tensor(x.shape(), &y)
        }, _ => Err(unsupported(what()))),
    }
}

/// A float unary function over values, or `None` when `fun` is not float to float.
pub(crate) fn map_float<T: Float>(fun: UnaryFn, v: &[T]) -> Option<Vec<T>> {
    unary_f64(fun, 0.0)?;
    Some(v.iter().map(|&x| T::from_f64(unary_f64(fun, x.to_f64()).unwrap_or(f64::NAN))).collect())
}

/// The arithmetic binary functions every number type has.
pub(crate) fn num_fn<T: Num>(fun: BinaryFn) -> Option<fn(T, T) -> T> {
    use BinaryFn::*;
    Some(match fun {
        Add => T::plus,
        Sub => T::minus,
        Mul => T::times,
        Div => T::divide,
        Pow => T::pow,
        Max => T::max_of,
        Min => T::min_of,
        Mod => T::rem_floor,
        FMod => T::rem_trunc,
        PRelu => |x: T, slope: T| if x < T::ZERO { x.times(slope) } else { x },
        _ => return None,
    })
}

/// The integer-only binary functions, then the common ones.
fn int_fn<T: Int>(fun: BinaryFn) -> Option<fn(T, T) -> T> {
    use BinaryFn::*;
    Some(match fun {
        BitwiseAnd => T::bit_and,
        BitwiseOr => T::bit_or,
        BitwiseXor => T::bit_xor,
        BitShiftLeft => T::shift_left,
        BitShiftRight => T::shift_right,
        _ => return num_fn(fun),
    })
}

/// Comparisons, for any ordered type.
fn compare_fn<T: PartialOrd>(fun: BinaryFn) -> Option<fn(T, T) -> bool> {
    use BinaryFn::*;
    Some(match fun {
        Equal => |a, b| a == b,
        Less => |a, b| a < b,
        LessOrEqual => |a, b| a <= b,
        Greater => |a, b| a > b,
        GreaterOrEqual => |a, b| a >= b,
        _ => return None,
    })
}

/// ONNX binary ops with numpy broadcasting.
pub(crate) fn binary(fun: BinaryFn, a: &Tensor, b: &Tensor, out: &(DType, Vec<u64>)) -> Result<Tensor> {
    let (a_shape, b_shape, out_shape) = (dims(a.shape())?, dims(b.shape())?, dims(&out.1)?);
    if broadcast_shape(&a_shape, &b_shape)? != out_shape {
        return Err(invalid(format!("{:?} and {:?} do not broadcast to {:?}", a.shape(), b.shape(), out.1)));
    }
    if fun == BinaryFn::Pow && a.dtype() != b.dtype() {
        return pow_mixed(a, b, out);
    }
    let what = || format!("{fun:?} on {}", a.dtype());
    if a.dtype() != b.dtype() {
        return Err(invalid(format!("{fun:?} of {} and {}", a.dtype(), b.dtype())));
    }
    let expected = if fun.is_predicate() { DType::Bool } else { a.dtype() };
    if out.0 != expected {
        return Err(invalid(format!("{} gives {expected}, not {}", what(), out.0)));
    }
    let (sa, sb) = ((a, a_shape.as_slice()), (b, b_shape.as_slice()));
    if a.dtype() == DType::Bool {
        let f: fn(bool, bool) -> bool = match fun {
            BinaryFn::And => |x, y| x && y,
            BinaryFn::Or => |x, y| x || y,
            BinaryFn::Xor => |x, y| x != y,
            _ => compare_fn(fun).ok_or_else(|| unsupported(what()))?,
        };
        return map2::<bool, bool>(sa, sb, &out_shape, &out.1, f);
    }
    // Comparisons of numbers give bool.
    if compare_fn::<u8>(fun).is_some() {
        return num_types!(a.dtype(), T => {
            let f = compare_fn::<T>(fun).ok_or_else(|| unsupported(what()))?;
            map2::<T, bool>(sa, sb, &out_shape, &out.1, f)
        }, _ => Err(unsupported(what())));
    }
    if a.dtype().is_float() {
        return float_types!(a.dtype(), T => {
            let f = num_fn::<T>(fun).ok_or_else(|| unsupported(what()))?;
            map2::<T, T>(sa, sb, &out_shape, &out.1, f)
        }, _ => Err(unsupported(what())));
    }
    int_types!(a.dtype(), T => {
        let f = int_fn::<T>(fun).ok_or_else(|| unsupported(what()))?;
        let divides = matches!(fun, BinaryFn::Div | BinaryFn::Mod | BinaryFn::FMod);
        if divides && values::<T>(b)?.contains(&T::ZERO) {
            return Err(invalid(format!("integer {fun:?} by zero")));
        }
        map2::<T, T>(sa, sb, &out_shape, &out.1, f)
    }, _ => Err(unsupported(what())))
}

/// Decodes both operands, applies `f` with broadcasting, and encodes the result.
fn map2<T: Elem, O: Elem>(
    (a, a_shape): (&Tensor, &[usize]),
    (b, b_shape): (&Tensor, &[usize]),
    out_shape: &[usize],
    out: &[u64],
    f: fn(T, T) -> O,
) -> Result<Tensor> {
    let (av, bv) = (values::<T>(a)?, values::<T>(b)?);
    let y = broadcast_map((&av, a_shape), (&bv, b_shape), out_shape, f)?;
    to_tensor(out, &y)
}

/// `Pow` whose exponent has another dtype than its base: computed in f64, then cast to the base's dtype.
fn pow_mixed(a: &Tensor, b: &Tensor, out: &(DType, Vec<u64>)) -> Result<Tensor> {
    if out.0 != a.dtype() || a.dtype() == DType::Bool || b.dtype() == DType::Bool {
        return Err(invalid(format!("Pow of {} by {} into {}", a.dtype(), b.dtype(), out.0)));
    }
    let as_f64 = |s: &Scalar| match *s {
        Scalar::F(v) => v,
        Scalar::I(v) => v as f64,
        Scalar::U(v) => v as f64,
        Scalar::B(v) => v as u8 as f64,
    };
    let av: Vec<f64> = scalars(a).iter().map(as_f64).collect();
    let bv: Vec<f64> = scalars(b).iter().map(as_f64).collect();
    let shape = dims(&out.1)?;
    let y = broadcast_map((&av, &dims(a.shape())?), (&bv, &dims(b.shape())?), &shape, |x: f64, e: f64| {
        Scalar::F(x.powf(e))
    })?;
    from_scalars(out.0, &out.1, &y)
}

/// ONNX `Where(cond, x, y)` with broadcasting, on the bytes of any dtype.
pub(crate) fn where_(cond: &Tensor, x: &Tensor, y: &Tensor, out: &(DType, Vec<u64>)) -> Result<Tensor> {
    if cond.dtype() != DType::Bool || x.dtype() != y.dtype() || out.0 != x.dtype() {
        return Err(invalid(format!(
            "Where needs a bool condition and equal dtypes, found {}, {}, {} into {}",
            cond.dtype(),
            x.dtype(),
            y.dtype(),
            out.0
        )));
    }
    let shape = dims(&out.1)?;
    let (sc, sx, sy) = (dims(cond.shape())?, dims(x.shape())?, dims(y.shape())?);
    if broadcast_shape(&broadcast_shape(&sc, &sx)?, &sy)? != shape {
        return Err(invalid(format!("Where shapes do not broadcast to {:?}", out.1)));
    }
    let strides = [broadcast_strides(&sc, &shape)?, broadcast_strides(&sx, &shape)?, broadcast_strides(&sy, &shape)?];
    let elem = x.dtype().size();
    let (c, xb, yb) = (cond.bytes(), x.bytes(), y.bytes());
    let mut bytes = Vec::with_capacity(numel(&shape) * elem);
    walk(&shape, [&strides[0], &strides[1], &strides[2]], |[ic, ix, iy]| {
        let (src, i) = if c[ic] != 0 { (xb, ix) } else { (yb, iy) };
        bytes.extend_from_slice(&src[i * elem..(i + 1) * elem]);
    });
    Tensor::from_bytes(out.0, &out.1, bytes).map_err(|e| invalid(e.to_string()))
}

/// ONNX `Cast` between any two dtypes.
pub(crate) fn cast(x: &Tensor, out: &(DType, Vec<u64>)) -> Result<Tensor> {
    if out.1 != x.shape() {
        return Err(invalid(format!("Cast keeps the shape {:?}, not {:?}", x.shape(), out.1)));
    }
    if out.0 == x.dtype() {
        return Ok(x.clone());
    }
    from_scalars(out.0, &out.1, &scalars(x))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f32s(shape: &[u64], v: &[f32]) -> Tensor {
        Tensor::new(shape, v).unwrap()
    }

    fn spec(dtype: DType, shape: &[u64]) -> (DType, Vec<u64>) {
        (dtype, shape.to_vec())
    }

    #[test]
    fn erf_matches_known_values() {
        // erf(0.5), erf(1), erf(2), erf(3.5) from tables.
        let cases = [
            (0.5, 0.520_499_877_813_046_5),
            (1.0, 0.842_700_792_949_714_9),
            (2.0, 0.995_322_265_018_952_7),
            (3.5, 0.999_999_256_901_627_7),
        ];
        for (x, want) in cases {
            assert!((erf(x) - want).abs() < 1e-14 * want, "erf({x}) = {}", erf(x));
            assert!((erf(-x) + want).abs() < 1e-14 * want);
        }
        assert_eq!(erf(0.0), 0.0);
        assert_eq!(erf(7.0), 1.0);
        assert!(erf(f64::NAN).is_nan());
    }

    #[test]
    fn round_is_half_to_even() {
        let x = f32s(&[6], &[0.5, 1.5, 2.5, -0.5, -1.5, 2.4]);
        let y = unary(UnaryFn::Round, &x, &spec(DType::F32, &[6])).unwrap();
        assert_eq!(y.to_vec::<f32>().unwrap(), vec![0.0, 2.0, 2.0, -0.0, -2.0, 2.0]);
    }

    #[test]
    fn activations() {
        let x = f32s(&[4], &[-4.0, -1.0, 0.0, 3.0]);
        let run = |fun| unary(fun, &x, &spec(DType::F32, &[4])).unwrap().to_vec::<f32>().unwrap();
        assert_eq!(run(UnaryFn::HardSwish), vec![-0.0, -1.0 / 3.0, 0.0, 3.0]);
        assert_eq!(run(UnaryFn::Relu), vec![0.0, 0.0, 0.0, 3.0]);
        assert_eq!(run(UnaryFn::Clip { min: -2.0, max: 1.0 }), vec![-2.0, -1.0, 0.0, 1.0]);
        assert_eq!(run(UnaryFn::Shrink { bias: 0.5, lambd: 1.0 }), vec![-3.5, 0.0, 0.0, 2.5]);
        let gelu = run(UnaryFn::Gelu { approximate: false });
        assert!((gelu[1] - (-0.158_655_25)).abs() < 1e-7, "{gelu:?}");
        let softplus = run(UnaryFn::Softplus);
        assert!((softplus[3] - (1.0 + 3f32.exp()).ln()).abs() < 1e-6);
        let big = unary(UnaryFn::Softplus, &f32s(&[1], &[1000.0]), &spec(DType::F32, &[1])).unwrap();
        assert_eq!(big.to_vec::<f32>().unwrap(), vec![1000.0]);
    }

    #[test]
    fn integer_unary_and_not() {
        let x = Tensor::new(&[3], &[-3i64, 0, 5]).unwrap();
        let y = unary(UnaryFn::Abs, &x, &spec(DType::I64, &[3])).unwrap();
        assert_eq!(y.to_vec::<i64>().unwrap(), vec![3, 0, 5]);
        assert!(matches!(unary(UnaryFn::Exp, &x, &spec(DType::I64, &[3])), Err(crate::EvalError::Unsupported(_))));
        let b = Tensor::new(&[2], &[true, false]).unwrap();
        let y = unary(UnaryFn::Not, &b, &spec(DType::Bool, &[2])).unwrap();
        assert_eq!(y.to_vec::<bool>().unwrap(), vec![false, true]);
    }

    #[test]
    fn broadcast_add() {
        let a = f32s(&[2, 1, 3], &[1.0, 2.0, 3.0, 10.0, 20.0, 30.0]);
        let b = f32s(&[4, 1], &[100.0, 200.0, 300.0, 400.0]);
        let y = binary(BinaryFn::Add, &a, &b, &spec(DType::F32, &[2, 4, 3])).unwrap();
        let v = y.to_vec::<f32>().unwrap();
        assert_eq!(&v[..6], &[101.0, 102.0, 103.0, 201.0, 202.0, 203.0]);
        assert_eq!(&v[21..], &[410.0, 420.0, 430.0]);
        assert!(binary(BinaryFn::Add, &a, &b, &spec(DType::F32, &[2, 4, 4])).is_err());
    }

    #[test]
    fn integer_binary_semantics() {
        let a = Tensor::new(&[4], &[7i32, -7, 7, -7]).unwrap();
        let b = Tensor::new(&[4], &[2i32, 2, -2, -2]).unwrap();
        let run = |fun, dt| binary(fun, &a, &b, &spec(dt, &[4])).unwrap();
        assert_eq!(run(BinaryFn::Div, DType::I32).to_vec::<i32>().unwrap(), vec![3, -3, -3, 3]);
        assert_eq!(run(BinaryFn::Mod, DType::I32).to_vec::<i32>().unwrap(), vec![1, 1, -1, -1]);
        assert_eq!(run(BinaryFn::FMod, DType::I32).to_vec::<i32>().unwrap(), vec![1, -1, 1, -1]);
        assert_eq!(run(BinaryFn::Less, DType::Bool).to_vec::<bool>().unwrap(), vec![false, true, false, true]);
        let zero = Tensor::new(&[1], &[0i32]).unwrap();
        assert!(matches!(binary(BinaryFn::Div, &a, &zero, &spec(DType::I32, &[4])), Err(crate::EvalError::Invalid(_))));
        let shift = Tensor::new(&[2], &[1u8, 200]).unwrap();
        let by = Tensor::new(&[2], &[3u8, 9]).unwrap();
        let y = binary(BinaryFn::BitShiftLeft, &shift, &by, &spec(DType::U8, &[2])).unwrap();
        assert_eq!(y.to_vec::<u8>().unwrap(), vec![8, 0]);
        // Signed right shifts fill with the sign; out-of-range amounts (negative, ≥ width) give the full fill.
        let x = Tensor::new(&[4], &[-8i8, 4, -1, -8]).unwrap();
        let by = Tensor::new(&[4], &[1i8, 9, -1, 8]).unwrap();
        let y = binary(BinaryFn::BitShiftRight, &x, &by, &spec(DType::I8, &[4])).unwrap();
        assert_eq!(y.to_vec::<i8>().unwrap(), vec![-4, 0, -1, -1]);
        let y = binary(BinaryFn::BitShiftLeft, &x, &by, &spec(DType::I8, &[4])).unwrap();
        assert_eq!(y.to_vec::<i8>().unwrap(), vec![-16, 0, 0, 0]);
    }

    #[test]
    fn float_mod_and_mixed_pow() {
        let a = f32s(&[2], &[-7.5, 7.5]);
        let b = f32s(&[1], &[2.0]);
        let y = binary(BinaryFn::Mod, &a, &b, &spec(DType::F32, &[2])).unwrap();
        assert_eq!(y.to_vec::<f32>().unwrap(), vec![0.5, 1.5]);
        let e = Tensor::new(&[1], &[2i64]).unwrap();
        let y = binary(BinaryFn::Pow, &a, &e, &spec(DType::F32, &[2])).unwrap();
        assert_eq!(y.to_vec::<f32>().unwrap(), vec![56.25, 56.25]);
    }

    #[test]
    fn where_broadcasts_any_dtype() {
        let c = Tensor::new(&[2, 1], &[true, false]).unwrap();
        let x = Tensor::new(&[2], &[1i64, 2]).unwrap();
        let y = Tensor::new(&[], &[-1i64]).unwrap();
        let r = where_(&c, &x, &y, &spec(DType::I64, &[2, 2])).unwrap();
        assert_eq!(r.to_vec::<i64>().unwrap(), vec![1, 2, -1, -1]);
    }

    #[test]
    fn cast_truncates_and_converts() {
        let x = f32s(&[5], &[2.7, -2.7, 0.0, f32::NAN, 1e20]);
        let y = cast(&x, &spec(DType::I64, &[5])).unwrap();
        assert_eq!(y.to_vec::<i64>().unwrap(), vec![2, -2, 0, 0, i64::MAX]);
        let b = cast(&x, &spec(DType::Bool, &[5])).unwrap();
        assert_eq!(b.to_vec::<bool>().unwrap(), vec![true, true, false, true, true]);
        let h = cast(&f32s(&[2], &[1.5, 65504.0]), &spec(DType::F16, &[2])).unwrap();
        assert_eq!(h.bytes(), &[0x00, 0x3e, 0xff, 0x7b]);
        let back = cast(&h, &spec(DType::F64, &[2])).unwrap();
        assert_eq!(back.to_vec::<f64>().unwrap(), vec![1.5, 65504.0]);
        let wrap = cast(&Tensor::new(&[2], &[300i32, -1]).unwrap(), &spec(DType::U8, &[2])).unwrap();
        assert_eq!(wrap.to_vec::<u8>().unwrap(), vec![44, 255]);
    }
}
