//! Sub-word values: `bool`, `i8`, `u8` (one byte per element) and `i16`, `u16`, `f16` (two bytes), stored as the
//! format says (SPEC §3: dense, little-endian), so four or two elements share one 32-bit word of a WGSL storage
//! array. A read extracts its lane from the word (`extractBits`, sign-extending for signed types). A write never
//! touches a word another invocation writes: a kernel with a packed output runs one invocation per output word,
//! which computes the word's lanes in order and stores the whole word once; lanes past the last element are 0.
//! Every arena binding starts at a multiple of the target's alignment (256 bytes) and is `round4(byte size)` long,
//! so the tail word of a tensor belongs to that tensor alone (a value packed after it starts at the next aligned
//! offset); the generators check that the output starts on a word.
//!
//! Values are computed in 32-bit types: `i32` for i8 and i16 (sign-extended), `u32` for u8, u16 and bool (0 or 1),
//! `f32` for f16; integer results wrap to their width after every step, so the semantics are the reference
//! runner's (`runner-fallback`): arithmetic wraps, `Cast` from a float truncates toward zero and saturates (NaN to
//! 0), between integers it wraps, to bool it is `!= 0`, and predicates give 0 or 1.
//!
//! Here: elementwise chains with a sub-word or bool input or output, predicates (comparisons, `And`/`Or`/`Xor`,
//! `Not`, `IsNaN`, `IsInf`) on any dtype, `Where` on any dtype, `Cast` to or from a sub-word dtype, and the word
//! layer [`assemble`] that the movement kernels use for packed outputs.

use std::fmt::Write;

use wdnn_descriptor_spec::{BinaryFn, DType, EpilogueStep, Storage, UnaryFn};

use super::integer;
use super::wgsl::{self, Binder, Ctx, Generated, no_kernel};
use crate::codegen::NoKernel;

const WG: u32 = 256;

/// Elements per 32-bit word: 4 for 1-byte dtypes, 2 for 2-byte ones, 1 otherwise.
pub(crate) fn lanes(dtype: DType) -> u32 {
    match dtype.size() {
        1 => 4,
        2 => 2,
        _ => 1,
    }
}

/// True for the dtypes stored several to a word.
pub(crate) fn is_packed(dtype: DType) -> bool {
    lanes(dtype) > 1
}

/// The WGSL type a value of `dtype` is computed in.
fn compute(dtype: DType) -> Result<&'static str, NoKernel> {
    Ok(match dtype {
        DType::F32 | DType::F16 => "f32",
        DType::I32 | DType::I16 | DType::I8 => "i32",
        DType::U32 | DType::U16 | DType::U8 | DType::Bool => "u32",
        DType::I64 | DType::U64 => "vec2<u32>",
        other => no_kernel!("{other} values (f32, f16, bool and integers)"),
    })
}

/// The element type a binding of `dtype` is declared with when its values are computed on.
fn value_binding(dtype: DType) -> Result<&'static str, NoKernel> {
    compute(dtype)?;
    Ok(if is_packed(dtype) { "u32" } else { compute(dtype)? })
}

/// The element type a binding of `dtype` is declared with when its values are only moved: `u32` words, or
/// `vec2<u32>` for 8-byte dtypes.
pub(crate) fn bits_binding(dtype: DType) -> Result<&'static str, NoKernel> {
    match dtype.size() {
        1 | 2 | 4 => Ok("u32"),
        8 => Ok("vec2<u32>"),
        _ => no_kernel!("{dtype} data"),
    }
}

/// Element `j` (a plain identifier) of binding `b` holding `dtype`: its computed value (`bits` false, the binding
/// declared by [`value_binding`]) or its raw bits (`bits` true, declared by [`bits_binding`]).
pub(crate) fn load(dtype: DType, b: &str, j: &str, bits: bool) -> String {
    let (shift, mask, width) = match lanes(dtype) {
        4 => ("2u", "3u", 8),
        2 => ("1u", "1u", 16),
        _ => return format!("{b}[{j}]"),
    };
    let word = format!("{b}[{j} >> {shift}]");
    let offset = format!("({j} & {mask}) * {width}u");
    match (dtype, bits) {
        (DType::Bool, false) => format!("select(0u, 1u, extractBits({word}, {offset}, 8u) != 0u)"),
        (DType::I8 | DType::I16, false) => format!("extractBits(bitcast<i32>({word}), {offset}, {width}u)"),
        (DType::F16, false) => format!("unpack2x16float({word})[{j} & 1u]"),
        _ => format!("extractBits({word}, {offset}, {width}u)"),
    }
}

