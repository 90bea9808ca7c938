//! WGSL building blocks shared by the kernel generators: the generation context, bindings and their names,
//! literals, elementwise functions, broadcast index maps, epilogues and launch geometry.

use std::fmt::Write;

use wdnn_descriptor_spec::{BinaryFn, DType, EpilogueStep, Kernel, Storage, TensorDesc, TensorId, UnaryFn, shape};
use wdnn_runner_core::Tensor;

use super::WebGpuTuning;
use crate::codegen::NoKernel;
use crate::ir::{Graph, Node};

/// Returns `Err(NoKernel)` from a generator with a formatted reason (as `anyhow::bail!` does).
macro_rules! no_kernel {
    ($($arg:tt)*) => {
        return Err($crate::codegen::NoKernel::new(format!($($arg)*)))
    };
}
pub(crate) use no_kernel;

/// What a generator sees of one kernel.
pub(crate) struct Ctx<'a> {
    /// The descriptor's tensors.
    pub tensors: &'a [TensorDesc],
    /// The descriptor kernel.
    pub kernel: &'a Kernel,
    /// The IR node it was emitted from (for constant values).
    pub node: &'a Node,
    /// The IR.
    pub graph: &'a Graph,
    /// The code generator's tuning.
    pub tuning: &'a WebGpuTuning,
}

impl Ctx<'_> {
    /// The tensor of input `slot`.
    pub fn input(&self, slot: usize) -> Result<&TensorDesc, NoKernel> {
        match self.kernel.inputs.get(slot).and_then(|&t| self.tensors.get(t as usize)) {
            Some(t) => Ok(t),
            None => no_kernel!("{} inputs, input {slot} expected", self.kernel.inputs.len()),
        }
    }

    /// The tensor of the first output.
    pub fn output(&self) -> Result<&TensorDesc, NoKernel> {
        match self.kernel.outputs.first().and_then(|&t| self.tensors.get(t as usize)) {
            Some(t) => Ok(t),
            None => no_kernel!("no output tensor"),
        }
    }

    /// The value of input `slot` when it is a one-element f32 constant: inlined as a literal instead of bound.
    pub fn scalar_constant(&self, slot: usize) -> Option<f32> {
        let t: &Tensor = self.graph.constant(*self.node.inputs.get(slot)?)?;
        if t.dtype() != DType::F32 || t.numel() != 1 {
            return None;
        }
        t.to_vec::<f32>().ok()?.first().copied()
    }

    /// Fails unless every input and output is f32.
    pub fn require_f32(&self) -> Result<(), NoKernel> {
        let dtype = |t: &TensorId| self.tensors.get(*t as usize).map(|t| t.dtype);
        if self.kernel.inputs.iter().chain(&self.kernel.outputs).all(|t| dtype(t) == Some(DType::F32)) {
            return Ok(());
        }
        let names = |ids: &[TensorId]| -> String {
            ids.iter().map(|t| dtype(t).map_or("?", DType::name)).collect::<Vec<_>>().join(", ")
        };
        no_kernel!("f32 only (inputs {}; outputs {})", names(&self.kernel.inputs), names(&self.kernel.outputs))
    }
}

/// A generated kernel: its source and launch, and the tensor bound at each binding number with its access.
pub(crate) struct Generated {
    pub source: String,
    pub workgroup_size: [u32; 3],
    pub dispatch: [u32; 3],
    pub bindings: Vec<(TensorId, bool)>,
}

/// The one namer of a kernel's bindings: each distinct tensor is one binding named `b<binding>`; kernel input slots
/// and the output map to those names.
pub(crate) struct Binder {
    tensors: Vec<(TensorId, bool, String)>,
    slots: Vec<Option<usize>>,
    output: usize,
}

impl Binder {
    /// Binds the kernel's inputs (except `skip` slots, e.g. inlined scalars) and its first output. Every binding's
    /// element type is `elem` until [`Binder::set_type`] says otherwise.
    pub fn new(ctx: &Ctx, skip: &[usize], elem: &str) -> Result<Binder, NoKernel> {
        let mut b = Binder { tensors: Vec::new(), slots: Vec::new(), output: 0 };
        let bind = |b: &mut Binder, id: TensorId| -> Result<usize, NoKernel> {
            if let Some(i) = b.tensors.iter().position(|t| t.0 == id) {
                return Ok(i);
            }
            let Some(t) = ctx.tensors.get(id as usize) else { no_kernel!("tensor {id} is not in the descriptor") };
            let writable = matches!(t.storage, Storage::Arena { .. });
            b.tensors.push((id, writable, elem.to_string()));
            Ok(b.tensors.len() - 1)
        };
        for (slot, &id) in ctx.kernel.inputs.iter().enumerate() {
            let s = if skip.contains(&slot) { None } else { Some(bind(&mut b, id)?) };
            b.slots.push(s);
        }
        let Some(&out) = ctx.kernel.outputs.first() else { no_kernel!("no output tensor") };
        if b.tensors.iter().any(|t| t.0 == out) {
            no_kernel!("its output is also one of its inputs (the bindings would alias)");
        }
        b.output = bind(&mut b, out)?;
        Ok(b)
    }

