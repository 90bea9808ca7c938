//! Data movement: one invocation per output element reads the input element its index maps to (Reshape, Transpose,
//! Slice, Expand, Tile, Pad, Gather, GatherElements, GatherND), Concat into offsets of its output, and Resize through per-axis
//! tap tables computed at convert time. Values move as 32-bit words (`u32`) or pairs of them (`vec2<u32>`), so any
//! 4- or 8-byte dtype works; 1- and 2-byte dtypes are read from their lanes and written a whole word per invocation
//! ([`packed`]).

#![allow(clippy::needless_range_loop)] // parallel per-axis arrays read clearest by axis index

use std::fmt::Write;

use wdnn_descriptor_spec::{DType, Op, PadMode, ResizeMode, shape};

use super::packed;
use super::wgsl::{self, Binder, Ctx, Generated, no_kernel, u};
use crate::codegen::NoKernel;

const WG: u32 = 256;

/// The word type of a dtype.
fn word(dtype: DType) -> Result<&'static str, NoKernel> {
    packed::bits_binding(dtype)
}

/// `let c{a} = …;` for every axis of `shape`, from the flat index `i`.
fn coords(shape: &[u64]) -> String {
    let st = shape::strides(shape);
    let mut s = String::new();
    for (a, (&d, &stride)) in shape.iter().zip(&st).enumerate() {
        let q = if stride == 1 { "i".to_string() } else { format!("(i / {})", u(stride)) };
        let e = if a == 0 { q } else { format!("{q} % {}", u(d)) };
        let _ = writeln!(s, "    let c{a} = {e};");
    }
    s
}

/// The constant of `Pad` as a word.
fn pad_word(dtype: DType, value: f64) -> Result<String, NoKernel> {
    Ok(match dtype {
        DType::F32 => format!("{}u", (value as f32).to_bits()),
        DType::I32 => format!("{}u", (value as i32) as u32),
        DType::U32 => format!("{}u", value as u32),
        DType::F64 => {
            let b = value.to_bits();
            format!("vec2<u32>({}u, {}u)", b as u32, (b >> 32) as u32)
        }
        DType::I64 => {
            let b = value as i64 as u64;
            format!("vec2<u32>({}u, {}u)", b as u32, (b >> 32) as u32)
        }
        DType::U64 => {
            let b = value as u64;
            format!("vec2<u32>({}u, {}u)", b as u32, (b >> 32) as u32)
        }
        DType::Bool => format!("{}u", (value != 0.0) as u32),
        DType::I8 => format!("{}u", value as i8 as u8),
        DType::U8 => format!("{}u", value as u8),
        DType::I16 => format!("{}u", value as i16 as u16),
        DType::U16 => format!("{}u", value as u16),
        DType::F16 => format!("{}u", half::f16::from_f64(value).to_bits()),
    })
}

