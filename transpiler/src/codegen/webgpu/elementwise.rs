//! Elementwise kernels: `Unary`, `Binary` and fused `Elementwise` chains (one invocation per output element, inputs
//! read through broadcast index maps, one-element constants inlined as literals) on f32, the same on integers
//! ([`integer`]: i32, u32, i64 as word pairs), and `Cast` between f32, i32, u32 and i64; kernels with a sub-word or
//! bool value or a predicate are [`packed`]'s.

use std::fmt::Write;

use wdnn_descriptor_spec::{DType, EpilogueStep, Op};

use super::wgsl::{self, Binder, Ctx, Generated, no_kernel};
use super::{integer, packed};
use crate::codegen::NoKernel;

const WG: u32 = 256;

pub(super) fn elementwise(ctx: &Ctx) -> Result<Generated, NoKernel> {
    // Express every form as a first input and steps.
    let steps: Vec<EpilogueStep> = match &ctx.kernel.op {
        Op::Unary { fun } => vec![EpilogueStep::Unary { fun: *fun }],
        Op::Binary { fun } => vec![EpilogueStep::Binary { fun: *fun, operand: 1, operand_first: false }],
        Op::Elementwise { steps } => steps.clone(),
        other => no_kernel!("{} is not elementwise", other.name()),
    };
    if packed::handles(ctx, &steps) {
        return packed::elementwise(ctx, &steps);
    }
    if ctx.output()?.dtype != DType::F32 {
        return integer_elementwise(ctx, &steps);
    }
    // Name the function this target lacks before anything else.
    for step in &steps {
        match step {
            EpilogueStep::Unary { fun } => wgsl::unary(*fun, "x").map(drop)?,
            EpilogueStep::Binary { fun, .. } => wgsl::binary(*fun, "a", "b").map(drop)?,
            EpilogueStep::Unknown => {}
        }
    }
    ctx.require_f32()?;
    let out = ctx.output()?;
    let n = out.numel();
    wgsl::fits_u32(&[n])?;
    let skip = wgsl::inlined_operands(ctx, &steps);
    let first_scalar = ctx.scalar_constant(0);
    let mut skip_all = skip.clone();
    if first_scalar.is_some() {
        skip_all.push(0);
    }
    let b = Binder::new(ctx, &skip_all, "f32")?;
    let (dispatch, head) = wgsl::linear(n, WG);
    let first = match first_scalar {
        Some(v) => wgsl::lit(v),
        None => format!("{}[{}]", b.input(0), wgsl::bcast_index(&out.shape, &ctx.input(0)?.shape, "i")?),
    };
    let body = wgsl::steps_code(ctx, &steps, &out.shape, "i", &|k| b.input(k))?;
    let mut s = b.decls();
    s.push('\n');
    s.push_str(&wgsl::entry([WG, 1, 1]));
    s.push_str(&head);
    let _ = writeln!(s, "    var acc: f32 = {first};");
    s.push_str(&body);
    let _ = writeln!(s, "    {}[i] = acc;\n}}", b.out());
    Ok(Generated { source: wgsl::with_helpers(&s), workgroup_size: [WG, 1, 1], dispatch, bindings: b.bindings() })
}