    /// The variable of input `slot`.
    pub fn input(&self, slot: usize) -> String {
        format!("b{}", self.slots.get(slot).copied().flatten().unwrap_or(usize::MAX))
    }

    /// The output variable.
    pub fn out(&self) -> String {
        format!("b{}", self.output)
    }

    /// Declares input `slot`'s binding with another element type (e.g. `vec4<f32>`).
    pub fn set_type(&mut self, slot: usize, elem: &str) {
        if let Some(Some(i)) = self.slots.get(slot) {
            self.tensors[*i].2 = elem.to_string();
        }
    }

    /// The binding declarations.
    pub fn decls(&self) -> String {
        let mut s = String::new();
        for (i, (_, writable, elem)) in self.tensors.iter().enumerate() {
            let access = if *writable { "read_write" } else { "read" };
            let _ = writeln!(s, "@group(0) @binding({i}) var<storage, {access}> b{i}: array<{elem}>;");
        }
        s
    }

    pub fn bindings(&self) -> Vec<(TensorId, bool)> {
        self.tensors.iter().map(|(t, w, _)| (*t, *w)).collect()
    }
}

/// A WGSL f32 literal, in parentheses.
pub(crate) fn lit(v: f32) -> String {
    if v.is_nan() {
        "bitcast<f32>(0x7fc00000u)".into()
    } else if v == f32::INFINITY {
        "bitcast<f32>(0x7f800000u)".into()
    } else if v == f32::NEG_INFINITY {
        "bitcast<f32>(0xff800000u)".into()
    } else if v != 0.0 && v.abs() < f32::MIN_POSITIVE {
        format!("bitcast<f32>({}u)", v.to_bits())
    } else {
        format!("({v:?}f)")
    }
}

/// `n` as a WGSL `u32` literal, `{n}u` (generators check the sizes first with [`fits_u32`]).
pub(crate) fn u(n: u64) -> String {
    format!("{n}u")
}

/// Fails unless every size fits u32 index arithmetic (with room for signed offsets: below 2^31).
pub(crate) fn fits_u32(sizes: &[u64]) -> Result<(), NoKernel> {
    match sizes.iter().find(|&&n| n >= (1u64 << 31)) {
        Some(n) => no_kernel!("a size of {n} elements exceeds u32 index arithmetic (2^31)"),
        None => Ok(()),
    }
}

/// Elements of (part of) a validated tensor's shape, saturating like `TensorDesc::numel` (the format's
/// `shape::numel`); kernels check sizes against u32 arithmetic with [`fits_u32`].
pub(crate) fn numel(shape: &[u64]) -> u64 {
    shape::numel(shape).unwrap_or(u64::MAX)
}

