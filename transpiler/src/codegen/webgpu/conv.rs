//! Convolutions: the implicit GEMM (`[O, K]` weights times im2col columns gathered on the fly, tiled through
//! workgroup memory) for 1-D and 2-D convolutions with any groups; a dedicated depthwise kernel that stages an input
//! patch per workgroup; and direct kernels for 3-D convolutions and ConvTranspose.

use std::fmt::Write;

use wdnn_descriptor_spec::{EpilogueStep, Op};

use super::gemm::{self, GemmParts, bias_slot};
use super::wgsl::{self, Binder, Ctx, Generated, no_kernel, u};
use crate::codegen::NoKernel;

/// Convolution geometry with 1-D convolutions seen as 2-D with height 1.
struct Geo {
    n: u64,
    c: u64,
    o: u64,
    g: u64,
    /// Input, kernel and output extents, strides, dilations and begin pads per spatial axis.
    ins: Vec<u64>,
    ks: Vec<u64>,
    outs: Vec<u64>,
    st: Vec<u64>,
    dil: Vec<u64>,
    pad: Vec<u64>,
}

fn geometry(ctx: &Ctx, transposed: bool) -> Result<Geo, NoKernel> {
    let (Op::Conv { group, strides, dilations, pads, .. } | Op::ConvTranspose { group, strides, dilations, pads, .. }) =
        &ctx.kernel.op
    else {
        no_kernel!("{} is not a convolution", ctx.kernel.op.name());
    };
    let (x, w, out) = (ctx.input(0)?, ctx.input(1)?, ctx.output()?);
    let r = x.shape.len().saturating_sub(2);
    if r == 0 || w.shape.len() != r + 2 || out.shape.len() != r + 2 {
        no_kernel!(
            "a convolution of {:?} by {:?} to {:?} (no spatial axis, or ranks differ)",
            x.shape,
            w.shape,
            out.shape
        );
    }
    let at = |v: &[u32], i: usize, d: u64| v.get(i).map_or(d, |&x| x as u64);
    let g = (*group).max(1) as u64;
    let o = if transposed { w.shape[1] * g } else { w.shape[0] };
    let geo = Geo {
        n: x.shape[0],
        c: x.shape[1],
        o,
        g,
        ins: x.shape[2..].to_vec(),
        ks: w.shape[2..].to_vec(),
        outs: out.shape[2..].to_vec(),
        st: (0..r).map(|i| at(strides, i, 1)).collect(),
        dil: (0..r).map(|i| at(dilations, i, 1)).collect(),
        pad: (0..r).map(|i| at(pads, i, 0)).collect(),
    };
    if !geo.c.is_multiple_of(g) || !geo.o.is_multiple_of(g) || out.shape[1] != geo.o || out.shape[0] != geo.n {
        no_kernel!("{} groups of {} input and {} output channels, output {:?}", g, geo.c, geo.o, out.shape);
    }
    wgsl::fits_u32(&[x.numel(), w.numel(), out.numel()])?;
    Ok(geo)
}

fn epilogue<'a>(ctx: &Ctx<'a>) -> &'a [EpilogueStep] {
    ctx.kernel.op.epilogue().unwrap_or(&[])
}

pub(super) fn conv(ctx: &Ctx) -> Result<Generated, NoKernel> {
    ctx.require_f32()?;
    let geo = geometry(ctx, false)?;
    let r = geo.ins.len();
    let cg = geo.c / geo.g;
    if r == 2
        && cg == 1
        && geo.g == geo.c
        && let Ok(k) = depthwise(ctx, &geo)
    {
        return Ok(k);
    }
    if r <= 2 { implicit_gemm(ctx, &geo) } else { direct(ctx, &geo) }
}

