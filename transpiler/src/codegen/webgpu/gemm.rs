//! Matrix products: the tiled GEMM core (`wgsl/gemm.wgsl`) that MatMul and the implicit-GEMM convolution share,
//! the choice of its tile, and a matrix–vector kernel for MatMuls with few rows against a constant `[N, K]` weight.

use std::fmt::Write;

use wdnn_descriptor_spec::Op;

use super::WebGpuTuning;
use super::wgsl::{self, Binder, Ctx, Generated, no_kernel, u};
use crate::codegen::NoKernel;

const GEMM: &str = include_str!("wgsl/gemm.wgsl");
/// Depth of the K tiles.
const BK: u64 = 16;

/// The operands of a GEMM: which of A's and B's dimensions is contiguous, and the generated `load_a`, `load_b`
/// and `store_c` functions.
pub(super) struct GemmParts {
    pub m: u64,
    pub n: u64,
    pub k: u64,
    pub z: u64,
    /// A is `[M, K]` row-major (k fastest) rather than `[K, M]`.
    pub a_k_fast: bool,
    /// B is `[K, N]` row-major (n fastest) rather than `[N, K]`.
    pub b_n_fast: bool,
    /// `fn load_a(z: u32, m: u32, k: u32) -> f32`, `fn load_b(z: u32, k: u32, n: u32) -> f32` and
    /// `fn store_c(z: u32, m: u32, n: u32, v: vec4<f32>)`.
    pub functions: String,
}

/// Invocations wanted per GEMM before larger tiles are preferred: about four per FP32 lane of a large GPU's
/// multiprocessors, so that their memory latency is hidden (the default of [`WebGpuTuning::tile_threads`]).
pub(super) const ENOUGH_THREADS: u64 = 132 * 512;
/// Workgroup memory the tile may use (WebGPU's default `maxComputeWorkgroupStorageSize`), in vec4s.
const SHARED_VEC4: u64 = 16384 / 16;

/// A tile: invocations along m and n of one split group, and the number of groups splitting K.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Tile {
    wm: u64,
    wn: u64,
    split: u64,
}

impl Tile {
    fn shared(self) -> u64 {
        let slice = BK * self.split * (self.wm + 1 + self.wn + 1);
        slice.max((self.split - 1) * self.wm * self.wn * 4)
    }
}

/// The tile of a GEMM: the largest tile (then the least splitting) that still gives enough invocations
/// (`tuning.tile_threads`), or the one that gives the most.
fn tile(m: u64, n: u64, k: u64, z: u64, tuning: &WebGpuTuning) -> Tile {
    let mut candidates = Vec::new();
    for (wm, wn) in [(16, 16), (16, 8), (8, 16), (8, 8), (8, 4), (4, 8), (4, 4)] {
        for split in [1, 2, 4, 8, 16] {
            let t = Tile { wm, wn, split };
            // Each split group should get at least two K steps.
            if wm * wn * split <= 256 && t.shared() <= SHARED_VEC4 && (split == 1 || 2 * BK * split <= k) {
                candidates.push(t);
            }
        }
    }
    let threads = |t: &Tile| m.div_ceil(4 * t.wm) * n.div_ceil(4 * t.wn) * z * t.wm * t.wn * t.split;
    if let Some(&t) = candidates.iter().find(|t| threads(t) >= tuning.tile_threads) {
        return t;
    }
    let mut best = candidates[0];
    for t in &candidates[1..] {
        if threads(t) > threads(&best) {
            best = *t;
        }
    }
    best
}

/// Invocations the GEMM of an `m`×`n`×`k` product (`z` of them) would get.
pub(super) fn gemm_threads(m: u64, n: u64, k: u64, z: u64, tuning: &WebGpuTuning) -> u64 {
    let t = tile(m, n, k, z, tuning);
    m.div_ceil(4 * t.wm) * n.div_ceil(4 * t.wn) * z * t.wm * t.wn * t.split
}