/// The computed value `v` of a packed `dtype` as the low bits of a `u32` (`bits`: `v` is raw bits already).
fn pack(dtype: DType, v: &str, bits: bool) -> String {
    match (dtype, bits) {
        (DType::F16, false) => format!("(pack2x16float(vec2<f32>({v}, 0.0)) & 0xffffu)"),
        _ if dtype.size() == 1 => format!("(bitcast<u32>({v}) & 0xffu)"),
        _ => format!("(bitcast<u32>({v}) & 0xffffu)"),
    }
}

/// A kernel over the `n` elements of its output (`b.out()`, of `dtype`): `element` holds the statements that
/// compute `v` from the flat element index `i` (no `return`). A 4- or 8-byte output runs one invocation per
/// element; a packed one runs one per word, whose lanes are computed in order and stored as one word (`bits`: `v`
/// is raw bits, not a computed value).
pub(crate) fn assemble(
    ctx: &Ctx,
    b: &Binder,
    dtype: DType,
    n: u64,
    element: &str,
    bits: bool,
) -> Result<Generated, NoKernel> {
    wgsl::fits_u32(&[n])?;
    let out = ctx.output()?;
    if let Storage::Arena { offset } = out.storage
        && !offset.is_multiple_of(4)
    {
        no_kernel!("an output at arena offset {offset}, not on a 32-bit word");
    }
    let lanes = lanes(dtype) as u64;
    let mut s = b.decls();
    s.push('\n');
    s.push_str(&wgsl::entry([WG, 1, 1]));
    if lanes == 1 {
        let (dispatch, head) = wgsl::linear(n, WG);
        s.push_str(&head);
        s.push_str(element);
        let _ = writeln!(s, "    {}[i] = v;\n}}", b.out());
        return Ok(Generated { source: s, workgroup_size: [WG, 1, 1], dispatch, bindings: b.bindings() });
    }
    let words = n.div_ceil(lanes);
    let (dispatch, head) = wgsl::linear(words, WG);
    s.push_str(&head.replace("let i =", "let w =").replace("if (i >=", "if (w >="));
    let width = 32 / lanes;
    let _ = writeln!(
        s,
        "    var word = 0u;\n    for (var l = 0u; l < {lanes}u; l++) {{\n        let i = w * {lanes}u + l;\n        if (i < {}) {{",
        wgsl::u(n)
    );
    for line in element.lines() {
        let _ = writeln!(s, "        {line}");
    }
    let _ = writeln!(
        s,
        "            word = word | ({} << (l * {width}u));\n        }}\n    }}\n    {}[w] = word;\n}}",
        pack(dtype, "v", bits),
        b.out()
    );
    Ok(Generated { source: s, workgroup_size: [WG, 1, 1], dispatch, bindings: b.bindings() })
}

/// True when an elementwise kernel is this module's: a packed or bool input or output, or a predicate step.
pub(super) fn handles(ctx: &Ctx, steps: &[EpilogueStep]) -> bool {
    let packed = |t: &u32| ctx.tensors.get(*t as usize).is_some_and(|t| is_packed(t.dtype));
    let predicate = steps.iter().any(|s| match s {
        EpilogueStep::Unary { fun } => matches!(fun, UnaryFn::Not | UnaryFn::IsNaN | UnaryFn::IsInf { .. }),
        EpilogueStep::Binary { fun, .. } => fun.is_predicate(),
        EpilogueStep::Unknown => false,
    });
    predicate || ctx.kernel.inputs.iter().chain(&ctx.kernel.outputs).any(packed)
}

/// `x` (an `i32` or `u32` expression) wrapped to the width of the integer `dtype`.
fn wrap(dtype: DType, x: &str) -> String {
    match dtype {
        DType::I8 => format!("extractBits({x}, 0u, 8u)"),
        DType::I16 => format!("extractBits({x}, 0u, 16u)"),
        DType::U8 => format!("({x} & 0xffu)"),
        DType::U16 => format!("({x} & 0xffffu)"),
        _ => x.to_string(),
    }
}

/// The 32-bit integer dtype a sub-word integer dtype computes in.
fn wide(dtype: DType) -> DType {
    match dtype {
        DType::I8 | DType::I16 => DType::I32,
        DType::U8 | DType::U16 | DType::Bool => DType::U32,
        other => other,
    }
}

fn is_small_int(dtype: DType) -> bool {
    matches!(dtype, DType::I8 | DType::I16 | DType::U8 | DType::U16)
}

