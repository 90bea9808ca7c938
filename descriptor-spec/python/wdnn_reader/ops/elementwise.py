"""Unary and binary functions (SPEC §5.1, §5.2), epilogues (§5.4), Elementwise, Where, Cast, BitCast."""

import math

import numpy as np

from ..dtypes import NUMPY
from ..errors import Unimplemented

_erf = np.frompyfunc(math.erf, 1, 1)


def erf(x):
    return _erf(x.astype(np.float64)).astype(np.float64).astype(x.dtype)


def _float(x):
    if x.dtype.kind != "f":
        raise TypeError(f"needs a float tensor, found {x.dtype}")
    return x


def _f(x, v):
    """The constant ``v`` in x's float type (function fields are f32 values, SPEC §5.1)."""
    return x.dtype.type(v)


def unary(fun, x):
    n, a = fun.name, fun.attrs
    with np.errstate(all="ignore"):
        if n == "Abs":
            return np.abs(x)
        if n == "Neg":
            return np.negative(x)
        if n == "Not":
            return np.logical_not(x)
        if n == "BitwiseNot":
            return np.invert(x)
        if n == "Sign":
            return np.sign(x)
        if n == "IsNaN":
            return np.isnan(x)
        if n == "IsInf":
            return (np.isposinf(x) & a["detect_positive"]) | (np.isneginf(x) & a["detect_negative"])
        if n == "Relu":
            return np.where(x < 0, x.dtype.type(0), x)
        if n == "Clip":
            # Below min gives min, above max gives max, anything else (NaN too) passes; for integer tensors the
            # f32 bounds saturate to the type's range.
            lo, hi = a["min"], a["max"]
            if x.dtype.kind in "iu":
                info = np.iinfo(x.dtype)
                lo = x.dtype.type(min(max(lo, info.min), info.max)) if not math.isnan(lo) else x.dtype.type(0)
                hi = x.dtype.type(min(max(hi, info.min), info.max)) if not math.isnan(hi) else x.dtype.type(0)
            else:
                lo, hi = _f(x, lo), _f(x, hi)
            return np.where(x < lo, lo, np.where(x > hi, hi, x))
        x = _float(x)
        one = _f(x, 1)
        table = {
            "Exp": np.exp,
            "Log": np.log,
            "Sqrt": np.sqrt,
            "Rsqrt": lambda v: one / np.sqrt(v),
            "Reciprocal": lambda v: one / v,
            "Square": lambda v: v * v,
            "Sigmoid": lambda v: one / (one + np.exp(-v)),
            "Tanh": np.tanh,
            "Erf": erf,
            "Floor": np.floor,
            "Ceil": np.ceil,
            "Round": np.rint,
            "Sin": np.sin,
            "Cos": np.cos,
            "Tan": np.tan,
            "Asin": np.arcsin,
            "Acos": np.arccos,
            "Atan": np.arctan,
            "Sinh": np.sinh,
            "Cosh": np.cosh,
            "Asinh": np.arcsinh,
            "Acosh": np.arccosh,
            "Atanh": np.arctanh,
            "Softplus": lambda v: np.logaddexp(_f(v, 0), v),
            "Softsign": lambda v: v / (one + np.abs(v)),
            "HardSwish": lambda v: v * np.clip(v / _f(v, 6) + _f(v, 0.5), _f(v, 0), one),
            "Mish": lambda v: v * np.tanh(np.logaddexp(_f(v, 0), v)),
        }
        if n in table:
            return table[n](x)
        if n == "LeakyRelu":
            return np.where(x >= 0, x, x * _f(x, a["alpha"]))
        if n == "Elu":
            return np.where(x > 0, x, _f(x, a["alpha"]) * (np.exp(x) - one))
        if n == "Selu":
            al, g = _f(x, a["alpha"]), _f(x, a["gamma"])
            return np.where(x > 0, g * x, g * (al * np.exp(x) - al))
        if n == "Celu":
            al = _f(x, a["alpha"])
            return np.maximum(_f(x, 0), x) + np.minimum(_f(x, 0), al * (np.exp(x / al) - one))
        if n == "ThresholdedRelu":
            return np.where(x > _f(x, a["alpha"]), x, _f(x, 0))
        if n == "HardSigmoid":
            return np.clip(_f(x, a["alpha"]) * x + _f(x, a["beta"]), _f(x, 0), one)
        if n == "Gelu":
            half = _f(x, 0.5)
            if a["approximate"]:
                c = _f(x, math.sqrt(2.0 / math.pi))
                return half * x * (one + np.tanh(c * (x + _f(x, 0.044715) * x * x * x)))
            return half * x * (one + erf(x / _f(x, math.sqrt(2.0))))
        if n == "Shrink":
            b, lam = _f(x, a["bias"]), _f(x, a["lambd"])
            return np.where(x < -lam, x + b, np.where(x > lam, x - b, _f(x, 0)))
    raise Unimplemented("", f"unary function `{n}`")


