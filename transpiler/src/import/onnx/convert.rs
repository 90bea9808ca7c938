//! Conversions between tract's vocabulary and ours: dtypes, tensors (both ways) and elementwise functions.

use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::array::ScatterReduction as TractScatterReduction;
use tract_onnx::tract_core::ops::element_wise::ElementWiseOp;
use tract_onnx::tract_core::ops::math::IsInf;
use tract_onnx::tract_core::ops::nn::{GeluApproximate, GeluExact, LeakyRelu};
use wdnn_descriptor_spec::op::ScatterReduction;
use wdnn_descriptor_spec::{BinaryFn, DType, UnaryFn};
use wdnn_runner_core::Tensor;

use super::{NotSupported, unsupported};

pub(super) fn dtype_of(dt: DatumType) -> Result<DType, NotSupported> {
    Ok(match dt {
        DatumType::F32 => DType::F32,
        DatumType::F16 => DType::F16,
        DatumType::F64 => DType::F64,
        DatumType::I8 => DType::I8,
        DatumType::I16 => DType::I16,
        DatumType::I32 => DType::I32,
        DatumType::I64 => DType::I64,
        DatumType::U8 => DType::U8,
        DatumType::U16 => DType::U16,
        DatumType::U32 => DType::U32,
        DatumType::U64 => DType::U64,
        DatumType::Bool => DType::Bool,
        // Shape values (ONNX `Shape`, `Size`): int64 in ONNX.
        DatumType::TDim => DType::I64,
        other => return unsupported(format!("dtype {other:?}")),
    })
}

/// Copies a tract tensor into a host tensor of the same dtype (little-endian bytes).
pub(super) fn tensor_from_tract(t: &tract_onnx::prelude::Tensor) -> Result<Tensor, NotSupported> {
    if t.datum_type() == DatumType::TDim {
        let ints = t.cast_to::<i64>().map_err(|e| NotSupported(format!("symbolic shape value ({e})")))?;
        return tensor_from_tract(&ints);
    }
    let dtype = dtype_of(t.datum_type())?;
    let shape: Vec<u64> = t.shape().iter().map(|&d| d as u64).collect();
    macro_rules! le {
        ($ty:ty) => {{
            let view = t.to_plain_array_view::<$ty>().map_err(|e| NotSupported(format!("{e:#}")))?;
            view.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>()
        }};
    }
    let bytes = match dtype {
        DType::F32 => le!(f32),
        DType::F64 => le!(f64),
        DType::F16 => le!(tract_onnx::prelude::f16),
        DType::I8 => le!(i8),
        DType::I16 => le!(i16),
        DType::I32 => le!(i32),
        DType::I64 => le!(i64),
        DType::U8 => le!(u8),
        DType::U16 => le!(u16),
        DType::U32 => le!(u32),
        DType::U64 => le!(u64),
        DType::Bool => {
            let view = t.to_plain_array_view::<bool>().map_err(|e| NotSupported(format!("{e:#}")))?;
            view.iter().map(|&b| b as u8).collect()
        }
    };
    Tensor::from_bytes(dtype, &shape, bytes).map_err(|e| NotSupported(e.to_string()))
}

/// Copies a host tensor into a tract tensor (for ops of ours that tract evaluates while propagating constants).
pub(super) fn tensor_to_tract(t: &Tensor) -> TractResult<tract_onnx::prelude::Tensor> {
    use tract_onnx::prelude::Tensor as T;
    let shape: Vec<usize> = t.shape().iter().map(|&d| d as usize).collect();
    Ok(match t.dtype() {
        DType::F32 => T::from_shape(&shape, &t.to_vec::<f32>()?)?,
        DType::F64 => T::from_shape(&shape, &t.to_vec::<f64>()?)?,
        DType::F16 => {
            let v: Vec<tract_onnx::prelude::f16> =
                t.bytes().chunks_exact(2).map(|b| tract_onnx::prelude::f16::from_le_bytes([b[0], b[1]])).collect();
            T::from_shape(&shape, &v)?
        }
        DType::I8 => T::from_shape(&shape, &t.to_vec::<i8>()?)?,
        DType::I16 => T::from_shape(&shape, &t.to_vec::<i16>()?)?,
        DType::I32 => T::from_shape(&shape, &t.to_vec::<i32>()?)?,
        DType::I64 => T::from_shape(&shape, &t.to_vec::<i64>()?)?,
        DType::U8 => T::from_shape(&shape, &t.to_vec::<u8>()?)?,
        DType::U16 => T::from_shape(&shape, &t.to_vec::<u16>()?)?,
        DType::U32 => T::from_shape(&shape, &t.to_vec::<u32>()?)?,
        DType::U64 => T::from_shape(&shape, &t.to_vec::<u64>()?)?,
        DType::Bool => T::from_shape(&shape, &t.to_vec::<bool>()?)?,
    })
}