/// `v` converted to the integer `dtype` as the reference's `v as T` (saturating), as a WGSL literal of its
/// computed type.
fn small_literal(dtype: DType, v: f64) -> String {
    match dtype {
        DType::I8 => format!("({}i)", v as i8),
        DType::I16 => format!("({}i)", v as i16),
        DType::U8 => format!("{}u", v as u8),
        _ => format!("{}u", v as u16),
    }
}

/// `x` (an f32 identifier) bits tested: true for NaN.
fn f32_is_nan(x: &str) -> String {
    format!("((bitcast<u32>({x}) & 0x7fffffffu) > 0x7f800000u)")
}

/// A WGSL bool expression as a bool value (0 or 1).
fn as_bool(cond: &str) -> String {
    format!("select(0u, 1u, {cond})")
}

/// `fun(x)` on a `dtype` value: the expression and the result's dtype.
fn unary(fun: UnaryFn, dtype: DType, x: &str) -> Result<(String, DType), NoKernel> {
    use UnaryFn::*;
    let is_float = matches!(dtype, DType::F32 | DType::F16);
    Ok(match (fun, dtype) {
        (Not, DType::Bool) => (format!("({x} ^ 1u)"), DType::Bool),
        (IsNaN, _) if is_float => (as_bool(&f32_is_nan(x)), DType::Bool),
        (IsInf { detect_positive, detect_negative }, _) if is_float => {
            let mut conds = Vec::new();
            if detect_positive {
                conds.push(format!("bitcast<u32>({x}) == 0x7f800000u"));
            }
            if detect_negative {
                conds.push(format!("bitcast<u32>({x}) == 0xff800000u"));
            }
            let e = if conds.is_empty() { "0u".to_string() } else { as_bool(&conds.join(" || ")) };
            (e, DType::Bool)
        }
        (Not | IsNaN | IsInf { .. }, _) => no_kernel!("the unary function {fun:?} on {dtype}"),
        (_, DType::Bool) => no_kernel!("the unary function {fun:?} on bool"),
        (_, _) if is_float => (wgsl::unary(fun, x)?, dtype),
        (Clip { min, max }, _) if is_small_int(dtype) => {
            let (lo, hi) = (small_literal(dtype, min as f64), small_literal(dtype, max as f64));
            (format!("select(select({x}, {hi}, {hi} < {x}), {lo}, {x} < {lo})"), dtype)
        }
        (_, _) if is_small_int(dtype) => (wrap(dtype, &integer::unary(fun, wide(dtype), x)?), dtype),
        (_, _) => (integer::unary(fun, dtype, x)?, dtype),
    })
}

/// `fun(a, b)` on `dtype` values: the expression and the result's dtype.
fn binary(fun: BinaryFn, dtype: DType, a: &str, b: &str) -> Result<(String, DType), NoKernel> {
    use BinaryFn::*;
    let cmp = match fun {
        Equal => Some("=="),
        Less => Some("<"),
        LessOrEqual => Some("<="),
        Greater => Some(">"),
        GreaterOrEqual => Some(">="),
        _ => None,
    };
    if let Some(op) = cmp {
        let e = match (dtype, fun) {
            (DType::I64, Equal) => as_bool(&format!("all({a} == {b})")),
            (DType::I64, Less) => as_bool(&format!("wd_i64_lt({a}, {b})")),
            (DType::I64, Greater) => as_bool(&format!("wd_i64_lt({b}, {a})")),
            (DType::I64, LessOrEqual) => format!("select(1u, 0u, wd_i64_lt({b}, {a}))"),
            (DType::I64, _) => format!("select(1u, 0u, wd_i64_lt({a}, {b}))"),
            (DType::U64, Equal) => as_bool(&format!("all({a} == {b})")),
            (DType::U64, Less) => as_bool(&format!("wd_u64_lt({a}, {b})")),
            (DType::U64, Greater) => as_bool(&format!("wd_u64_lt({b}, {a})")),
            (DType::U64, LessOrEqual) => format!("select(1u, 0u, wd_u64_lt({b}, {a}))"),
            (DType::U64, _) => format!("select(1u, 0u, wd_u64_lt({a}, {b}))"),
            _ => {
                compute(dtype)?;
                as_bool(&format!("{a} {op} {b}"))
            }
        };
        return Ok((e, DType::Bool));
    }
    let width = dtype.size() * 8;
    Ok(match (fun, dtype) {
        (And, DType::Bool) => (format!("({a} & {b})"), DType::Bool),
        (Or, DType::Bool) => (format!("({a} | {b})"), DType::Bool),
        (Xor, DType::Bool) => (format!("({a} ^ {b})"), DType::Bool),
        (_, DType::Bool) | (And | Or | Xor, _) => no_kernel!("the binary function {fun:?} on {dtype}"),
        (_, DType::F32 | DType::F16) => (wgsl::binary(fun, a, b)?, dtype),
        (BitShiftLeft, DType::U8 | DType::U16) => {
            (wrap(dtype, &format!("select(0u, {a} << {b}, {b} < {width}u)")), dtype)
        }
        (BitShiftRight, DType::U8 | DType::U16) => (format!("select(0u, {a} >> {b}, {b} < {width}u)"), dtype),
        (BitShiftLeft, DType::I8 | DType::I16) => {
            (wrap(dtype, &format!("select(0i, {a} << u32({b}), {b} >= 0i && {b} < {width}i)")), dtype)
        }
        (BitShiftRight, DType::I8 | DType::I16) => {
            (format!("select(select(0i, -1i, {a} < 0i), {a} >> u32({b}), {b} >= 0i && {b} < {width}i)"), dtype)
        }
        (Pow, _) if is_small_int(dtype) => no_kernel!("Pow on {dtype}"),
        (_, _) if is_small_int(dtype) => (wrap(dtype, &integer::binary(fun, wide(dtype), a, b)?), dtype),
        (_, _) => (integer::binary(fun, dtype, a, b)?, dtype),
    })
}