/// Helper functions a body may call, appended when used.
const HELPERS: &[(&str, &str)] = &[
    (
        "wd_erf(",
        "fn wd_erf(x: f32) -> f32 {\n    let a = abs(x);\n    let t = 1.0 / (1.0 + 0.3275911 * a);\n    let y = 1.0 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * exp(-a * a);\n    return select(-y, y, x >= 0.0);\n}\n",
    ),
    ("wd_softplus(", "fn wd_softplus(x: f32) -> f32 {\n    return select(log(1.0 + exp(x)), x, x > 20.0);\n}\n"),
    // `Mod` and `FMod` (the reference's `%`, then the floor adjustment): an infinite divisor of a finite dividend
    // leaves the dividend (the quotient formula would give NaN from inf · 0).
    (
        "wd_fmod(",
        "fn wd_fmod(a: f32, b: f32) -> f32 {\n    if ((bitcast<u32>(b) & 0x7fffffffu) == 0x7f800000u && (bitcast<u32>(a) & 0x7fffffffu) < 0x7f800000u) {\n        return a;\n    }\n    return a - b * trunc(a / b);\n}\n",
    ),
    (
        "wd_mod(",
        "fn wd_mod(a: f32, b: f32) -> f32 {\n    if ((bitcast<u32>(b) & 0x7fffffffu) == 0x7f800000u && (bitcast<u32>(a) & 0x7fffffffu) < 0x7f800000u) {\n        return select(a, b, a != 0.0 && ((a < 0.0) != (b < 0.0)));\n    }\n    return a - b * floor(a / b);\n}\n",
    ),
    ("wd_tanh(", "fn wd_tanh(x: f32) -> f32 {\n    return tanh(clamp(x, -15.0, 15.0));\n}\n"),
    (
        "wd_pow(",
        "fn wd_pow(a: f32, b: f32) -> f32 {\n    if (b == 2.0) { return a * a; }\n    if (b == 1.0) { return a; }\n    if (b == 0.0) { return 1.0; }\n    let r = pow(abs(a), b);\n    if (a < 0.0) {\n        if (floor(b) == b) {\n            if (abs(b) < 16777216.0 && (i32(b) & 1) != 0) { return -r; }\n            return r;\n        }\n        return bitcast<f32>(0x7fc00000u);\n    }\n    return r;\n}\n",
    ),
];

/// The non-finite f32 bit patterns the generators write as `bitcast<f32>(…)` constants (NaN, +inf, -inf).
const NON_FINITE: [&str; 3] = ["0x7fc00000u", "0x7f800000u", "0xff800000u"];

/// `source` with each non-finite `bitcast<f32>` constant computed at run time instead, through `wd_bits`: WGSL
/// const-expressions must be finite, and Chromium's compiler (Tint) rejects them ("value nan cannot be represented
/// as 'f32'") where naga accepts them. A call of a user function is never a const-expression.
pub(crate) fn runtime_non_finite(source: &str) -> String {
    let mut out = source.to_string();
    for bits in NON_FINITE {
        out = out.replace(&format!("bitcast<f32>({bits})"), &format!("wd_bits({bits})"));
    }
    if out.contains("wd_bits(") && !out.contains("fn wd_bits(") {
        out.insert_str(0, "fn wd_bits(b: u32) -> f32 {\n    return bitcast<f32>(b);\n}\n");
    }
    out
}

/// `body` with the helper functions it calls.
pub(crate) fn with_helpers(body: &str) -> String {
    let mut s = String::new();
    for (name, code) in HELPERS {
        if body.contains(name) {
            s.push_str(code);
        }
    }
    s.push_str(body);
    s
}

/// `fun(x)` where `x` is a plain identifier; `NoKernel` for functions this target does not generate.
pub(crate) fn unary(fun: UnaryFn, x: &str) -> Result<String, NoKernel> {
    use UnaryFn::*;
    Ok(match fun {
        Abs => format!("abs({x})"),
        Neg => format!("(-{x})"),
        Exp => format!("exp({x})"),
        Log => format!("log({x})"),
        Sqrt => format!("sqrt({x})"),
        Rsqrt => format!("inverseSqrt({x})"),
        Reciprocal => format!("(1.0 / {x})"),
        Square => format!("({x} * {x})"),
        Sigmoid => format!("(1.0 / (1.0 + exp(-{x})))"),
        Tanh => format!("wd_tanh({x})"),
        Erf => format!("wd_erf({x})"),
        Floor => format!("floor({x})"),
        Ceil => format!("ceil({x})"),
        Round => format!("round({x})"),
        Sign => format!("sign({x})"),
        Sin => format!("sin({x})"),
        Cos => format!("cos({x})"),
        Tan => format!("tan({x})"),
        // Through atan2, which implementations compute closely; lavapipe's asin/acos are off by 1e-4 near ±0.8.
        Asin => format!("atan2({x}, sqrt((1.0 - {x}) * (1.0 + {x})))"),
        Acos => format!("atan2(sqrt((1.0 - {x}) * (1.0 + {x})), {x})"),
        Atan => format!("atan({x})"),
        Sinh => format!("sinh({x})"),
        Cosh => format!("cosh({x})"),
        Asinh => format!("asinh({x})"),
        Acosh => format!("acosh({x})"),
        Atanh => format!("atanh({x})"),
        Relu => format!("max({x}, 0.0)"),
        Softplus => format!("wd_softplus({x})"),
        Softsign => format!("({x} / (1.0 + abs({x})))"),
        HardSwish => format!("({x} * clamp({x} / 6.0 + 0.5, 0.0, 1.0))"),
        Mish => format!("({x} * wd_tanh(wd_softplus({x})))"),
        Clip { min, max } => format!("min(max({x}, {}), {})", lit(min), lit(max)),
        LeakyRelu { alpha } => format!("select({x} * {}, {x}, {x} >= 0.0)", lit(alpha)),
        Elu { alpha } => format!("select({} * (exp({x}) - 1.0), {x}, {x} >= 0.0)", lit(alpha)),
        Selu { alpha, gamma } => {
            format!("({} * select({} * (exp({x}) - 1.0), {x}, {x} > 0.0))", lit(gamma), lit(alpha))
        }
        Celu { alpha } => {
            format!("(max({x}, 0.0) + min(0.0, {a} * (exp({x} / {a}) - 1.0)))", a = lit(alpha))
        }
        ThresholdedRelu { alpha } => format!("select(0.0, {x}, {x} > {})", lit(alpha)),
        HardSigmoid { alpha, beta } => format!("clamp({} * {x} + {}, 0.0, 1.0)", lit(alpha), lit(beta)),
        Gelu { approximate: false } => format!("(0.5 * {x} * (1.0 + wd_erf({x} * 0.70710678118654752)))"),
        Gelu { approximate: true } => {
            format!("(0.5 * {x} * (1.0 + wd_tanh(0.7978845608028654 * ({x} + 0.044715 * {x} * {x} * {x}))))")
        }
        Shrink { bias, lambd } => {
            format!("select(select(0.0, {x} + {b}, {x} < -{l}), {x} - {b}, {x} > {l})", b = lit(bias), l = lit(lambd))
        }
        Not | BitwiseNot | IsNaN | IsInf { .. } | UnaryFn::Unknown => {
            no_kernel!("the unary function {fun:?} is not generated in WGSL")
        }
    })
}