pub(super) fn scatter_reduction(r: TractScatterReduction) -> ScatterReduction {
    match r {
        TractScatterReduction::None => ScatterReduction::None,
        TractScatterReduction::Add => ScatterReduction::Add,
        TractScatterReduction::Mul => ScatterReduction::Mul,
        TractScatterReduction::Min => ScatterReduction::Min,
        TractScatterReduction::Max => ScatterReduction::Max,
    }
}

pub(super) fn binary_fn(name: &str) -> Result<BinaryFn, NotSupported> {
    Ok(match name {
        "Add" => BinaryFn::Add,
        "Sub" => BinaryFn::Sub,
        "Mul" => BinaryFn::Mul,
        "Div" => BinaryFn::Div,
        "Pow" => BinaryFn::Pow,
        "Max" => BinaryFn::Max,
        "Min" => BinaryFn::Min,
        "Rem" => BinaryFn::FMod,
        "And" => BinaryFn::And,
        "Or" => BinaryFn::Or,
        "Xor" => BinaryFn::Xor,
        "BitAnd" => BinaryFn::BitwiseAnd,
        "BitOr" => BinaryFn::BitwiseOr,
        "BitXor" => BinaryFn::BitwiseXor,
        "ShiftLeft" => BinaryFn::BitShiftLeft,
        "ShiftRight" => BinaryFn::BitShiftRight,
        "Eq" => BinaryFn::Equal,
        "LT" => BinaryFn::Less,
        "LTE" => BinaryFn::LessOrEqual,
        "GT" => BinaryFn::Greater,
        "GTE" => BinaryFn::GreaterOrEqual,
        other => return unsupported(format!("binary {other}")),
    })
}

pub(super) fn unary_fn(op: &ElementWiseOp) -> Result<UnaryFn, NotSupported> {
    let name = op.0.name();
    Ok(match name.as_str() {
        "Abs" => UnaryFn::Abs,
        "Neg" => UnaryFn::Neg,
        "Exp" => UnaryFn::Exp,
        "Ln" => UnaryFn::Log,
        "Sqrt" => UnaryFn::Sqrt,
        "Rsqrt" => UnaryFn::Rsqrt,
        "Recip" => UnaryFn::Reciprocal,
        "Square" => UnaryFn::Square,
        "Sigmoid" => UnaryFn::Sigmoid,
        "Tanh" => UnaryFn::Tanh,
        "Erf" => UnaryFn::Erf,
        "Floor" => UnaryFn::Floor,
        "Ceil" => UnaryFn::Ceil,
        "RoundHalfToEven" => UnaryFn::Round,
        "Sign" => UnaryFn::Sign,
        "Sin" => UnaryFn::Sin,
        "Cos" => UnaryFn::Cos,
        "Tan" => UnaryFn::Tan,
        "Asin" => UnaryFn::Asin,
        "Acos" => UnaryFn::Acos,
        "Atan" => UnaryFn::Atan,
        "Sinh" => UnaryFn::Sinh,
        "Cosh" => UnaryFn::Cosh,
        "Asinh" => UnaryFn::Asinh,
        "Acosh" => UnaryFn::Acosh,
        "Atanh" => UnaryFn::Atanh,
        "Not" => UnaryFn::Not,
        "BitNot" => UnaryFn::BitwiseNot,
        "IsNan" => UnaryFn::IsNaN,
        "HardSwish" => UnaryFn::HardSwish,
        other => {
            if let Some(leaky) = op.0.downcast_ref::<LeakyRelu>() {
                return Ok(UnaryFn::LeakyRelu { alpha: leaky.alpha });
            }
            if let Some(inf) = op.0.downcast_ref::<IsInf>() {
                let (detect_positive, detect_negative) = (inf.detect_positive, inf.detect_negative);
                return Ok(UnaryFn::IsInf { detect_positive, detect_negative });
            }
            if op.0.downcast_ref::<GeluExact>().is_some() {
                return Ok(UnaryFn::Gelu { approximate: false });
            }
            if let Some(gelu) = op.0.downcast_ref::<GeluApproximate>() {
                if gelu.fast_impl {
                    return unsupported("unary GeluApproximate (fast)");
                }
                return Ok(UnaryFn::Gelu { approximate: true });
            }
            return unsupported(format!("unary {other}"));
        }
    })
}