/// The whole GEMM shader for `parts`, with the binding declarations `decls`.
pub(super) fn gemm(
    decls: &str,
    parts: &GemmParts,
    bindings: Vec<(u32, bool)>,
    tuning: &WebGpuTuning,
) -> Result<Generated, NoKernel> {
    wgsl::fits_u32(&[parts.m, parts.n, parts.k, parts.z])?;
    if parts.z > 65535 {
        no_kernel!("{} GEMMs in one dispatch (at most 65535)", parts.z);
    }
    let t = tile(parts.m, parts.n, parts.k, parts.z, tuning);
    let (bm, bn) = (4 * t.wm, 4 * t.wn);
    let nt = t.wm * t.wn * t.split;
    let bkt = BK * t.split;
    let a_slot =
        if parts.a_k_fast { "let kk = s % BKT; let mm = s / BKT;" } else { "let mm = s % BM; let kk = s / BM;" };
    let b_slot =
        if parts.b_n_fast { "let nn = s % BN; let kk = s / BN;" } else { "let kk = s % BKT; let nn = s / BKT;" };
    let mut loads = String::new();
    for (count, slot, store) in [
        (bm * bkt, a_slot, "sm[kk * AV + mm / 4u][mm % 4u] = load_a(z, m0 + mm, k0 + kk);"),
        (bkt * bn, b_slot, "sm[BOFF + kk * BV + nn / 4u][nn % 4u] = load_b(z, k0 + kk, n0 + nn);"),
    ] {
        for j in 0..count.div_ceil(nt) {
            let guard = if (j + 1) * nt > count { format!(" if (s < {count}u)") } else { String::new() };
            let _ = writeln!(
                loads,
                "        {{\n            let s = li + {}u;\n           {guard} {{ {slot} {store} }}\n        }}",
                j * nt
            );
        }
    }
    let mut inner = String::new();
    for kk in 0..BK {
        let _ = writeln!(
            inner,
            "        {{\n            let a = sm[ab + {}u];\n            let b = sm[bb + {}u];\n            c0 += a.x * b;\n            c1 += a.y * b;\n            c2 += a.z * b;\n            c3 += a.w * b;\n        }}",
            kk * (t.wm + 1),
            kk * (t.wn + 1)
        );
    }
    let core = GEMM
        .replace("$BM", &bm.to_string())
        .replace("$BN", &bn.to_string())
        .replace("$SPLIT", &t.split.to_string())
        .replace("$WN", &t.wn.to_string())
        .replace("$TT", &(t.wm * t.wn).to_string())
        .replace("$NT", &nt.to_string())
        .replace("$K", &parts.k.to_string())
        .replace("$SMV", &t.shared().to_string())
        .replace("$LOADS", &loads)
        .replace("$INNER", &inner);
    let gy = parts.m.div_ceil(bm);
    let gx = parts.n.div_ceil(bn);
    if gx > 65535 || gy > 65535 {
        no_kernel!("a dispatch of {gx}×{gy} workgroups (at most 65535 along each axis)");
    }
    let source = wgsl::with_helpers(&format!("{decls}\n{}\n{core}", parts.functions));
    Ok(Generated {
        source,
        workgroup_size: [nt as u32, 1, 1],
        dispatch: [gx as u32, gy as u32, parts.z as u32],
        bindings,
    })
}

/// The body of a `store_c` that writes the four columns `n..n+4` of row `m`: `index(j)` is the flat output index
/// expression of column `n + j` (with `m`, `z` in scope), `add` an optional per-element term (the bias), then the
/// epilogue statements from `epilogue(idx_var)`.
pub(super) fn store_body(
    m_bound: u64,
    n_bound: u64,
    prefix: &str,
    index: &dyn Fn(&str) -> String,
    bias: Option<&str>,
    epilogue: &str,
    out: &str,
) -> String {
    let mut s = format!(
        "fn store_c(z: u32, m: u32, n: u32, v: vec4<f32>) {{\n    if (m >= {}) {{\n        return;\n    }}\n{prefix}",
        u(m_bound)
    );
    for (j, c) in ["x", "y", "z", "w"].iter().enumerate() {
        let _ = write!(
            s,
            "    if (n + {j}u < {}) {{\n        let idx = {};\n        var acc = v.{c}{};\n{epilogue}        {out}[idx] = acc;\n    }}\n",
            u(n_bound),
            index(&format!("(n + {j}u)")),
            bias.map(|b| format!(" + {b}")).unwrap_or_default(),
        );
    }
    s.push_str("}\n");
    s
}