/// `fun(a, b)` on f32 where `a` and `b` are plain identifiers or literals; `NoKernel` for the others.
pub(crate) fn binary(fun: BinaryFn, a: &str, b: &str) -> Result<String, NoKernel> {
    use BinaryFn::*;
    Ok(match fun {
        Add => format!("({a} + {b})"),
        Sub => format!("({a} - {b})"),
        Mul => format!("({a} * {b})"),
        Div => format!("({a} / {b})"),
        Pow => format!("wd_pow({a}, {b})"),
        Max => format!("max({a}, {b})"),
        Min => format!("min({a}, {b})"),
        Mod => format!("wd_mod({a}, {b})"),
        FMod => format!("wd_fmod({a}, {b})"),
        PRelu => format!("select({a} * {b}, {a}, {a} >= 0.0)"),
        _ => no_kernel!("the binary function {fun:?} is not generated in WGSL (f32 arithmetic only)"),
    })
}

/// The flat index into a tensor of shape `inp` broadcast (numpy rules) to `out`, from the flat output index `i`.
pub(crate) fn bcast_index(out: &[u64], inp: &[u64], i: &str) -> Result<String, NoKernel> {
    let pad = out.len().checked_sub(inp.len());
    let full: Option<Vec<u64>> =
        pad.map(|pad| (0..out.len()).map(|a| if a < pad { 1 } else { inp[a - pad] }).collect());
    let Some(full) = full.filter(|full| full.iter().zip(out).all(|(&f, &o)| f == o || f == 1)) else {
        no_kernel!("an input of shape {inp:?} does not broadcast to {out:?}")
    };
    if full == out {
        return Ok(i.to_string());
    }
    if numel(&full) == 1 {
        return Ok("0u".into());
    }
    // Merge neighbouring axes that are both kept or both broadcast.
    let mut axes: Vec<(u64, bool)> = Vec::new(); // (extent, kept)
    for (&o, &f) in out.iter().zip(&full) {
        if o == 1 {
            continue;
        }
        let kept = f != 1;
        match axes.last_mut() {
            Some((e, k)) if *k == kept => *e *= o,
            _ => axes.push((o, kept)),
        }
    }
    let dims: Vec<u64> = axes.iter().map(|a| a.0).collect();
    let ostr = shape::strides(&dims);
    let kept_dims: Vec<u64> = axes.iter().filter(|a| a.1).map(|a| a.0).collect();
    let istr = shape::strides(&kept_dims);
    let mut terms = Vec::new();
    let mut k = 0;
    for (a, &(extent, kept)) in axes.iter().enumerate() {
        if !kept {
            continue;
        }
        let mut t = if ostr[a] == 1 { i.to_string() } else { format!("({i} / {})", u(ostr[a])) };
        if a > 0 {
            t = format!("({t} % {})", u(extent));
        }
        if istr[k] != 1 {
            t = format!("{t} * {}", u(istr[k]));
        }
        terms.push(t);
        k += 1;
    }
    Ok(terms.join(" + "))
}

