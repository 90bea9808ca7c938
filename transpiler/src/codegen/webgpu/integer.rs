//! Integer arithmetic in WGSL, for the shape and index computations exported models run at inference time
//! (`sr * 2`, a length cast to float): i32 and u32 natively, i64 and u64 emulated on pairs of 32-bit words
//! (`vec2<u32>`, low word first, two's complement), which is their layout in the arena, so no narrowing or range
//! assumption is needed. The semantics are the reference runner's: arithmetic wraps, integer division truncates
//! toward zero, a zero divisor gives 0, `Cast` truncates floats toward zero and saturates, integers wrap.

use wdnn_descriptor_spec::{BinaryFn, DType, UnaryFn};

use super::wgsl::no_kernel;
use crate::codegen::NoKernel;

/// The WGSL type holding one value of an integer `dtype`, or why there is none.
pub(crate) fn value_type(dtype: DType) -> Result<&'static str, NoKernel> {
    match dtype {
        DType::I32 => Ok("i32"),
        DType::U32 => Ok("u32"),
        DType::I64 | DType::U64 => Ok("vec2<u32>"),
        other => no_kernel!("{other} arithmetic (f32, i32, u32, i64 and u64 only)"),
    }
}

/// A WGSL literal of `dtype` for `v` converted as the reference runner's `T::from_f64` (`v as T`, saturating).
pub(crate) fn literal(dtype: DType, v: f64) -> Result<String, NoKernel> {
    Ok(match dtype {
        DType::I32 => format!("({}i)", v as i32),
        DType::U32 => format!("{}u", v as u32),
        DType::I64 => {
            let b = v as i64 as u64;
            format!("vec2<u32>({}u, {}u)", b as u32, (b >> 32) as u32)
        }
        DType::U64 => {
            let b = v as u64;
            format!("vec2<u32>({}u, {}u)", b as u32, (b >> 32) as u32)
        }
        other => no_kernel!("{other} arithmetic (f32, i32, u32, i64 and u64 only)"),
    })
}

/// `fun(x)` on `dtype` values, where `x` is a plain identifier.
pub(crate) fn unary(fun: UnaryFn, dtype: DType, x: &str) -> Result<String, NoKernel> {
    use UnaryFn::*;
    let clip = |min: f32, max: f32, lt: &dyn Fn(&str, &str) -> String| -> Result<String, NoKernel> {
        let (lo, hi) = (literal(dtype, min as f64)?, literal(dtype, max as f64)?);
        Ok(format!("select(select({x}, {hi}, {}), {lo}, {})", lt(&hi, x), lt(x, &lo)))
    };
    Ok(match (dtype, fun) {
        (_, Floor | Ceil | Round) => x.to_string(),
        (DType::I32, Abs) => format!("select({x}, 0i - {x}, {x} < 0i)"),
        (DType::I32, Neg) => format!("(0i - {x})"),
        (DType::I32, Square) => format!("({x} * {x})"),
        (DType::I32, Relu) => format!("max({x}, 0i)"),
        (DType::I32, Sign) => format!("sign({x})"),
        (DType::I32, BitwiseNot) => format!("(~{x})"),
        (DType::I32, Clip { min, max }) => clip(min, max, &|a, b| format!("{a} < {b}"))?,
        (DType::U32, Abs | Relu) => x.to_string(),
        (DType::U32, Neg) => format!("(0u - {x})"),
        (DType::U32, Square) => format!("({x} * {x})"),
        (DType::U32, Sign) => format!("select(0u, 1u, {x} > 0u)"),
        (DType::U32, BitwiseNot) => format!("(~{x})"),
        (DType::U32, Clip { min, max }) => clip(min, max, &|a, b| format!("{a} < {b}"))?,
        (DType::I64, Abs) => format!("wd_i64_abs({x})"),
        (DType::I64, Neg) => format!("wd_i64_neg({x})"),
        (DType::I64, Square) => format!("wd_i64_mul({x}, {x})"),
        (DType::I64, Relu) => format!("select({x}, vec2<u32>(0u, 0u), wd_i64_is_neg({x}))"),
        (DType::I64, Sign) => format!(
            "select(select(vec2<u32>(0u, 0u), vec2<u32>(1u, 0u), any({x} != vec2<u32>(0u, 0u))), vec2<u32>(0xffffffffu, 0xffffffffu), wd_i64_is_neg({x}))"
        ),
        (DType::I64, BitwiseNot) => format!("(~{x})"),
        (DType::I64, Clip { min, max }) => clip(min, max, &|a, b| format!("wd_i64_lt({a}, {b})"))?,
        (DType::U64, Abs | Relu) => x.to_string(),
        (DType::U64, Neg) => format!("wd_i64_neg({x})"),
        (DType::U64, Square) => format!("wd_i64_mul({x}, {x})"),
        (DType::U64, Sign) => format!("select(vec2<u32>(0u, 0u), vec2<u32>(1u, 0u), any({x} != vec2<u32>(0u, 0u)))"),
        (DType::U64, BitwiseNot) => format!("(~{x})"),
        (DType::U64, Clip { min, max }) => clip(min, max, &|a, b| format!("wd_u64_lt({a}, {b})"))?,
        _ => no_kernel!("the unary function {fun:?} on {dtype} is not generated in WGSL"),
    })
}