/// The bias input of a Conv/MatMul (the format's slot, `Op::bias_input`).
pub(super) fn bias_slot(ctx: &Ctx) -> Option<usize> {
    ctx.kernel.op.bias_input(ctx.kernel.inputs.len())
}

pub(super) fn matmul(ctx: &Ctx) -> Result<Generated, NoKernel> {
    let Op::MatMul { transpose_a, transpose_b, epilogue } = &ctx.kernel.op else {
        no_kernel!("{} is not a MatMul", ctx.kernel.op.name());
    };
    ctx.require_f32()?;
    let (a, bt, out) = (ctx.input(0)?, ctx.input(1)?, ctx.output()?);
    let (ra, rb) = (a.shape.len(), bt.shape.len());
    if ra == 0 || rb == 0 {
        no_kernel!("a MatMul of a scalar");
    }
    let (m, ka) = if ra == 1 {
        (1, a.shape[0])
    } else if *transpose_a {
        (a.shape[ra - 1], a.shape[ra - 2])
    } else {
        (a.shape[ra - 2], a.shape[ra - 1])
    };
    let (kb, n) = if rb == 1 {
        (bt.shape[0], 1)
    } else if *transpose_b {
        (bt.shape[rb - 1], bt.shape[rb - 2])
    } else {
        (bt.shape[rb - 2], bt.shape[rb - 1])
    };
    if ka != kb {
        no_kernel!("a MatMul of {:?} by {:?}: the inner dimensions differ", a.shape, bt.shape);
    }
    let k = ka;
    let bias = bias_slot(ctx);
    let skip = wgsl::inlined_operands(ctx, epilogue);

    // Matrix–vector: a constant [N, K] weight and a few rows.
    let rows = a.numel() / k.max(1);
    let b_const = ctx.node.inputs.get(1).is_some_and(|&b| ctx.graph.constant(b).is_some());
    if rb == 2 && *transpose_b && !*transpose_a && b_const && rows <= super::passes::GEMV_ROWS && k > 0 {
        return gemv(ctx, rows, n, k, bias, &skip);
    }

    let batch_out: Vec<u64> =
        out.shape[..out.shape.len().saturating_sub(if ra >= 2 && rb >= 2 { 2 } else { 1 })].to_vec();
    let z = wgsl::numel(&batch_out);
    let b = Binder::new(ctx, &skip, "f32")?;
    let a_off = if ra > 2 {
        format!("({}) * {}", wgsl::bcast_index(&batch_out, &a.shape[..ra - 2], "z")?, u(m * k))
    } else {
        "0u".into()
    };
    let b_off = if rb > 2 {
        format!("({}) * {}", wgsl::bcast_index(&batch_out, &bt.shape[..rb - 2], "z")?, u(k * n))
    } else {
        "0u".into()
    };
    let a_idx = if *transpose_a { format!("k * {} + m", u(m)) } else { format!("m * {} + k", u(k)) };
    let b_idx = if *transpose_b { format!("n * {} + k", u(k)) } else { format!("k * {} + n", u(n)) };
    let mut f = String::new();
    let _ = writeln!(
        f,
        "fn load_a(z: u32, m: u32, k: u32) -> f32 {{\n    if (m >= {} || k >= {}) {{\n        return 0.0;\n    }}\n    return {}[{a_off} + {a_idx}];\n}}",
        u(m),
        u(k),
        b.input(0)
    );
    let _ = writeln!(
        f,
        "fn load_b(z: u32, k: u32, n: u32) -> f32 {{\n    if (n >= {} || k >= {}) {{\n        return 0.0;\n    }}\n    return {}[{b_off} + {b_idx}];\n}}",
        u(n),
        u(k),
        b.input(1)
    );
    let epi = wgsl::steps_code(ctx, epilogue, &out.shape, "idx", &|i| b.input(i))?;
    let bias_expr = match bias {
        Some(slot) => {
            Some(format!("{}[{}]", b.input(slot), wgsl::bcast_index(&out.shape, &ctx.input(slot)?.shape, "idx")?))
        }
        None => None,
    };
    let index = |nj: &str| format!("z * {} + m * {} + {nj}", u(m * n), u(n));
    f.push_str(&store_body(m, n, "", &index, bias_expr.as_deref(), &epi, &b.out()));
    let parts = GemmParts { m, n, k, z, a_k_fast: !*transpose_a, b_n_fast: !*transpose_b, functions: f };
    gemm(&b.decls(), &parts, b.bindings(), ctx.tuning)
}

