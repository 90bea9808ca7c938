//! Elementwise kernels: `Unary`, `Binary` and fused `Elementwise` chains (one invocation per output element, inputs
//! read through broadcast index maps, one-element constants inlined as literals), and `Cast` between 32-bit types.

use std::fmt::Write;

use wdnn_descriptor_spec::{DType, EpilogueStep, Op};

use super::wgsl::{self, Binder, Ctx, Generated, no_kernel};
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

/// `Cast` between f32, i32 and u32 (values as 32-bit words).
pub(super) fn cast(ctx: &Ctx) -> Result<Generated, NoKernel> {
    let (x, out) = (ctx.input(0)?, ctx.output()?);
    let read = match x.dtype {
        DType::F32 => "bitcast<f32>(w)",
        DType::I32 => "bitcast<i32>(w)",
        DType::U32 => "w",
        other => no_kernel!("a Cast from {other} (f32, i32 and u32 only)"),
    };
    let write = match out.dtype {
        DType::F32 => "bitcast<u32>(f32(v))",
        DType::I32 => "bitcast<u32>(i32(v))",
        DType::U32 => "u32(v)",
        other => no_kernel!("a Cast to {other} (f32, i32 and u32 only)"),
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