/// The statements applying `steps` to the f32 variable `acc` at flat output index `idx` of a tensor of shape `out`;
/// `operand(k)` names the variable bound to kernel input `k` (a one-element constant is inlined as a literal
/// instead).
pub(crate) fn steps_code(
    ctx: &Ctx,
    steps: &[EpilogueStep],
    out: &[u64],
    idx: &str,
    operand: &dyn Fn(usize) -> String,
) -> Result<String, NoKernel> {
    let mut s = String::new();
    for (n, step) in steps.iter().enumerate() {
        match step {
            EpilogueStep::Unary { fun } => {
                let _ = writeln!(s, "        acc = {};", unary(*fun, "acc")?);
            }
            EpilogueStep::Binary { fun, operand: k, operand_first } => {
                let k = *k as usize;
                let t = match ctx.scalar_constant(k) {
                    Some(v) => lit(v),
                    None => {
                        let shape = &ctx.input(k)?.shape;
                        let _ = writeln!(s, "        let s{n} = {}[{}];", operand(k), bcast_index(out, shape, idx)?);
                        format!("s{n}")
                    }
                };
                let e = if *operand_first { binary(*fun, &t, "acc")? } else { binary(*fun, "acc", &t)? };
                let _ = writeln!(s, "        acc = {e};");
            }
            EpilogueStep::Unknown => no_kernel!("an epilogue step of a kind this converter does not know"),
        }
    }
    Ok(s)
}

/// Inputs named by epilogue steps.
pub(crate) fn step_operands(steps: &[EpilogueStep]) -> Vec<usize> {
    steps
        .iter()
        .filter_map(|s| match s {
            EpilogueStep::Binary { operand, .. } => Some(*operand as usize),
            _ => None,
        })
        .collect()
}

/// Inputs of `ctx`'s kernel that are one-element f32 constants named only as epilogue operands: inlined.
pub(crate) fn inlined_operands(ctx: &Ctx, steps: &[EpilogueStep]) -> Vec<usize> {
    step_operands(steps).into_iter().filter(|&k| ctx.scalar_constant(k).is_some()).collect()
}

/// A one-dimensional launch of `n` invocations in workgroups of `wg`: the dispatch, and the statements that define
/// `i` and return past the end.
pub(crate) fn linear(n: u64, wg: u32) -> ([u32; 3], String) {
    let groups = n.div_ceil(wg as u64).max(1);
    let gx = groups.min(65535);
    let gy = groups.div_ceil(gx);
    let code = format!(
        "    let i = (wid.y * {gx}u + wid.x) * {wg}u + li;\n    if (i >= {}) {{\n        return;\n    }}\n",
        u(n)
    );
    ([gx as u32, gy as u32, 1], code)
}

/// Workgroup indices laid out over x and y: the dispatch, and `let <name> = …;` (no bound check).
pub(crate) fn groups_2d(groups: u64, name: &str) -> ([u32; 3], String) {
    let gx = groups.clamp(1, 65535);
    let gy = groups.div_ceil(gx).max(1);
    ([gx as u32, gy as u32, 1], format!("    let {name} = wid.y * {gx}u + wid.x;\n"))
}

/// The entry point's signature.
pub(crate) fn entry(wg: [u32; 3]) -> String {
    format!(
        "@compute @workgroup_size({}, {}, {})\nfn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(local_invocation_index) li: u32) {{\n",
        wg[0], wg[1], wg[2]
    )
}

#[cfg(test)]
mod non_finite_tests {
    #[test]
    fn non_finite_constants_become_runtime_calls_with_the_helper_once() {
        let src = "fn f() -> f32 { var m = bitcast<f32>(0xff800000u); return max(m, bitcast<f32>(0x7fc00000u)); }";
        let out = super::runtime_non_finite(src);
        assert!(!out.contains("bitcast<f32>(0x"), "{out}");
        assert_eq!(out.matches("fn wd_bits(").count(), 1);
        assert!(out.contains("var m = wd_bits(0xff800000u);"), "{out}");
        assert_eq!(super::runtime_non_finite("fn g() {}"), "fn g() {}");
        crate::codegen::webgpu::validate(&format!("{out}\n@compute @workgroup_size(1) fn main() {{ _ = f(); }}"))
            .unwrap();
    }
}