/// Unary, Binary and Elementwise steps on one integer dtype (every input and the output), operands bound (not
/// inlined) and read through broadcast index maps.
fn integer_elementwise(ctx: &Ctx, steps: &[EpilogueStep]) -> Result<Generated, NoKernel> {
    let out = ctx.output()?;
    let dtype = out.dtype;
    let Ok(elem) = integer::value_type(dtype) else {
        let funs: Vec<String> = steps
            .iter()
            .map(|s| match s {
                EpilogueStep::Unary { fun } => format!("{fun:?}"),
                EpilogueStep::Binary { fun, .. } => format!("{fun:?}"),
                EpilogueStep::Unknown => "Unknown".to_string(),
            })
            .collect();
        no_kernel!("{} with a {dtype} result (f32, i32, u32 and i64 only)", funs.join(", "))
    };
    for &t in ctx.kernel.inputs.iter() {
        match ctx.tensors.get(t as usize) {
            Some(x) if x.dtype == dtype => {}
            other => no_kernel!(
                "{} data into a {dtype} result (one dtype per integer kernel)",
                other.map_or("unknown", |x| x.dtype.name())
            ),
        }
    }
    let n = out.numel();
    wgsl::fits_u32(&[n])?;
    let b = Binder::new(ctx, &[], elem)?;
    let read = |k: usize| -> Result<String, NoKernel> {
        Ok(format!("{}[{}]", b.input(k), wgsl::bcast_index(&out.shape, &ctx.input(k)?.shape, "i")?))
    };
    let mut body = String::new();
    for (j, step) in steps.iter().enumerate() {
        let e = match step {
            EpilogueStep::Unary { fun } => integer::unary(*fun, dtype, "acc")?,
            EpilogueStep::Binary { fun, operand, operand_first } => {
                let _ = writeln!(body, "    let s{j} = {};", read(*operand as usize)?);
                let t = format!("s{j}");
                if *operand_first {
                    integer::binary(*fun, dtype, &t, "acc")?
                } else {
                    integer::binary(*fun, dtype, "acc", &t)?
                }
            }
            EpilogueStep::Unknown => no_kernel!("an epilogue step of a kind this converter does not know"),
        };
        let _ = writeln!(body, "    acc = {e};");
    }
    let (dispatch, head) = wgsl::linear(n, WG);
    let mut s = b.decls();
    s.push('\n');
    s.push_str(&wgsl::entry([WG, 1, 1]));
    s.push_str(&head);
    let _ = writeln!(s, "    var acc: {elem} = {};", read(0)?);
    s.push_str(&body);
    let _ = writeln!(s, "    {}[i] = acc;\n}}", b.out());
    Ok(Generated { source: integer::with_helpers(&s), workgroup_size: [WG, 1, 1], dispatch, bindings: b.bindings() })
}

/// `Cast` between f32, i32, u32 and i64. Between 32-bit types values move as `u32` words; i64 as `vec2<u32>`.
pub(super) fn cast(ctx: &Ctx) -> Result<Generated, NoKernel> {
    let (x, out) = (ctx.input(0)?, ctx.output()?);
    if packed::handles_cast(x.dtype, out.dtype) {
        return packed::cast(ctx);
    }
    if x.dtype == DType::I64 || out.dtype == DType::I64 {
        return cast_64(ctx);
    }
    let read = match x.dtype {
        DType::F32 => "bitcast<f32>(w)",
        DType::I32 => "bitcast<i32>(w)",
        DType::U32 => "w",
        other => no_kernel!("a Cast from {other} (f32, i32, u32 and i64 only)"),
    };
    let write = match out.dtype {
        DType::F32 => "bitcast<u32>(f32(v))",
        DType::I32 => "bitcast<u32>(i32(v))",
        DType::U32 => "u32(v)",
        other => no_kernel!("a Cast to {other} (f32, i32, u32 and i64 only)"),
    };
    let n = out.numel();
    wgsl::fits_u32(&[n])?;
    let b = Binder::new(ctx, &[], "u32")?;
    let (dispatch, head) = wgsl::linear(n, WG);
    let mut s = b.decls();
    s.push('\n');
    s.push_str(&wgsl::entry([WG, 1, 1]));
    s.push_str(&head);
    let _ = writeln!(s, "    let w = {}[i];\n    let v = {read};\n    {}[i] = {write};\n}}", b.input(0), b.out());
    Ok(Generated { source: s, workgroup_size: [WG, 1, 1], dispatch, bindings: b.bindings() })
}

/// `Cast` from or to i64: each side bound with its own value type.
fn cast_64(ctx: &Ctx) -> Result<Generated, NoKernel> {
    let (x, out) = (ctx.input(0)?, ctx.output()?);
    let ty = |d: DType| if d == DType::F32 { Ok("f32") } else { integer::value_type(d) };
    let (from, to) = (ty(x.dtype), ty(out.dtype));
    let (Ok(from), Ok(to), Some(convert)) = (from, to, integer::cast(x.dtype, out.dtype, "v")) else {
        no_kernel!("a Cast from {} to {} (f32, i32, u32 and i64 only)", x.dtype, out.dtype)
    };
    let n = out.numel();
    wgsl::fits_u32(&[n])?;
    let mut b = Binder::new(ctx, &[], to)?;
    b.set_type(0, from);
    let (dispatch, head) = wgsl::linear(n, WG);
    let mut s = b.decls();
    s.push('\n');
    s.push_str(&wgsl::entry([WG, 1, 1]));
    s.push_str(&head);
    let _ = writeln!(s, "    let v = {}[i];\n    {}[i] = {convert};\n}}", b.input(0), b.out());
    Ok(Generated { source: integer::with_helpers(&s), workgroup_size: [WG, 1, 1], dispatch, bindings: b.bindings() })
}