pub(super) fn index_map(ctx: &Ctx) -> Result<Generated, NoKernel> {
    let (x, out) = (ctx.input(0)?, ctx.output()?);
    let elem = word(out.dtype)?;
    if x.dtype != out.dtype {
        no_kernel!("{} data in, {} out", x.dtype, out.dtype);
    }
    wgsl::fits_u32(&[x.numel(), out.numel()])?;
    let rank = out.shape.len();
    let ist = shape::strides(&x.shape);
    let mut extra = String::new();
    // A packed Pad's (inside, constant): the element is the constant outside.
    let mut pad_guard: Option<(String, String)> = None;
    // Slots bound: only the data, except for Gather's indices.
    let mut skip: Vec<usize> = (1..ctx.kernel.inputs.len()).collect();
    let body = match &ctx.kernel.op {
        Op::Reshape => "    let src = i;\n".to_string(),
        Op::Expand => format!("    let src = {};\n", wgsl::bcast_index(&out.shape, &x.shape, "i")?),
        Op::Transpose { perm } => {
            if perm.len() != rank || x.shape.len() != rank || perm.iter().any(|&p| p as usize >= rank) {
                no_kernel!("a Transpose of {:?} by {perm:?}", x.shape);
            }
            let mut terms = vec!["0u".to_string()];
            for (a, &p) in perm.iter().enumerate() {
                terms.push(format!("c{a} * {}", u(ist[p as usize])));
            }
            format!("{}    let src = {};\n", coords(&out.shape), terms.join(" + "))
        }
        Op::Tile => {
            if x.shape.len() != rank {
                no_kernel!("a Tile from rank {} to rank {rank}", x.shape.len());
            }
            let terms: Vec<String> = (0..rank).map(|a| format!("(c{a} % {}) * {}", u(x.shape[a]), u(ist[a]))).collect();
            format!("{}    let src = 0u + {};\n", coords(&out.shape), terms.join(" + "))
        }
        Op::Slice { axes, starts, steps } => {
            if x.shape.len() != rank || axes.len() != starts.len() || axes.len() != steps.len() {
                no_kernel!("a Slice from rank {} to rank {rank} over {} axes", x.shape.len(), axes.len());
            }
            let mut terms = vec!["0i".to_string()];
            for a in 0..rank {
                let term = match axes.iter().position(|&ax| ax as usize == a) {
                    Some(j) => format!("({}i + i32(c{a}) * {}i) * {}i", starts[j], steps[j], ist[a]),
                    None => format!("i32(c{a}) * {}i", ist[a]),
                };
                terms.push(term);
            }
            format!("{}    let src = u32({});\n", coords(&out.shape), terms.join(" + "))
        }
        Op::Pad { pads, mode, value } => {
            if x.shape.len() != rank || pads.len() != 2 * rank {
                no_kernel!("a Pad from rank {} to rank {rank} with {} pads", x.shape.len(), pads.len());
            }
            let mut s = coords(&out.shape);
            let mut inside = Vec::new();
            let mut terms = vec!["0u".to_string()];
            for a in 0..rank {
                let d = x.shape[a] as i64;
                let _ = writeln!(s, "    var p{a} = i32(c{a}) - {}i;", pads[a]);
                match mode {
                    PadMode::Constant => inside.push(format!("p{a} >= 0i && p{a} < {d}i")),
                    PadMode::Edge => {
                        let _ = writeln!(s, "    p{a} = clamp(p{a}, 0i, {}i);", d - 1);
                    }
                    PadMode::Wrap => {
                        let _ = writeln!(s, "    p{a} = ((p{a} % {d}i) + {d}i) % {d}i;");
                    }
                    PadMode::Reflect => {
                        if d == 1 {
                            let _ = writeln!(s, "    p{a} = 0i;");
                        } else {
                            let period = 2 * (d - 1);
                            let _ = writeln!(
                                s,
                                "    p{a} = ((p{a} % {period}i) + {period}i) % {period}i;\n    p{a} = select(p{a}, {period}i - p{a}, p{a} >= {d}i);"
                            );
                        }
                    }
                }
                terms.push(format!("u32(p{a}) * {}", u(ist[a])));
            }
            if !inside.is_empty() && packed::is_packed(out.dtype) {
                pad_guard = Some((inside.join(" && "), pad_word(out.dtype, *value)?));
            } else if !inside.is_empty() {
                let _ = writeln!(
                    s,
                    "    if (!({})) {{\n        OUT[i] = {};\n        return;\n    }}",
                    inside.join(" && "),
                    pad_word(out.dtype, *value)?
                );
            }
            let _ = writeln!(s, "    let src = {};", terms.join(" + "));
            s
        }
        Op::Gather { axis } | Op::GatherElements { axis } => {
            let axis = *axis as usize;
            let idx = ctx.input(1)?;
            let read_index = match idx.dtype {
                DType::I64 => "i32(IDX[j].x)",
                DType::I32 => "i32(IDX[j])",
                other => no_kernel!("{other} indices (i32 and i64 only)"),
            };
            skip.retain(|&s| s != 1);
            if axis >= x.shape.len() {
                no_kernel!("a gather along axis {axis} of {:?}", x.shape);
            }
            let d = x.shape[axis] as i64;
            let mut s = coords(&out.shape);
            if matches!(ctx.kernel.op, Op::Gather { .. }) {
                // out = data[:axis] + indices + data[axis+1:]
                let q = idx.shape.len();
                if rank + 1 != x.shape.len() + q {
                    no_kernel!("a Gather of {:?} by indices {:?} to {:?}", x.shape, idx.shape, out.shape);
                }
                let mut j = vec!["0u".to_string()];
                let jst = shape::strides(&idx.shape);
                for t in 0..q {
                    j.push(format!("c{} * {}", axis + t, u(jst[t])));
                }
                let _ = writeln!(s, "    let j = {};", j.join(" + "));
                let _ = writeln!(s, "    var g = {read_index};\n    g = select(g, g + {d}i, g < 0i);");
                let mut terms = vec!["0u".to_string()];
                for a in 0..x.shape.len() {
                    let t = if a < axis {
                        format!("c{a} * {}", u(ist[a]))
                    } else if a == axis {
                        format!("u32(g) * {}", u(ist[a]))
                    } else {
                        format!("c{} * {}", a + q - 1, u(ist[a]))
                    };
                    terms.push(t);
                }
                let _ = writeln!(s, "    let src = {};", terms.join(" + "));
            } else {
                if idx.shape != out.shape || x.shape.len() != rank {
                    no_kernel!("a GatherElements of {:?} by indices {:?} to {:?}", x.shape, idx.shape, out.shape);
                }
                let _ = writeln!(s, "    let j = i;\n    var g = {read_index};\n    g = select(g, g + {d}i, g < 0i);");
                let terms: Vec<String> = (0..rank)
                    .map(
                        |a| if a == axis { format!("u32(g) * {}", u(ist[a])) } else { format!("c{a} * {}", u(ist[a])) },
                    )
                    .collect();
                let _ = writeln!(s, "    let src = {};", terms.join(" + "));
            }
            extra = "IDX".into();
            s
        }
        Op::GatherNd { batch_dims } => {
            // out = indices[..-1] + data[b + m..]: each index tuple of `m` entries picks a slice of data.
            let idx = ctx.input(1)?;
            let b = *batch_dims as usize;
            let Some((&m, tuples)) = idx.shape.split_last() else { no_kernel!("GatherND indices of rank 0") };
            let m = m as usize;
            if b >= idx.shape.len() || b + m > x.shape.len() || x.shape[..b] != idx.shape[..b] {
                no_kernel!("a GatherND of {:?} by indices {:?} with batch_dims {b}", x.shape, idx.shape);
            }
            let inner = wgsl::numel(&x.shape[b + m..]).max(1);
            let per_batch = wgsl::numel(&tuples[b..]).max(1);
            let batch_stride = if b == 0 { 0 } else { ist[b - 1] };
            skip.retain(|&s| s != 1);
            let mut s = format!(
                "    let t = i / {};\n    var src = (t / {}) * {} + i % {};\n",
                u(inner),
                u(per_batch),
                u(batch_stride),
                u(inner)
            );
            for j in 0..m {
                let read = match idx.dtype {
                    DType::I64 => format!("i32(IDX[t * {m}u + {j}u].x)"),
                    DType::I32 => format!("i32(IDX[t * {m}u + {j}u])"),
                    other => no_kernel!("{other} indices (i32 and i64 only)"),
                };
                let d = x.shape[b + j] as i64;
                let _ = writeln!(
                    s,
                    "    var g{j} = {read};\n    g{j} = select(g{j}, g{j} + {d}i, g{j} < 0i);\n    src = src + u32(g{j}) * {};",
                    u(ist[b + j])
                );
            }
            extra = "IDX".into();
            s
        }
        other => no_kernel!("{} is not an index map", other.name()),
    };
    let mut b = Binder::new(ctx, &skip, elem)?;
    if !extra.is_empty() {
        let t = if ctx.input(1)?.dtype == DType::I64 { "vec2<u32>" } else { "u32" };
        b.set_type(1, t);
    }
    let body = body.replace("OUT", &b.out()).replace("IDX", &b.input(1));
    if packed::is_packed(out.dtype) {
        let mut element = body;
        match pad_guard {
            Some((inside, constant)) => {
                let _ = writeln!(
                    element,
                    "    let inside = {inside};\n    let sj = select(0u, src, inside);\n    let v = select({constant}, {}, inside);",
                    packed::load(out.dtype, &b.input(0), "sj", true)
                );
            }
            None => {
                let _ = writeln!(element, "    let v = {};", packed::load(out.dtype, &b.input(0), "src", true));
            }
        }
        return packed::assemble(ctx, &b, out.dtype, out.numel(), &element, true);
    }
    let (dispatch, head) = wgsl::linear(out.numel(), WG);
    let mut s = b.decls();
    s.push('\n');
    s.push_str(&wgsl::entry([WG, 1, 1]));
    s.push_str(&head);
    s.push_str(&body);
    let _ = writeln!(s, "    {}[i] = {}[src];\n}}", b.out(), b.input(0));
    Ok(Generated { source: s, workgroup_size: [WG, 1, 1], dispatch, bindings: b.bindings() })
}