/// `fun(a, b)` on `dtype` values, where `a` and `b` are plain identifiers.
pub(crate) fn binary(fun: BinaryFn, dtype: DType, a: &str, b: &str) -> Result<String, NoKernel> {
    use BinaryFn::*;
    Ok(match (dtype, fun) {
        (DType::I32 | DType::U32, Add) => format!("({a} + {b})"),
        (DType::I32 | DType::U32, Sub) => format!("({a} - {b})"),
        (DType::I32 | DType::U32, Mul) => format!("({a} * {b})"),
        (DType::I32, Div) => format!("select({a} / {b}, 0i, {b} == 0i)"),
        (DType::U32, Div) => format!("select({a} / {b}, 0u, {b} == 0u)"),
        (DType::I32 | DType::U32, FMod) => format!("({a} % {b})"),
        (DType::I32, Mod) => format!("wd_i32_mod({a}, {b})"),
        (DType::U32, Mod) => format!("({a} % {b})"),
        (DType::I32 | DType::U32, Max) => format!("max({a}, {b})"),
        (DType::I32 | DType::U32, Min) => format!("min({a}, {b})"),
        (DType::I32, PRelu) => format!("select({a}, {a} * {b}, {a} < 0i)"),
        (DType::U32, PRelu) => a.to_string(),
        (_, BitwiseAnd) => format!("({a} & {b})"),
        (_, BitwiseOr) => format!("({a} | {b})"),
        (_, BitwiseXor) => format!("({a} ^ {b})"),
        (DType::U32, BitShiftLeft) => format!("select(0u, {a} << {b}, {b} < 32u)"),
        (DType::U32, BitShiftRight) => format!("select(0u, {a} >> {b}, {b} < 32u)"),
        (DType::I32, BitShiftLeft) => format!("select(0i, {a} << u32({b}), {b} >= 0i && {b} < 32i)"),
        (DType::I32, BitShiftRight) => {
            format!("select(select(0i, -1i, {a} < 0i), {a} >> u32({b}), {b} >= 0i && {b} < 32i)")
        }
        (DType::I32, Pow) => format!("wd_i32_pow({a}, {b})"),
        (DType::U32, Pow) => format!("wd_u32_pow({a}, {b})"),
        (DType::I64, Pow) => format!("wd_i64_pow({a}, {b})"),
        (DType::I64, Add) => format!("wd_i64_add({a}, {b})"),
        (DType::I64, Sub) => format!("wd_i64_sub({a}, {b})"),
        (DType::I64, Mul) => format!("wd_i64_mul({a}, {b})"),
        (DType::I64, Div) => format!("wd_i64_div({a}, {b})"),
        (DType::I64, FMod) => format!("wd_i64_fmod({a}, {b})"),
        (DType::I64, Mod) => format!("wd_i64_mod({a}, {b})"),
        (DType::I64, Max) => format!("select({b}, {a}, wd_i64_lt({b}, {a}))"),
        (DType::I64, Min) => format!("select({b}, {a}, wd_i64_lt({a}, {b}))"),
        (DType::I64, PRelu) => format!("select({a}, wd_i64_mul({a}, {b}), wd_i64_is_neg({a}))"),
        (DType::I64, BitShiftLeft) => format!("wd_u64_shl({a}, {b})"),
        (DType::I64, BitShiftRight) => format!("wd_i64_sar({a}, {b})"),
        (DType::U64, Add) => format!("wd_i64_add({a}, {b})"),
        (DType::U64, Sub) => format!("wd_i64_sub({a}, {b})"),
        (DType::U64, Mul) => format!("wd_i64_mul({a}, {b})"),
        (DType::U64, Div) => format!("wd_u64_divmod({a}, {b}).q"),
        (DType::U64, Mod | FMod) => format!("wd_u64_divmod({a}, {b}).r"),
        (DType::U64, Max) => format!("select({b}, {a}, wd_u64_lt({b}, {a}))"),
        (DType::U64, Min) => format!("select({b}, {a}, wd_u64_lt({a}, {b}))"),
        (DType::U64, PRelu) => a.to_string(),
        (DType::U64, BitShiftLeft) => format!("wd_u64_shl({a}, {b})"),
        (DType::U64, BitShiftRight) => format!("wd_u64_shr({a}, {b})"),
        _ => no_kernel!("the binary function {fun:?} on {dtype} is not generated in WGSL"),
    })
}