/// Unary, Binary and Elementwise kernels with a packed or bool value, or a predicate: every value read through
/// its broadcast index map and computed in its 32-bit type; each step's result is its own `let`.
pub(super) fn elementwise(ctx: &Ctx, steps: &[EpilogueStep]) -> Result<Generated, NoKernel> {
    let out = ctx.output()?;
    let mut b = Binder::new(ctx, &[], value_binding(out.dtype)?)?;
    for slot in 0..ctx.kernel.inputs.len() {
        b.set_type(slot, value_binding(ctx.input(slot)?.dtype)?);
    }
    let mut body = String::new();
    let read = |body: &mut String, slot: usize, name: &str| -> Result<DType, NoKernel> {
        let t = ctx.input(slot)?;
        let _ = writeln!(body, "    let j{name} = {};", wgsl::bcast_index(&out.shape, &t.shape, "i")?);
        let _ = writeln!(body, "    let {name} = {};", load(t.dtype, &b.input(slot), &format!("j{name}"), false));
        Ok(t.dtype)
    };
    let mut dtype = read(&mut body, 0, "x0")?;
    let mut last = "x0".to_string();
    for (k, step) in steps.iter().enumerate() {
        let (e, d) = match step {
            EpilogueStep::Unary { fun } => unary(*fun, dtype, &last)?,
            EpilogueStep::Binary { fun, operand, operand_first } => {
                let name = format!("s{k}");
                let od = read(&mut body, *operand as usize, &name)?;
                if od != dtype {
                    no_kernel!("{fun:?} of {dtype} and {od}");
                }
                if *operand_first { binary(*fun, dtype, &name, &last)? } else { binary(*fun, dtype, &last, &name)? }
            }
            EpilogueStep::Unknown => no_kernel!("an epilogue step of a kind this converter does not know"),
        };
        let _ = writeln!(body, "    let x{} = {e};", k + 1);
        last = format!("x{}", k + 1);
        dtype = d;
    }
    if dtype != out.dtype {
        no_kernel!("steps giving {dtype} into a {} result", out.dtype);
    }
    let _ = writeln!(body, "    let v = {last};");
    let g = assemble(ctx, &b, out.dtype, out.numel(), &body, false)?;
    Ok(Generated { source: wgsl::with_helpers(&integer::with_helpers(&g.source)), ..g })
}

/// `Where(cond, x, y)` on any dtype of 1, 2, 4 or 8 bytes: values move as bits.
pub(super) fn where_(ctx: &Ctx) -> Result<Generated, NoKernel> {
    let (cond, x, y, out) = (ctx.input(0)?, ctx.input(1)?, ctx.input(2)?, ctx.output()?);
    if cond.dtype != DType::Bool || x.dtype != out.dtype || y.dtype != out.dtype {
        no_kernel!("a Where of {}, {}, {} into {}", cond.dtype, x.dtype, y.dtype, out.dtype);
    }
    let elem = bits_binding(out.dtype)?;
    let mut b = Binder::new(ctx, &[], elem)?;
    b.set_type(0, "u32");
    let mut s = String::new();
    for (t, name) in [(cond, "jc"), (x, "jx"), (y, "jy")] {
        let _ = writeln!(s, "    let {name} = {};", wgsl::bcast_index(&out.shape, &t.shape, "i")?);
    }
    let _ = writeln!(
        s,
        "    let v = select({}, {}, {} != 0u);",
        load(out.dtype, &b.input(2), "jy", true),
        load(out.dtype, &b.input(1), "jx", true),
        load(DType::Bool, &b.input(0), "jc", false)
    );
    assemble(ctx, &b, out.dtype, out.numel(), &s, true)
}