/// Concat in one dispatch over the output: each element picks its input by its position along the axis.
pub(super) fn concat(ctx: &Ctx, axis: u32) -> Result<Generated, NoKernel> {
    let out = ctx.output()?;
    let elem = word(out.dtype)?;
    let axis = axis as usize;
    if axis >= out.shape.len() {
        no_kernel!("a Concat along axis {axis} to {:?}", out.shape);
    }
    wgsl::fits_u32(&[out.numel()])?;
    let inner = wgsl::numel(&out.shape[axis + 1..]);
    let total = out.shape[axis];
    // An empty input contributes nothing and is not bound (WebGPU has no empty bindings).
    let empty: Vec<usize> =
        (0..ctx.kernel.inputs.len()).filter(|&k| ctx.input(k).is_ok_and(|t| t.numel() == 0)).collect();
    let b = Binder::new(ctx, &empty, elem)?;
    if packed::is_packed(out.dtype) {
        return concat_packed(ctx, &b, axis, inner);
    }
    let (dispatch, head) = wgsl::linear(out.numel(), WG);
    let mut s = b.decls();
    s.push('\n');
    s.push_str(&wgsl::entry([WG, 1, 1]));
    s.push_str(&head);
    let _ = writeln!(
        s,
        "    let outer = i / {};\n    let ax = (i / {}) % {};\n    let r = i % {};",
        u(total * inner),
        u(inner),
        u(total),
        u(inner)
    );
    let mut offset = 0u64;
    for slot in 0..ctx.kernel.inputs.len() {
        let t = ctx.input(slot)?;
        if t.dtype != out.dtype || t.shape.len() != out.shape.len() {
            no_kernel!("a Concat of {} {:?} into {} {:?}", t.dtype, t.shape, out.dtype, out.shape);
        }
        let a = t.shape[axis];
        if a == 0 {
            continue;
        }
        let _ = writeln!(
            s,
            "    if (ax < {}) {{\n        {}[i] = {}[(outer * {} + ax - {}) * {} + r];\n        return;\n    }}",
            u(offset + a),
            b.out(),
            b.input(slot),
            u(a),
            u(offset),
            u(inner)
        );
        offset += a;
    }
    if offset != total {
        no_kernel!("a Concat whose inputs add up to {offset} of {total} along axis {axis}");
    }
    s.push_str("}\n");
    Ok(Generated { source: s, workgroup_size: [WG, 1, 1], dispatch, bindings: b.bindings() })
}