/// `Cast` of the value `v` of WGSL type `value_type(from)` (or f32) to `to`'s value type; `None` when this
/// module does not convert between them.
pub(crate) fn cast(from: DType, to: DType, v: &str) -> Option<String> {
    Some(match (from, to) {
        (a, b) if a == b => v.to_string(),
        (DType::I64, DType::F32) => format!("wd_i64_to_f32({v})"),
        (DType::I64, DType::I32) => format!("bitcast<i32>({v}.x)"),
        (DType::I64, DType::U32) => format!("{v}.x"),
        (DType::F32, DType::I64) => format!("wd_f32_to_i64({v})"),
        (DType::I32, DType::I64) => format!("vec2<u32>(bitcast<u32>({v}), select(0u, 0xffffffffu, {v} < 0i))"),
        (DType::U32, DType::I64) => format!("vec2<u32>({v}, 0u)"),
        _ => return None,
    })
}

/// Helper functions, each with the helpers it calls (`(name, code, calls)`).
const HELPERS: &[(&str, &str, &[&str])] = &[
    (
        "wd_i32_mod(",
        "fn wd_i32_mod(a: i32, b: i32) -> i32 {\n    let r = a % b;\n    return select(r, r + b, r != 0i && ((r < 0i) != (b < 0i)));\n}\n",
        &[],
    ),
    (
        // The reference's `Pow`: a non-negative exponent wraps (`wrapping_pow`, by squaring); a negative one goes
        // through f64 `powf` and a saturating cast: 1 and -1 survive, 0 gives the maximum, the rest truncate to 0.
        "wd_i32_pow(",
        "fn wd_i32_pow(a: i32, e: i32) -> i32 {\n    if (e < 0i) {\n        if (a == 1i) {\n            return 1i;\n        }\n        if (a == -1i) {\n            return select(1i, -1i, (e & 1i) != 0i);\n        }\n        return select(0i, 2147483647i, a == 0i);\n    }\n    var r = 1i;\n    var b = a;\n    var k = u32(e);\n    while (k != 0u) {\n        if ((k & 1u) != 0u) {\n            r = r * b;\n        }\n        b = b * b;\n        k = k >> 1u;\n    }\n    return r;\n}\n",
        &[],
    ),
    (
        "wd_u32_pow(",
        "fn wd_u32_pow(a: u32, e: u32) -> u32 {\n    var r = 1u;\n    var b = a;\n    var k = e;\n    while (k != 0u) {\n        if ((k & 1u) != 0u) {\n            r = r * b;\n        }\n        b = b * b;\n        k = k >> 1u;\n    }\n    return r;\n}\n",
        &[],
    ),
    (
        "wd_i64_pow(",
        "fn wd_i64_pow(a: vec2<u32>, e: vec2<u32>) -> vec2<u32> {\n    if (wd_i64_is_neg(e)) {\n        if (a.x == 1u && a.y == 0u) {\n            return a;\n        }\n        if (a.x == 0xffffffffu && a.y == 0xffffffffu) {\n            return select(vec2<u32>(1u, 0u), a, (e.x & 1u) != 0u);\n        }\n        return select(vec2<u32>(0u, 0u), vec2<u32>(0xffffffffu, 0x7fffffffu), a.x == 0u && a.y == 0u);\n    }\n    var r = vec2<u32>(1u, 0u);\n    var b = a;\n    var k = e;\n    while (k.x != 0u || k.y != 0u) {\n        if ((k.x & 1u) != 0u) {\n            r = wd_i64_mul(r, b);\n        }\n        b = wd_i64_mul(b, b);\n        k = vec2<u32>((k.x >> 1u) | (k.y << 31u), k.y >> 1u);\n    }\n    return r;\n}\n",
        &["wd_i64_is_neg(", "wd_i64_mul("],
    ),
    (
        "wd_i64_add(",
        "fn wd_i64_add(a: vec2<u32>, b: vec2<u32>) -> vec2<u32> {\n    let lo = a.x + b.x;\n    return vec2<u32>(lo, a.y + b.y + select(0u, 1u, lo < a.x));\n}\n",
        &[],
    ),
    (
        "wd_i64_sub(",
        "fn wd_i64_sub(a: vec2<u32>, b: vec2<u32>) -> vec2<u32> {\n    return vec2<u32>(a.x - b.x, a.y - b.y - select(0u, 1u, a.x < b.x));\n}\n",
        &[],
    ),
    (
        "wd_i64_neg(",
        "fn wd_i64_neg(a: vec2<u32>) -> vec2<u32> {\n    return wd_i64_sub(vec2<u32>(0u, 0u), a);\n}\n",
        &["wd_i64_sub("],
    ),
    ("wd_i64_is_neg(", "fn wd_i64_is_neg(a: vec2<u32>) -> bool {\n    return bitcast<i32>(a.y) < 0i;\n}\n", &[]),
    (
        "wd_i64_abs(",
        "fn wd_i64_abs(a: vec2<u32>) -> vec2<u32> {\n    return select(a, wd_i64_neg(a), wd_i64_is_neg(a));\n}\n",
        &["wd_i64_neg(", "wd_i64_is_neg("],
    ),
    (
        "wd_i64_lt(",
        "fn wd_i64_lt(a: vec2<u32>, b: vec2<u32>) -> bool {\n    if (a.y != b.y) {\n        return bitcast<i32>(a.y) < bitcast<i32>(b.y);\n    }\n    return a.x < b.x;\n}\n",
        &[],
    ),
    (
        // The low 64 bits of the product (the same for signed and unsigned): the 32×32 → 64 product of the low
        // words from 16-bit halves, plus the cross terms in the high word.
        "wd_i64_mul(",
        "fn wd_i64_mul(a: vec2<u32>, b: vec2<u32>) -> vec2<u32> {\n    let a0 = a.x & 0xffffu;\n    let a1 = a.x >> 16u;\n    let b0 = b.x & 0xffffu;\n    let b1 = b.x >> 16u;\n    let p00 = a0 * b0;\n    let p01 = a0 * b1;\n    let p10 = a1 * b0;\n    let mid = (p00 >> 16u) + (p01 & 0xffffu) + (p10 & 0xffffu);\n    let hi = a1 * b1 + (p01 >> 16u) + (p10 >> 16u) + (mid >> 16u);\n    return vec2<u32>((p00 & 0xffffu) | (mid << 16u), hi + a.x * b.y + a.y * b.x);\n}\n",
        &[],
    ),
    (
        // Unsigned long division of magnitudes up to 2^63 (so the shifted remainder never overflows); a zero
        // divisor gives 0 and 0.
        "wd_u63_divmod(",
        "struct WdQr {\n    q: vec2<u32>,\n    r: vec2<u32>,\n}\n\nfn wd_u63_divmod(n: vec2<u32>, d: vec2<u32>) -> WdQr {\n    var q = vec2<u32>(0u, 0u);\n    var r = vec2<u32>(0u, 0u);\n    if (d.x == 0u && d.y == 0u) {\n        return WdQr(q, r);\n    }\n    for (var k = 0u; k < 64u; k = k + 1u) {\n        let bit = 63u - k;\n        let w = select(n.x, n.y, bit >= 32u);\n        r = vec2<u32>((r.x << 1u) | ((w >> (bit & 31u)) & 1u), (r.y << 1u) | (r.x >> 31u));\n        if (r.y > d.y || (r.y == d.y && r.x >= d.x)) {\n            r = wd_i64_sub(r, d);\n            if (bit >= 32u) {\n                q.y = q.y | (1u << (bit & 31u));\n            } else {\n                q.x = q.x | (1u << bit);\n            }\n        }\n    }\n    return WdQr(q, r);\n}\n",
        &["wd_i64_sub("],
    ),
    (
        "wd_u64_lt(",
        "fn wd_u64_lt(a: vec2<u32>, b: vec2<u32>) -> bool {\n    if (a.y != b.y) {\n        return a.y < b.y;\n    }\n    return a.x < b.x;\n}\n",
        &[],
    ),
    (
        // Unsigned long division of the full 64 bits: a remainder shifted past 2^64 (its top bit was set) exceeds
        // the divisor, and the wrapping subtraction gives it exactly. A zero divisor gives 0 and 0.
        "wd_u64_divmod(",
        "struct WdUqr {\n    q: vec2<u32>,\n    r: vec2<u32>,\n}\n\nfn wd_u64_divmod(n: vec2<u32>, d: vec2<u32>) -> WdUqr {\n    var q = vec2<u32>(0u, 0u);\n    var r = vec2<u32>(0u, 0u);\n    if (d.x == 0u && d.y == 0u) {\n        return WdUqr(q, r);\n    }\n    for (var k = 0u; k < 64u; k = k + 1u) {\n        let bit = 63u - k;\n        let w = select(n.x, n.y, bit >= 32u);\n        let carry = (r.y >> 31u) != 0u;\n        r = vec2<u32>((r.x << 1u) | ((w >> (bit & 31u)) & 1u), (r.y << 1u) | (r.x >> 31u));\n        if (carry || r.y > d.y || (r.y == d.y && r.x >= d.x)) {\n            r = wd_i64_sub(r, d);\n            if (bit >= 32u) {\n                q.y = q.y | (1u << (bit & 31u));\n            } else {\n                q.x = q.x | (1u << bit);\n            }\n        }\n    }\n    return WdUqr(q, r);\n}\n",
        &["wd_i64_sub("],
    ),
    (
        // ONNX BitShift on u64: a shift by 64 or more leaves 0.
        "wd_u64_shl(",
        "fn wd_u64_shl(a: vec2<u32>, b: vec2<u32>) -> vec2<u32> {\n    if (b.y != 0u || b.x >= 64u) {\n        return vec2<u32>(0u, 0u);\n    }\n    if (b.x >= 32u) {\n        return vec2<u32>(0u, a.x << (b.x - 32u));\n    }\n    if (b.x == 0u) {\n        return a;\n    }\n    return vec2<u32>(a.x << b.x, (a.y << b.x) | (a.x >> (32u - b.x)));\n}\n",
        &[],
    ),
    (
        "wd_u64_shr(",
        "fn wd_u64_shr(a: vec2<u32>, b: vec2<u32>) -> vec2<u32> {\n    if (b.y != 0u || b.x >= 64u) {\n        return vec2<u32>(0u, 0u);\n    }\n    if (b.x >= 32u) {\n        return vec2<u32>(a.y >> (b.x - 32u), 0u);\n    }\n    if (b.x == 0u) {\n        return a;\n    }\n    return vec2<u32>((a.x >> b.x) | (a.y << (32u - b.x)), a.y >> b.x);\n}\n",
        &[],
    ),
    (
        // Arithmetic: a shift out of range (negative, or 64 or more) gives the sign fill.
        "wd_i64_sar(",
        "fn wd_i64_sar(a: vec2<u32>, b: vec2<u32>) -> vec2<u32> {\n    let fill = select(0u, 0xffffffffu, wd_i64_is_neg(a));\n    if (b.y != 0u || b.x >= 64u) {\n        return vec2<u32>(fill, fill);\n    }\n    if (b.x >= 32u) {\n        return vec2<u32>(bitcast<u32>(bitcast<i32>(a.y) >> (b.x - 32u)), fill);\n    }\n    if (b.x == 0u) {\n        return a;\n    }\n    return vec2<u32>((a.x >> b.x) | (a.y << (32u - b.x)), bitcast<u32>(bitcast<i32>(a.y) >> b.x));\n}\n",
        &["wd_i64_is_neg("],
    ),
    (
        "wd_i64_div(",
        "fn wd_i64_div(a: vec2<u32>, b: vec2<u32>) -> vec2<u32> {\n    let q = wd_u63_divmod(wd_i64_abs(a), wd_i64_abs(b)).q;\n    return select(q, wd_i64_neg(q), wd_i64_is_neg(a) != wd_i64_is_neg(b));\n}\n",
        &["wd_u63_divmod(", "wd_i64_abs(", "wd_i64_neg(", "wd_i64_is_neg("],
    ),
    (
        "wd_i64_fmod(",
        "fn wd_i64_fmod(a: vec2<u32>, b: vec2<u32>) -> vec2<u32> {\n    let r = wd_u63_divmod(wd_i64_abs(a), wd_i64_abs(b)).r;\n    return select(r, wd_i64_neg(r), wd_i64_is_neg(a));\n}\n",
        &["wd_u63_divmod(", "wd_i64_abs(", "wd_i64_neg(", "wd_i64_is_neg("],
    ),
    (
        "wd_i64_mod(",
        "fn wd_i64_mod(a: vec2<u32>, b: vec2<u32>) -> vec2<u32> {\n    let r = wd_i64_fmod(a, b);\n    if (any(r != vec2<u32>(0u, 0u)) && wd_i64_is_neg(r) != wd_i64_is_neg(b)) {\n        return wd_i64_add(r, b);\n    }\n    return r;\n}\n",
        &["wd_i64_fmod(", "wd_i64_add(", "wd_i64_is_neg("],
    ),
    (
        // Rounded to nearest once: the magnitude's top 32 bits, with a sticky bit for the bits below them, are
        // converted, then scaled by a power of two (exact).
        "wd_i64_to_f32(",
        "fn wd_i64_to_f32(a: vec2<u32>) -> f32 {\n    let neg = wd_i64_is_neg(a);\n    let m = select(a, wd_i64_neg(a), neg);\n    var f = f32(m.x);\n    if (m.y != 0u) {\n        let n = countLeadingZeros(m.y);\n        let top = select((m.y << n) | (m.x >> ((32u - n) & 31u)), m.y, n == 0u);\n        f = f32(top | select(0u, 1u, (m.x << n) != 0u)) * exp2(f32(32u - n));\n    }\n    return select(f, -f, neg);\n}\n",
        &["wd_i64_is_neg(", "wd_i64_neg("],
    ),
    (
        // Truncated toward zero, saturating, NaN to 0 (Rust's `as`). |v| ≥ 2^32 has no fraction bits, so the
        // split into words is exact.
        "wd_f32_to_i64(",
        "fn wd_f32_to_i64(v: f32) -> vec2<u32> {\n    if ((bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u) {\n        return vec2<u32>(0u, 0u);\n    }\n    if (v >= bitcast<f32>(0x5f000000u)) {\n        return vec2<u32>(0xffffffffu, 0x7fffffffu);\n    }\n    if (v <= bitcast<f32>(0xdf000000u)) {\n        return vec2<u32>(0u, 0x80000000u);\n    }\n    let a = trunc(abs(v));\n    let hi = floor(a / 4294967296.0);\n    let m = vec2<u32>(u32(a - hi * 4294967296.0), u32(hi));\n    return select(m, wd_i64_neg(m), v < 0.0);\n}\n",
        &["wd_i64_neg("],
    ),
];