/// One workgroup per output column: its 256 invocations stride over K (vec4 loads where K allows), then reduce in
/// workgroup memory; `rows` ≤ 4 rows at once.
fn gemv(ctx: &Ctx, rows: u64, n: u64, k: u64, bias: Option<usize>, skip: &[usize]) -> Result<Generated, NoKernel> {
    const WG: u64 = 256;
    let Op::MatMul { epilogue, .. } = &ctx.kernel.op else {
        no_kernel!("{} is not a MatMul", ctx.kernel.op.name());
    };
    let out = ctx.output()?;
    let mut b = Binder::new(ctx, skip, "f32")?;
    let vec = k.is_multiple_of(4);
    let kv = if vec { k / 4 } else { k };
    if vec {
        b.set_type(0, "vec4<f32>");
        b.set_type(1, "vec4<f32>");
    }
    let (dispatch, head) = wgsl::groups_2d(n, "n");
    let mut s = b.decls();
    let _ = writeln!(s, "\nvar<workgroup> red: array<f32, {}>;\n", WG * rows);
    s.push_str(&wgsl::entry([WG as u32, 1, 1]));
    s.push_str(&head);
    let _ = writeln!(s, "    if (n >= {}) {{\n        return;\n    }}", u(n));
    for r in 0..rows {
        let _ = writeln!(s, "    var s{r} = 0.0;");
    }
    let _ = writeln!(
        s,
        "    for (var k = li; k < {}; k += {WG}u) {{\n        let w = {}[n * {} + k];",
        u(kv),
        b.input(1),
        u(kv)
    );
    for r in 0..rows {
        let prod = if vec {
            format!("dot({}[{} + k], w)", b.input(0), u(r * kv))
        } else {
            format!("{}[{} + k] * w", b.input(0), u(r * kv))
        };
        let _ = writeln!(s, "        s{r} += {prod};");
    }
    s.push_str("    }\n");
    for r in 0..rows {
        let _ = writeln!(s, "    red[{}u + li] = s{r};", r * WG);
    }
    s.push_str("    workgroupBarrier();\n");
    let _ = writeln!(s, "    for (var st = {}u; st > 0u; st = st >> 1u) {{\n        if (li < st) {{", WG / 2);
    for r in 0..rows {
        let _ = writeln!(s, "            red[{o}u + li] += red[{o}u + li + st];", o = r * WG);
    }
    s.push_str("        }\n        workgroupBarrier();\n    }\n    if (li == 0u) {\n");
    let epi = wgsl::steps_code(ctx, epilogue, &out.shape, "idx", &|i| b.input(i))?;
    for r in 0..rows {
        let _ = writeln!(s, "    {{\n        let idx = {}u * {} + n;\n        var acc = red[{}u];", r, u(n), r * WG);
        if let Some(slot) = bias {
            let _ = writeln!(
                s,
                "        acc += {}[{}];",
                b.input(slot),
                wgsl::bcast_index(&out.shape, &ctx.input(slot)?.shape, "idx")?
            );
        }
        s.push_str(&epi);
        let _ = writeln!(s, "        {}[idx] = acc;\n    }}", b.out());
    }
    s.push_str("    }\n}\n");
    Ok(Generated {
        source: wgsl::with_helpers(&s),
        workgroup_size: [WG as u32, 1, 1],
        dispatch,
        bindings: b.bindings(),
    })
}