/// True when a `Cast` is this module's: from or to a packed or bool dtype.
pub(super) fn handles_cast(from: DType, to: DType) -> bool {
    is_packed(from) || is_packed(to)
}

/// `x`, a computed value of `from`, converted to `to` as the reference's `Cast`.
fn convert(from: DType, to: DType, x: &str) -> Result<String, NoKernel> {
    let fail = || NoKernel::new(format!("a Cast from {from} to {to}"));
    compute(from)?;
    compute(to)?;
    let float = |d: DType| matches!(d, DType::F32 | DType::F16);
    Ok(match (from, to) {
        _ if from == to => x.to_string(),
        (_, DType::Bool) => match compute(from)? {
            "f32" => as_bool(&format!("(bitcast<u32>({x}) & 0x7fffffffu) != 0u")),
            "i32" => as_bool(&format!("{x} != 0i")),
            "u32" => as_bool(&format!("{x} != 0u")),
            _ => as_bool(&format!("any({x} != vec2<u32>(0u, 0u))")),
        },
        (DType::U64, DType::F32 | DType::F16) | (DType::F32 | DType::F16, DType::U64) => return Err(fail()),
        (DType::I64, DType::F32 | DType::F16) => format!("wd_i64_to_f32({x})"),
        (_, DType::F32 | DType::F16) => format!("f32({x})"),
        (DType::F32 | DType::F16, DType::I64) => format!("wd_f32_to_i64({x})"),
        (_, DType::I64 | DType::U64) => integer::cast(wide(from), DType::I64, x).ok_or_else(fail)?,
        (DType::I64 | DType::U64, _) => format!("bitcast<{}>({x}.x)", compute(to)?),
        (_, _) if float(from) => {
            let (lo, hi): (f64, f64) = match to {
                DType::I8 => (i8::MIN as f64, i8::MAX as f64),
                DType::I16 => (i16::MIN as f64, i16::MAX as f64),
                DType::U8 => (0.0, u8::MAX as f64),
                DType::U16 => (0.0, u16::MAX as f64),
                // f32 to i32 and u32 are not this module's (no packed side); bool is above.
                _ => return Err(fail()),
            };
            let ty = compute(to)?;
            format!("select({ty}(clamp(trunc({x}), {lo:?}, {hi:?})), {ty}(0), {})", f32_is_nan(x))
        }
        (_, _) => format!("bitcast<{}>({x})", compute(to)?),
    })
}

/// `Cast` from or to a packed or bool dtype.
pub(super) fn cast(ctx: &Ctx) -> Result<Generated, NoKernel> {
    let (x, out) = (ctx.input(0)?, ctx.output()?);
    let mut b = Binder::new(ctx, &[], value_binding(out.dtype)?)?;
    b.set_type(0, value_binding(x.dtype)?);
    let convert = convert(x.dtype, out.dtype, "x")?;
    let body = format!("    let x = {};\n    let v = {convert};\n", load(x.dtype, &b.input(0), "i", false));
    let g = assemble(ctx, &b, out.dtype, out.numel(), &body, false)?;
    Ok(Generated { source: integer::with_helpers(&g.source), ..g })
}

/// `BitCast`: the input's bytes as the output's dtype. Both are dense little-endian with one byte size, so the
/// output's words are the input's: copied word for word (a part-full tail word carries the input's padding into
/// the output's, bytes no tensor owns).
pub(super) fn bitcast(ctx: &Ctx) -> Result<Generated, NoKernel> {
    let (x, out) = (ctx.input(0)?, ctx.output()?);
    if x.byte_size() != out.byte_size() {
        no_kernel!("a BitCast of {} bytes into {} bytes", x.byte_size(), out.byte_size());
    }
    let words = out.byte_size().div_ceil(4);
    wgsl::fits_u32(&[words])?;
    let b = Binder::new(ctx, &[], "u32")?;
    let (dispatch, head) = wgsl::linear(words, WG);
    let mut s = b.decls();
    s.push('\n');
    s.push_str(&wgsl::entry([WG, 1, 1]));
    s.push_str(&head);
    let _ = writeln!(s, "    {}[i] = {}[i];\n}}", b.out(), b.input(0));
    Ok(Generated { source: s, workgroup_size: [WG, 1, 1], dispatch, bindings: b.bindings() })
}