/// Pads a 1-D geometry to 2-D: input, kernel and output extents, strides, dilations, begin pads.
#[allow(clippy::type_complexity)]
fn as_2d(geo: &Geo) -> ([u64; 2], [u64; 2], [u64; 2], [u64; 2], [u64; 2], [u64; 2]) {
    let two = |v: &[u64], d: u64| if v.len() == 1 { [d, v[0]] } else { [v[0], v[1]] };
    (two(&geo.ins, 1), two(&geo.ks, 1), two(&geo.outs, 1), two(&geo.st, 1), two(&geo.dil, 1), two(&geo.pad, 0))
}

fn implicit_gemm(ctx: &Ctx, geo: &Geo) -> Result<Generated, NoKernel> {
    let steps = epilogue(ctx);
    let out = ctx.output()?;
    let skip = wgsl::inlined_operands(ctx, steps);
    let b = Binder::new(ctx, &skip, "f32")?;
    let ([h, w], [kh, kw], [oh, ow], [sh, sw], [dh, dw], [ph, pw]) = as_2d(geo);
    let (g, cg, og) = (geo.g, geo.c / geo.g, geo.o / geo.g);
    let (p, k) = (oh * ow, cg * kh * kw);
    let (x, wt) = (b.input(0), b.input(1));
    let mut f = String::new();
    let group = if g == 1 { "0u".to_string() } else { format!("(z % {})", u(g)) };
    let img = if g == 1 { "z".to_string() } else { format!("(z / {})", u(g)) };
    let _ = writeln!(
        f,
        "fn load_a(z: u32, m: u32, k: u32) -> f32 {{\n    if (m >= {} || k >= {}) {{\n        return 0.0;\n    }}\n    return {wt}[({group} * {} + m) * {} + k];\n}}",
        u(og),
        u(k),
        u(og),
        u(k)
    );
    let pointwise = kh == 1 && kw == 1 && sh == 1 && sw == 1 && ph == 0 && pw == 0;
    if pointwise {
        let _ = writeln!(
            f,
            "fn load_b(z: u32, k: u32, n: u32) -> f32 {{\n    if (k >= {} || n >= {}) {{\n        return 0.0;\n    }}\n    return {x}[({img} * {} + {group} * {} + k) * {} + n];\n}}",
            u(k),
            u(p),
            u(geo.c),
            u(cg),
            u(p)
        );
    } else {
        let _ = writeln!(
            f,
            "fn load_b(z: u32, k: u32, n: u32) -> f32 {{
    if (k >= {k} || n >= {p}) {{
        return 0.0;
    }}
    let ci = k / {khw};
    let r = k % {khw};
    let ky = r / {kw};
    let kx = r % {kw};
    let oy = n / {ow};
    let ox = n % {ow};
    let iy = i32(oy * {sh} + ky * {dh}) - {ph}i;
    let ix = i32(ox * {sw} + kx * {dw}) - {pw}i;
    if (iy < 0i || iy >= {h}i || ix < 0i || ix >= {w}i) {{
        return 0.0;
    }}
    return {x}[(({img} * {c} + {group} * {cg} + ci) * {h} + u32(iy)) * {w} + u32(ix)];
}}",
            k = u(k),
            p = u(p),
            khw = u(kh * kw),
            kw = u(kw),
            ow = u(ow),
            sh = u(sh),
            dh = u(dh),
            ph = ph,
            sw = u(sw),
            dw = u(dw),
            pw = pw,
            h = h,
            w = w,
            c = u(geo.c),
            cg = u(cg),
        );
    }
    let epi = wgsl::steps_code(ctx, steps, &out.shape, "idx", &|i| b.input(i))?;
    let bias = bias_slot(ctx).map(|s| format!("{}[o]", b.input(s)));
    let prefix =
        format!("    let o = {group} * {} + m;\n    let base = ({img} * {} + o) * {};\n", u(og), u(geo.o), u(p));
    let index = |nj: &str| format!("base + {nj}");
    f.push_str(&gemm::store_body(og, p, &prefix, &index, bias.as_deref(), &epi, &b.out()));
    let parts = GemmParts { m: og, n: p, k, z: geo.n * g, a_k_fast: true, b_n_fast: true, functions: f };
    gemm::gemm(&b.decls(), &parts, b.bindings(), ctx.tuning)
}