def _int_div(a, b):
    q = np.abs(a) // np.abs(b)
    return np.where((a < 0) ^ (b < 0), -q, q).astype(np.result_type(a, b))


def _shift(a, b, left):
    bits = np.dtype(np.result_type(a, b)).itemsize * 8
    b = np.asarray(b)
    out_of_range = (b < 0) | (b >= bits)
    safe = np.where(out_of_range, 0, b).astype(np.result_type(a, b))
    shifted = np.left_shift(a, safe) if left else np.right_shift(a, safe)
    fill = 0 if left else np.where(np.asarray(a) < 0, -1, 0)
    return np.where(out_of_range, fill, shifted).astype(np.result_type(a, b))


def binary(fun, a, b):
    n = fun.name
    with np.errstate(all="ignore"):
        if n == "Add":
            return a + b
        if n == "Sub":
            return a - b
        if n == "Mul":
            return a * b
        if n == "Div":
            if np.result_type(a, b).kind in "iu":
                return _int_div(a, b)
            return a / b
        if n == "Pow":
            return np.power(a, b)
        if n == "Max":
            return np.maximum(a, b)
        if n == "Min":
            return np.minimum(a, b)
        if n == "Mod":
            return np.mod(a, b)
        if n == "FMod":
            return np.fmod(a, b)
        if n == "PRelu":
            return np.where(a < 0, a * b, a)
        table = {
            "Equal": np.equal,
            "Less": np.less,
            "LessOrEqual": np.less_equal,
            "Greater": np.greater,
            "GreaterOrEqual": np.greater_equal,
            "And": np.logical_and,
            "Or": np.logical_or,
            "Xor": np.logical_xor,
            "BitwiseAnd": np.bitwise_and,
            "BitwiseOr": np.bitwise_or,
            "BitwiseXor": np.bitwise_xor,
        }
        if n in table:
            return table[n](a, b)
        if n in ("BitShiftLeft", "BitShiftRight"):
            return _shift(a, b, n == "BitShiftLeft")
    raise Unimplemented("", f"binary function `{n}`")


def apply_steps(acc, steps, inputs, out_shape):
    """An epilogue (SPEC §5.4): each step in order on ``acc`` (already of the output's shape); a Binary step's
    operand is kernel input ``operand`` broadcast to the output's shape."""
    for s in steps:
        if s.step == "Unary":
            acc = unary(s.fun, acc)
        else:
            if s.operand >= len(inputs):
                raise ValueError(f"epilogue operand {s.operand} is not an input of the kernel")
            t = np.broadcast_to(inputs[s.operand], out_shape)
            acc = binary(s.fun, t, acc) if s.operand_first else binary(s.fun, acc, t)
    return acc


def finish(acc, out):
    """``acc`` as the output tensor ``(dtype, shape)``."""
    dtype, shape = out
    return np.broadcast_to(np.asarray(acc), shape).astype(NUMPY[dtype], copy=False)


def k_unary(op, ins, outs):
    return [finish(unary(op["fun"], ins[0]), outs[0])]


def k_binary(op, ins, outs):
    return [finish(binary(op["fun"], ins[0], ins[1]), outs[0])]


def k_elementwise(op, ins, outs):
    shape = outs[0][1]
    acc = np.broadcast_to(ins[0], shape)
    return [finish(apply_steps(acc, op["steps"], ins, shape), outs[0])]


def k_where(op, ins, outs):
    return [finish(np.where(ins[0].astype(bool), ins[1], ins[2]), outs[0])]


def k_cast(op, ins, outs):
    dtype, shape = outs[0]
    x = ins[0]
    with np.errstate(all="ignore"):
        if dtype == "bool":
            return [(x != 0).reshape(shape)]
        target = np.dtype(NUMPY[dtype])
        if x.dtype.kind == "f" and target.kind in "iu":
            # SPEC §5 Cast: float to integer truncates toward zero and saturates (NaN gives 0).
            info = np.iinfo(target)
            t = np.nan_to_num(np.trunc(x.astype(np.float64)), nan=0.0)
            high, low = t >= float(info.max), t <= float(info.min)
            inside = np.where(high | low, 0.0, t).astype(target)
            out = np.where(high, target.type(info.max), np.where(low, target.type(info.min), inside))
            return [out.astype(target).reshape(shape)]
        return [x.astype(target).reshape(shape)]


def k_bitcast(op, ins, outs):
    dtype, shape = outs[0]
    return [np.ascontiguousarray(ins[0]).view(NUMPY[dtype]).reshape(shape)]


KERNELS = {
    "Unary": k_unary,
    "Binary": k_binary,
    "Elementwise": k_elementwise,
    "Where": k_where,
    "Cast": k_cast,
    "BitCast": k_bitcast,
}
