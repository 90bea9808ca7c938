//! Pooling (one invocation per output value, any number of spatial axes) and LRN across channels.

use std::fmt::Write;

use wdnn_descriptor_spec::Op;

use super::wgsl::{self, Binder, Ctx, Generated, no_kernel, u};
use crate::codegen::NoKernel;

const WG: u32 = 64;

pub(super) fn pool(ctx: &Ctx) -> Result<Generated, NoKernel> {
    ctx.require_f32()?;
    let (kernel_shape, strides, dilations, pads, average) = match &ctx.kernel.op {
        Op::MaxPool { kernel_shape, strides, dilations, pads, .. } => (kernel_shape, strides, dilations, pads, None),
        Op::AveragePool { kernel_shape, strides, dilations, pads, count_include_pad, .. } => {
            (kernel_shape, strides, dilations, pads, Some(*count_include_pad))
        }
        other => no_kernel!("{} is not a pooling", other.name()),
    };
    let (x, out) = (ctx.input(0)?, ctx.output()?);
    let r = x.shape.len().saturating_sub(2);
    if r == 0 || kernel_shape.len() != r || out.shape.len() != r + 2 {
        no_kernel!("a pooling of {:?} to {:?} with a kernel of {kernel_shape:?}", x.shape, out.shape);
    }
    wgsl::fits_u32(&[x.numel()])?;
    let at = |v: &[u32], i: usize, d: u64| v.get(i).map_or(d, |&x| x as u64);
    let ins = &x.shape[2..];
    let outs = &out.shape[2..];
    let b = Binder::new(ctx, &[], "f32")?;
    let (dispatch, head) = wgsl::linear(out.numel(), WG);
    let mut s = b.decls();
    s.push('\n');
    s.push_str(&wgsl::entry([WG, 1, 1]));
    s.push_str(&head);
    let mut stride = 1u64;
    for d in (0..r).rev() {
        let _ = writeln!(s, "    let o{d} = (i / {}) % {};", u(stride), u(outs[d]));
        stride *= outs[d];
    }
    let _ = writeln!(s, "    let plane = i / {};", u(stride));
    match average {
        None => s.push_str("    var acc = bitcast<f32>(0xff800000u);\n"),
        Some(_) => s.push_str("    var acc = 0.0;\n    var count = 0u;\n"),
    }
    let mut xi = "plane".to_string();
    for d in 0..r {
        let (k, st, dil, pb, pe) =
            (kernel_shape[d] as u64, at(strides, d, 1), at(dilations, d, 1), at(pads, d, 0), at(pads, r + d, 0));
        let _ = writeln!(
            s,
            "    for (var k{d} = 0u; k{d} < {}; k{d}++) {{\n    let p{d} = i32(o{d} * {} + k{d} * {}) - {}i;",
            u(k),
            u(st),
            u(dil),
            pb
        );
        if average == Some(true) {
            let _ = writeln!(s, "    if (p{d} >= {}i) {{ continue; }}", ins[d] as i64 + pe as i64);
        }
        xi = format!("({xi} * {} + u32(p{d}))", u(ins[d]));
    }
    let inside: Vec<String> = (0..r).map(|d| format!("p{d} >= 0i && p{d} < {}i", ins[d])).collect();
    match average {
        None => {
            let _ = writeln!(
                s,
                "    if ({}) {{\n        acc = max(acc, {}[{xi}]);\n    }}",
                inside.join(" && "),
                b.input(0)
            );
        }
        Some(include) => {
            if include {
                s.push_str("    count += 1u;\n");
            }
            let _ = writeln!(s, "    if ({}) {{\n        acc += {}[{xi}];", inside.join(" && "), b.input(0));
            if !include {
                s.push_str("        count += 1u;\n");
            }
            s.push_str("    }\n");
        }
    }
    for _ in 0..r {
        s.push_str("    }\n");
    }
    if average.is_some() {
        s.push_str("    acc = acc / f32(max(count, 1u));\n");
    }
    let _ = writeln!(s, "    {}[i] = acc;\n}}", b.out());
    Ok(Generated { source: s, workgroup_size: [WG, 1, 1], dispatch, bindings: b.bindings() })
}

pub(super) fn lrn(ctx: &Ctx) -> Result<Generated, NoKernel> {
    let Op::Lrn { size, alpha, beta, bias } = ctx.kernel.op else {
        no_kernel!("{} is not an LRN", ctx.kernel.op.name());
    };
    ctx.require_f32()?;
    let (x, out) = (ctx.input(0)?, ctx.output()?);
    if size == 0 || x.shape.len() < 2 || x.shape != out.shape {
        no_kernel!("an LRN of size {size} from {:?} to {:?}", x.shape, out.shape);
    }
    wgsl::fits_u32(&[x.numel()])?;
    let (c, inner) = (x.shape[1], wgsl::numel(&x.shape[2..]));
    let size = size as u64;
    let (before, after) = ((size - 1) / 2, (size - 1).div_ceil(2));
    let b = Binder::new(ctx, &[], "f32")?;
    let (dispatch, head) = wgsl::linear(out.numel(), WG);
    let mut s = b.decls();
    s.push('\n');
    s.push_str(&wgsl::entry([WG, 1, 1]));
    s.push_str(&head);
    let _ = write!(
        s,
        "    let inner = i % {inner};
    let ch = i32((i / {inner}) % {c});
    let base = i - u32(ch) * {inner};
    var sum = 0.0;
    for (var cc = max(ch - {before}i, 0i); cc <= min(ch + {after}i, {cm1}i); cc++) {{
        let v = {x}[base + u32(cc) * {inner}];
        sum += v * v;
    }}
    let scale = pow({bias} + {alpha} / {size}.0 * sum, {beta});
    {out}[i] = {x}[i] / scale;
}}
",
        inner = u(inner),
        c = u(c),
        before = before,
        after = after,
        cm1 = c as i64 - 1,
        x = b.input(0),
        bias = wgsl::lit(bias),
        alpha = wgsl::lit(alpha),
        size = size,
        beta = wgsl::lit(beta),
        out = b.out(),
    );
    Ok(Generated { source: s, workgroup_size: [WG, 1, 1], dispatch, bindings: b.bindings() })
}