/// Depthwise (one input channel per group): a workgroup computes a TX×TY tile of one output channel from an input
/// patch staged in workgroup memory. `NoKernel` where the patch or the kernel is too large: the implicit GEMM then
/// computes it.
fn depthwise(ctx: &Ctx, geo: &Geo) -> Result<Generated, NoKernel> {
    let steps = epilogue(ctx);
    let out = ctx.output()?;
    let ([h, w], [kh, kw], [oh, ow], [sh, sw], [dh, dw], [ph, pw]) = as_2d(geo);
    let (tx, ty) = if oh * ow >= 256 { (16u64, 16u64) } else { (8, 8) };
    let (pth, ptw) = ((ty - 1) * sh + (kh - 1) * dh + 1, (tx - 1) * sw + (kw - 1) * dw + 1);
    let z = geo.n * geo.o;
    if pth * ptw * 4 > 16384 || z > 65535 || kh * kw > 64 {
        no_kernel!("a depthwise patch of {pth}×{ptw}, {z} planes, a {kh}×{kw} kernel");
    }
    let mult = geo.o / geo.c;
    let skip = wgsl::inlined_operands(ctx, steps);
    let b = Binder::new(ctx, &skip, "f32")?;
    let (x, wt) = (b.input(0), b.input(1));
    let mut s = b.decls();
    let _ = writeln!(s, "\nvar<workgroup> tile_in: array<f32, {}>;\n", pth * ptw);
    s.push_str(&wgsl::entry([tx as u32, ty as u32, 1]));
    let _ = write!(
        s,
        "    let img = wid.z / {o};
    let oc = wid.z % {o};
    let ic = oc / {mult};
    let ox0 = wid.x * {tx};
    let oy0 = wid.y * {ty};
    let ix0 = i32(ox0 * {sw}) - {pw}i;
    let iy0 = i32(oy0 * {sh}) - {ph}i;
    let base = (img * {c} + ic) * {hw};
    for (var s = li; s < {pn}; s += {nt}) {{
        let iy = iy0 + i32(s / {ptw});
        let ix = ix0 + i32(s % {ptw});
        var v = 0.0;
        if (iy >= 0i && iy < {h}i && ix >= 0i && ix < {w}i) {{
            v = {x}[base + u32(iy) * {wu} + u32(ix)];
        }}
        tile_in[s] = v;
    }}
    workgroupBarrier();
    let ox = ox0 + lid.x;
    let oy = oy0 + lid.y;
    if (ox >= {ow} || oy >= {oh}) {{
        return;
    }}
    let py = lid.y * {sh};
    let px = lid.x * {sw};
    let wb = oc * {khw};
    var acc = 0.0;
",
        o = u(geo.o),
        mult = u(mult),
        tx = u(tx),
        ty = u(ty),
        sw = u(sw),
        sh = u(sh),
        pw = pw,
        ph = ph,
        c = u(geo.c),
        hw = u(h * w),
        pn = u(pth * ptw),
        nt = u(tx * ty),
        ptw = u(ptw),
        h = h,
        w = w,
        wu = u(w),
        ow = u(ow),
        oh = u(oh),
        khw = u(kh * kw),
    );
    for ky in 0..kh {
        for kx in 0..kw {
            let _ = writeln!(
                s,
                "    acc += tile_in[(py + {}u) * {} + px + {}u] * {wt}[wb + {}u];",
                ky * dh,
                u(ptw),
                kx * dw,
                ky * kw + kx
            );
        }
    }
    let _ = writeln!(s, "    let idx = (img * {} + oc) * {} + oy * {} + ox;", u(geo.o), u(oh * ow), u(ow));
    if let Some(slot) = bias_slot(ctx) {
        let _ = writeln!(s, "    acc += {}[oc];", b.input(slot));
    }
    s.push_str("    {\n");
    s.push_str(&wgsl::steps_code(ctx, steps, &out.shape, "idx", &|i| b.input(i))?);
    let _ = writeln!(s, "        {}[idx] = acc;\n    }}\n}}", b.out());
    Ok(Generated {
        source: wgsl::with_helpers(&s),
        workgroup_size: [tx as u32, ty as u32, 1],
        dispatch: [ow.div_ceil(tx) as u32, oh.div_ceil(ty) as u32, z as u32],
        bindings: b.bindings(),
    })
}