/// Concat of a packed dtype: each element picks its input by its position along the axis; whole words are written.
fn concat_packed(ctx: &Ctx, b: &Binder, axis: usize, inner: u64) -> Result<Generated, NoKernel> {
    let out = ctx.output()?;
    let total = out.shape[axis];
    let mut s = format!(
        "    let outer = i / {};\n    let ax = (i / {}) % {};\n    let r = i % {};\n    var v = 0u;\n",
        u(total * inner),
        u(inner),
        u(total),
        u(inner)
    );
    let mut offset = 0u64;
    let mut branches = Vec::new();
    for slot in 0..ctx.kernel.inputs.len() {
        let t = ctx.input(slot)?;
        if t.dtype != out.dtype || t.shape.len() != out.shape.len() {
            no_kernel!("a Concat of {} {:?} into {} {:?}", t.dtype, t.shape, out.dtype, out.shape);
        }
        let a = t.shape[axis];
        if a == 0 {
            continue;
        }
        let j = format!("j{slot}");
        branches.push(format!(
            "if (ax < {}) {{\n        let {j} = (outer * {} + ax - {}) * {} + r;\n        v = {};\n    }}",
            u(offset + a),
            u(a),
            u(offset),
            u(inner),
            packed::load(out.dtype, &b.input(slot), &j, true)
        ));
        offset += a;
    }
    if offset != total {
        no_kernel!("a Concat whose inputs add up to {offset} of {total} along axis {axis}");
    }
    let _ = writeln!(s, "    {}", branches.join(" else "));
    packed::assemble(ctx, b, out.dtype, out.numel(), &s, true)
}

