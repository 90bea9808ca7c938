//! Reductions: Softmax/LogSoftmax (one workgroup per row) and `Reduce` (one workgroup per output value when the
//! reduced set is large, one invocation per output value otherwise).

use std::fmt::Write;

use wdnn_descriptor_spec::{ReduceFn, shape};

use super::wgsl::{self, Binder, Ctx, Generated, no_kernel, u};
use crate::codegen::NoKernel;

/// A workgroup-wide reduction of `v` (an f32 expression evaluated once per invocation) into `red[0]`, with `op`
/// combining two values; leaves the result in `let <name>`.
fn tree(wg: u64, v: &str, op: &str, name: &str) -> String {
    format!(
        "    red[li] = {v};
    workgroupBarrier();
    for (var st = {half}u; st > 0u; st = st >> 1u) {{
        if (li < st) {{
            let a = red[li];
            let b = red[li + st];
            red[li] = {op};
        }}
        workgroupBarrier();
    }}
    let {name} = red[0];
    workgroupBarrier();
",
        half = wg / 2
    )
}

pub(super) fn softmax(ctx: &Ctx, axis: u32, log: bool) -> Result<Generated, NoKernel> {
    ctx.require_f32()?;
    let (x, out) = (ctx.input(0)?, ctx.output()?);
    let axis = axis as usize;
    if axis >= x.shape.len() || x.shape != out.shape {
        no_kernel!("a softmax along axis {axis} from {:?} to {:?}", x.shape, out.shape);
    }
    wgsl::fits_u32(&[x.numel()])?;
    let len = x.shape[axis];
    let inner = wgsl::numel(&x.shape[axis + 1..]);
    let rows = x.numel() / len.max(1);
    let wg: u64 = if len >= 256 { 256 } else { 64 };
    let b = Binder::new(ctx, &[], "f32")?;
    let (dispatch, head) = wgsl::groups_2d(rows, "r");
    let mut s = b.decls();
    let _ = writeln!(s, "\nvar<workgroup> red: array<f32, {wg}>;\n");
    s.push_str(&wgsl::entry([wg as u32, 1, 1]));
    s.push_str(&head);
    let (xv, ov) = (b.input(0), b.out());
    let _ = write!(
        s,
        "    if (r >= {rows}) {{
        return;
    }}
    let base = (r / {inner}) * {li} + r % {inner};
    var m = bitcast<f32>(0xff800000u);
    for (var j = li; j < {len}; j += {wg}u) {{
        m = max(m, {xv}[base + j * {inner}]);
    }}
",
        rows = u(rows),
        inner = u(inner),
        li = u(len * inner),
        len = u(len),
    );
    s.push_str(&tree(wg, "m", "max(a, b)", "mx"));
    let _ = writeln!(
        s,
        "    var t = 0.0;\n    for (var j = li; j < {}; j += {wg}u) {{\n        t += exp({xv}[base + j * {}] - mx);\n    }}",
        u(len),
        u(inner)
    );
    s.push_str(&tree(wg, "t", "a + b", "sum"));
    let value = if log { "v - mx - log(sum)" } else { "exp(v - mx) / sum" };
    let _ = writeln!(
        s,
        "    for (var j = li; j < {}; j += {wg}u) {{\n        let at = base + j * {};\n        let v = {xv}[at];\n        {ov}[at] = {value};\n    }}\n}}",
        u(len),
        u(inner)
    );
    Ok(Generated { source: s, workgroup_size: [wg as u32, 1, 1], dispatch, bindings: b.bindings() })
}