/// Spatial coordinate `d` of flat output index `i` over `[N, O, outs…]`, as WGSL statements defining `o{d}`,
/// `oc` (channel) and `img`.
fn decompose(outs: &[u64], o: u64) -> String {
    let mut s = String::new();
    let mut stride = 1u64;
    let mut parts = Vec::new();
    for (d, &e) in outs.iter().enumerate().rev() {
        parts.push(format!("    let o{d} = (i / {}) % {};\n", u(stride), u(e)));
        stride *= e;
    }
    parts.reverse();
    for p in parts {
        s.push_str(&p);
    }
    let _ = writeln!(s, "    let oc = (i / {}) % {};\n    let img = i / {};", u(stride), u(o), u(stride * o));
    s
}

/// One invocation per output value (any number of spatial axes).
fn direct(ctx: &Ctx, geo: &Geo) -> Result<Generated, NoKernel> {
    let steps = epilogue(ctx);
    let out = ctx.output()?;
    let skip = wgsl::inlined_operands(ctx, steps);
    let b = Binder::new(ctx, &skip, "f32")?;
    let (x, wt) = (b.input(0), b.input(1));
    let (cg, og) = (geo.c / geo.g, geo.o / geo.g);
    let (dispatch, head) = wgsl::linear(out.numel(), 64);
    let mut s = b.decls();
    s.push('\n');
    s.push_str(&wgsl::entry([64, 1, 1]));
    s.push_str(&head);
    s.push_str(&decompose(&geo.outs, geo.o));
    let _ =
        writeln!(s, "    let g = oc / {};\n    var acc = 0.0;\n    for (var ci = 0u; ci < {}; ci++) {{", u(og), u(cg));
    let r = geo.ins.len();
    let mut xi = format!("(img * {} + g * {} + ci)", u(geo.c), u(cg));
    let mut wi = format!("(oc * {} + ci)", u(cg));
    for d in 0..r {
        let _ = writeln!(
            s,
            "    for (var k{d} = 0u; k{d} < {}; k{d}++) {{\n    let p{d} = i32(o{d} * {} + k{d} * {}) - {}i;\n    if (p{d} < 0i || p{d} >= {}i) {{ continue; }}",
            u(geo.ks[d]),
            u(geo.st[d]),
            u(geo.dil[d]),
            geo.pad[d],
            geo.ins[d]
        );
        xi = format!("({xi} * {} + u32(p{d}))", u(geo.ins[d]));
        wi = format!("({wi} * {} + k{d})", u(geo.ks[d]));
    }
    let _ = writeln!(s, "    acc += {x}[{xi}] * {wt}[{wi}];");
    for _ in 0..r {
        s.push_str("    }\n");
    }
    s.push_str("    }\n    let idx = i;\n");
    if let Some(slot) = bias_slot(ctx) {
        let _ = writeln!(s, "    acc += {}[oc];", b.input(slot));
    }
    s.push_str(&wgsl::steps_code(ctx, steps, &out.shape, "idx", &|i| b.input(i))?);
    let _ = writeln!(s, "    {}[i] = acc;\n}}", b.out());
    Ok(Generated { source: wgsl::with_helpers(&s), workgroup_size: [64, 1, 1], dispatch, bindings: b.bindings() })
}