/// Per output index of one axis: the (input index, weight) taps, exactly as the reference computes them. Cubic is
/// left to other backends here.
fn taps(op: &Op, axis: usize, in_len: usize, out_len: usize) -> Result<Vec<Vec<(usize, f64)>>, NoKernel> {
    if matches!(op, Op::Resize { mode: ResizeMode::Cubic, .. }) {
        no_kernel!("a cubic Resize");
    }
    match wdnn_runner_fallback::resize_taps(op, axis, in_len, out_len) {
        Some(taps) => Ok(taps),
        None => no_kernel!("a Resize of axis {axis} from {in_len} to {out_len} without taps"),
    }
}

/// Nearest and linear Resize: every resized axis has a table of taps (input index and weight per output index);
/// the kernel sums over the product of the axes' taps.
pub(super) fn resize(ctx: &Ctx) -> Result<Generated, NoKernel> {
    ctx.require_f32()?;
    let (x, out) = (ctx.input(0)?, ctx.output()?);
    let rank = x.shape.len();
    if out.shape.len() != rank {
        no_kernel!("a Resize from rank {rank} to rank {}", out.shape.len());
    }
    wgsl::fits_u32(&[x.numel(), out.numel()])?;
    let ist = shape::strides(&x.shape);
    let skip: Vec<usize> = (1..ctx.kernel.inputs.len()).collect();
    let b = Binder::new(ctx, &skip, "f32")?;
    let mut tables = String::new();
    let mut s = coords(&out.shape);
    let mut resized = Vec::new();
    for a in 0..rank {
        if x.shape[a] == out.shape[a]
            && matches!(&ctx.kernel.op, Op::Resize { scales, .. } if scales.get(a) == Some(&1.0))
        {
            continue;
        }
        let t = taps(&ctx.kernel.op, a, x.shape[a] as usize, out.shape[a] as usize)?;
        let width = t.first().map_or(0, Vec::len);
        if width == 0 || t.iter().any(|v| v.len() != width) {
            no_kernel!("a Resize of axis {a} whose output indices have different numbers of taps");
        }
        let n = t.len() * width;
        let idx: Vec<String> = t.iter().flatten().map(|(i, _)| format!("{i}u")).collect();
        let w: Vec<String> = t.iter().flatten().map(|(_, w)| wgsl::lit(*w as f32)).collect();
        let _ = writeln!(tables, "const I{a} = array<u32, {n}>({});", idx.join(", "));
        let _ = writeln!(tables, "const W{a} = array<f32, {n}>({});", w.join(", "));
        resized.push((a, width));
    }
    let _ = writeln!(s, "    var acc = 0.0;");
    for &(a, width) in &resized {
        let _ =
            writeln!(s, "    for (var t{a} = 0u; t{a} < {width}u; t{a}++) {{\n    let q{a} = c{a} * {width}u + t{a};");
    }
    let terms: Vec<String> = (0..rank)
        .map(|a| {
            if resized.iter().any(|r| r.0 == a) {
                format!("I{a}[q{a}] * {}", u(ist[a]))
            } else {
                format!("c{a} * {}", u(ist[a]))
            }
        })
        .collect();
    let weight: Vec<String> = resized.iter().map(|(a, _)| format!("W{a}[q{a}]")).collect();
    let weight = if weight.is_empty() { "1.0".to_string() } else { weight.join(" * ") };
    let _ = writeln!(s, "    acc += {weight} * {}[0u + {}];", b.input(0), terms.join(" + "));
    for _ in &resized {
        s.push_str("    }\n");
    }
    let (dispatch, head) = wgsl::linear(out.numel(), WG);
    let mut src = b.decls();
    src.push_str(&tables);
    src.push('\n');
    src.push_str(&wgsl::entry([WG, 1, 1]));
    src.push_str(&head);
    src.push_str(&s);
    let _ = writeln!(src, "    {}[i] = acc;\n}}", b.out());
    Ok(Generated { source: src, workgroup_size: [WG, 1, 1], dispatch, bindings: b.bindings() })
}