/// `body` with the integer helper functions it calls, and the helpers those call.
pub(crate) fn with_helpers(body: &str) -> String {
    let mut used = vec![false; HELPERS.len()];
    let mut pending: Vec<&str> = HELPERS.iter().map(|h| h.0).filter(|name| body.contains(name)).collect();
    while let Some(name) = pending.pop() {
        if let Some(i) = HELPERS.iter().position(|h| h.0 == name)
            && !used[i]
        {
            used[i] = true;
            pending.extend(HELPERS[i].2);
        }
    }
    let mut s = String::new();
    for (i, (_, code, _)) in HELPERS.iter().enumerate() {
        if used[i] {
            s.push_str(code);
        }
    }
    s.push_str(body);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers_bring_their_callees_and_validate() {
        let body = "@compute @workgroup_size(1)\nfn main() {\n    let a = vec2<u32>(3u, 0u);\n    let m = wd_i64_mod(a, a);\n    let f = wd_i64_to_f32(wd_i64_div(a, wd_f32_to_i64(2.5)));\n    let g = wd_i32_mod(3i, 2i);\n    let u = wd_u64_shr(wd_u64_shl(wd_u64_divmod(a, a).r, a), a);\n    let c = wd_u64_lt(u, wd_i64_sar(a, a));\n    let p = wd_i32_pow(2i, 3i) + i32(wd_u32_pow(2u, 3u));\n}\n";
        let source = with_helpers(body);
        for name in ["fn wd_i64_fmod(", "fn wd_u63_divmod(", "fn wd_i64_abs(", "fn wd_i64_sub(", "fn wd_i64_add("]
            .into_iter()
            .chain(["fn wd_u64_divmod(", "fn wd_u64_shl(", "fn wd_u64_shr(", "fn wd_u64_lt(", "fn wd_i64_sar("])
            .chain(["fn wd_i32_pow(", "fn wd_u32_pow("])
        {
            assert!(source.contains(name), "{name} missing");
        }
        assert!(!source.contains("fn wd_i64_mul("));
        super::super::validate(&source).unwrap();
        let pow = with_helpers(
            "@compute @workgroup_size(1)\nfn main() {\n    let p = wd_i64_pow(vec2<u32>(3u, 0u), vec2<u32>(5u, 0u));\n}\n",
        );
        assert!(pow.contains("fn wd_i64_mul(") && pow.contains("fn wd_i64_is_neg("));
        super::super::validate(&pow).unwrap();
    }
}