/// ConvTranspose, one invocation per output value: the input positions that reach it through each kernel tap.
pub(super) fn conv_transpose(ctx: &Ctx) -> Result<Generated, NoKernel> {
    ctx.require_f32()?;
    let geo = geometry(ctx, true)?;
    let steps = epilogue(ctx);
    let out = ctx.output()?;
    let skip = wgsl::inlined_operands(ctx, steps);
    let b = Binder::new(ctx, &skip, "f32")?;
    let (x, wt) = (b.input(0), b.input(1));
    let (cg, og) = (geo.c / geo.g, geo.o / geo.g);
    let (dispatch, head) = wgsl::linear(out.numel(), 64);
    let mut s = b.decls();
    s.push('\n');
    s.push_str(&wgsl::entry([64, 1, 1]));
    s.push_str(&head);
    s.push_str(&decompose(&geo.outs, geo.o));
    let _ = writeln!(s, "    let g = oc / {};\n    let oo = oc % {};\n    var acc = 0.0;", u(og), u(og));
    let r = geo.ins.len();
    let mut xi = format!("(img * {} + g * {} + ci)", u(geo.c), u(cg));
    let mut wi = format!("((g * {} + ci) * {} + oo)", u(cg), u(og));
    if (0..r).all(|d| geo.ks[d] == geo.st[d] && geo.dil[d] == 1) {
        // Kernel as large as the stride: the taps do not overlap, and each output position meets exactly one of
        // them (`k = (o + pad) % stride`) from one input position (`p = (o + pad) / stride`), or none past the
        // input's end. No loop over taps.
        let mut inside = Vec::new();
        for d in 0..r {
            let _ = writeln!(
                s,
                "    let q{d} = o{d} + {}u;\n    let p{d} = q{d} / {};\n    let k{d} = q{d} % {};",
                geo.pad[d],
                u(geo.st[d]),
                u(geo.st[d])
            );
            inside.push(format!("p{d} < {}", u(geo.ins[d])));
            xi = format!("({xi} * {} + p{d})", u(geo.ins[d]));
            wi = format!("({wi} * {} + k{d})", u(geo.ks[d]));
        }
        let _ = writeln!(s, "    if ({}) {{\n    for (var ci = 0u; ci < {}; ci++) {{", inside.join(" && "), u(cg));
        let _ = writeln!(s, "    acc += {x}[{xi}] * {wt}[{wi}];\n    }}\n    }}");
    } else {
        let _ = writeln!(s, "    for (var ci = 0u; ci < {}; ci++) {{", u(cg));
        for d in 0..r {
            let _ = writeln!(
                s,
                "    for (var k{d} = 0u; k{d} < {}; k{d}++) {{\n    let q{d} = i32(o{d} + {}u) - i32(k{d} * {});\n    if (q{d} < 0i || q{d} % {}i != 0i) {{ continue; }}\n    let p{d} = q{d} / {}i;\n    if (p{d} >= {}i) {{ continue; }}",
                u(geo.ks[d]),
                geo.pad[d],
                u(geo.dil[d]),
                geo.st[d],
                geo.st[d],
                geo.ins[d]
            );
            xi = format!("({xi} * {} + u32(p{d}))", u(geo.ins[d]));
            wi = format!("({wi} * {} + k{d})", u(geo.ks[d]));
        }
        let _ = writeln!(s, "    acc += {x}[{xi}] * {wt}[{wi}];");
        for _ in 0..r {
            s.push_str("    }\n");
        }
        s.push_str("    }\n");
    }
    s.push_str("    let idx = i;\n");
    if let Some(slot) = bias_slot(ctx) {
        let _ = writeln!(s, "    acc += {}[oc];", b.input(slot));
    }
    s.push_str(&wgsl::steps_code(ctx, steps, &out.shape, "idx", &|i| b.input(i))?);
    let _ = writeln!(s, "    {}[i] = acc;\n}}", b.out());
    Ok(Generated { source: wgsl::with_helpers(&s), workgroup_size: [64, 1, 1], dispatch, bindings: b.bindings() })
}