pub(super) fn reduce(ctx: &Ctx, fun: ReduceFn, axes: &[u32]) -> Result<Generated, NoKernel> {
    ctx.require_f32()?;
    let (x, out) = (ctx.input(0)?, ctx.output()?);
    let rank = x.shape.len();
    if axes.iter().any(|&a| a as usize >= rank) {
        no_kernel!("a reduction of {:?} over axes {axes:?}", x.shape);
    }
    wgsl::fits_u32(&[x.numel()])?;
    let st = shape::strides(&x.shape);
    let reduced: Vec<usize> = (0..rank).filter(|a| axes.contains(&(*a as u32))).collect();
    let kept: Vec<usize> = (0..rank).filter(|a| !axes.contains(&(*a as u32))).collect();
    let count = reduced.iter().map(|&a| x.shape[a]).product::<u64>();
    let outputs = out.numel();
    if kept.iter().map(|&a| x.shape[a]).product::<u64>() != outputs {
        no_kernel!("a reduction of {:?} over axes {axes:?} to {:?}", x.shape, out.shape);
    }
    // Offsets of output value `o` and of reduced position `q`.
    let offset = |axes: &[usize], var: &str| -> String {
        let mut terms = Vec::new();
        let mut stride = 1u64;
        for &a in axes.iter().rev() {
            terms.push(format!("(({var} / {}) % {}) * {}", u(stride), u(x.shape[a]), u(st[a])));
            stride *= x.shape[a];
        }
        if terms.is_empty() { "0u".into() } else { terms.join(" + ") }
    };
    let (init, step, finish) = match fun {
        ReduceFn::Sum => ("0.0", "acc + v", "acc"),
        ReduceFn::Mean => ("0.0", "acc + v", "acc / COUNT"),
        ReduceFn::Max => ("bitcast<f32>(0xff800000u)", "max(acc, v)", "acc"),
        ReduceFn::Min => ("bitcast<f32>(0x7f800000u)", "min(acc, v)", "acc"),
        ReduceFn::Prod => ("1.0", "acc * v", "acc"),
        ReduceFn::L1 => ("0.0", "acc + abs(v)", "acc"),
        ReduceFn::L2 => ("0.0", "acc + v * v", "sqrt(acc)"),
        ReduceFn::LogSum => ("0.0", "acc + v", "log(acc)"),
        ReduceFn::LogSumExp => ("0.0", "acc + exp(v - mx)", "mx + log(acc)"),
        ReduceFn::SumSquare => ("0.0", "acc + v * v", "acc"),
    };
    let combine = match fun {
        ReduceFn::Max => "max(a, b)",
        ReduceFn::Min => "min(a, b)",
        ReduceFn::Prod => "a * b",
        _ => "a + b",
    };
    let finish = finish.replace("COUNT", &format!("{}.0", count.max(1)));
    let lse = fun == ReduceFn::LogSumExp;
    let b = Binder::new(ctx, &[], "f32")?;
    let xv = b.input(0);
    let base = offset(&kept, "o");
    let pos = offset(&reduced, "q");
    let mut s = b.decls();
    let wide = count >= 128 && outputs < 65536;
    if wide {
        let wg: u64 = 256;
        let (dispatch, head) = wgsl::groups_2d(outputs, "o");
        let _ = writeln!(s, "\nvar<workgroup> red: array<f32, {wg}>;\n");
        s.push_str(&wgsl::entry([wg as u32, 1, 1]));
        s.push_str(&head);
        let _ = writeln!(s, "    if (o >= {}) {{\n        return;\n    }}\n    let base = {base};", u(outputs));
        if lse {
            let _ = writeln!(
                s,
                "    var m = bitcast<f32>(0xff800000u);\n    for (var q = li; q < {}; q += {wg}u) {{\n        m = max(m, {xv}[base + {pos}]);\n    }}",
                u(count)
            );
            s.push_str(&tree(wg, "m", "max(a, b)", "mx"));
        }
        let _ = writeln!(
            s,
            "    var acc = {init};\n    for (var q = li; q < {}; q += {wg}u) {{\n        let v = {xv}[base + {pos}];\n        acc = {step};\n    }}",
            u(count)
        );
        s.push_str(&tree(wg, "acc", combine, "total"));
        let _ = writeln!(
            s,
            "    if (li == 0u) {{\n        let acc = total;\n        {}[o] = {finish};\n    }}\n}}",
            b.out()
        );
        return Ok(Generated { source: s, workgroup_size: [wg as u32, 1, 1], dispatch, bindings: b.bindings() });
    }
    let wg = 64u32;
    let (dispatch, head) = wgsl::linear(outputs, wg);
    s.push('\n');
    s.push_str(&wgsl::entry([wg, 1, 1]));
    s.push_str(&head);
    let _ = writeln!(s, "    let o = i;\n    let base = {base};");
    if lse {
        let _ = writeln!(
            s,
            "    var mx = bitcast<f32>(0xff800000u);\n    for (var q = 0u; q < {}; q++) {{\n        mx = max(mx, {xv}[base + {pos}]);\n    }}",
            u(count)
        );
    }
    let _ = writeln!(
        s,
        "    var acc = {init};\n    for (var q = 0u; q < {}; q++) {{\n        let v = {xv}[base + {pos}];\n        acc = {step};\n    }}\n    {}[o] = {finish};\n}}",
        u(count),
        b.out()
    );
    Ok(Generated { source: s, workgroup_size: [wg, 1, 1], dispatch, bindings: b.bindings() })
}
