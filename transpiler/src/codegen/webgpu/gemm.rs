//! Matrix products: the tiled GEMM core (`wgsl/gemm.wgsl`) that MatMul and the implicit-GEMM convolution share,
//! the choice of its tile, and a matrix–vector kernel for MatMuls with few rows against a constant `[N, K]` weight.

use std::fmt::Write;

use wdnn_descriptor_spec::Op;

use super::WebGpuTuning;
use super::wgsl::{self, Binder, Ctx, Generated, no_kernel, u};
use crate::codegen::NoKernel;

const GEMM: &str = include_str!("wgsl/gemm.wgsl");
/// Depth of the K tiles (halved for the wide tiles that would not fit workgroup memory otherwise).
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

/// A tile: invocations along m and n of one split group, the number of groups splitting K, and the register block
/// of each invocation (`rm` × `rn` values of C, each a multiple of 4).
#[derive(Clone, Copy, Debug, PartialEq)]
struct Tile {
    wm: u64,
    wn: u64,
    split: u64,
    rm: u64,
    rn: u64,
    bk: u64,
}

impl Tile {
    fn bm(self) -> u64 {
        self.rm * self.wm
    }

    fn bn(self) -> u64 {
        self.rn * self.wn
    }

    /// vec4 accumulators per invocation.
    fn accumulators(self) -> u64 {
        self.rm * self.rn / 4
    }

    fn shared(self) -> u64 {
        let slice = self.bk * self.split * (self.bm() / 4 + 1 + self.bn() / 4 + 1);
        slice.max((self.split - 1) * self.wm * self.wn * self.accumulators())
    }

    fn threads(self, m: u64, n: u64, z: u64) -> u64 {
        m.div_ceil(self.bm()) * n.div_ceil(self.bn()) * z * self.wm * self.wn * self.split
    }
}

/// The tiles of 4×4 register blocks, largest first, each with its K splits (least first).
fn narrow_tiles(k: u64) -> Vec<Tile> {
    let mut candidates = Vec::new();
    for (wm, wn) in [(16, 16), (16, 8), (8, 16), (8, 8), (8, 4), (4, 8), (4, 4)] {
        for split in [1, 2, 4, 8, 16] {
            let t = Tile { wm, wn, split, rm: 4, rn: 4, bk: BK };
            // Each split group should get at least two K steps.
            if wm * wn * split <= 256 && t.shared() <= SHARED_VEC4 && (split == 1 || 2 * BK * split <= k) {
                candidates.push(t);
            }
        }
    }
    candidates
}

/// The wide tiles (register blocks of more than 16 values, up to `tuning.reg_tile`), largest first; no K split.
fn wide_tiles(tuning: &WebGpuTuning) -> Vec<Tile> {
    let mut candidates = Vec::new();
    for (rm, rn) in [(8, 8), (8, 4), (4, 8)] {
        if rm * rn > tuning.reg_tile {
            continue;
        }
        for (wm, wn) in [(16, 16), (16, 8), (8, 16), (8, 8)] {
            for bk in [BK, BK / 2] {
                let t = Tile { wm, wn, split: 1, rm, rn, bk };
                if t.shared() <= SHARED_VEC4 {
                    candidates.push(t);
                    break;
                }
            }
        }
    }
    candidates.sort_by_key(|t| std::cmp::Reverse((t.bm() * t.bn(), t.rm * t.rn)));
    candidates
}

/// The tile of a GEMM: the largest wide tile that still gives `tuning.wide_threads` invocations and computes at most
/// an eighth more rows or columns than the product has, else the largest 4×4 tile (then the least splitting) that
/// still gives enough invocations (`tuning.tile_threads`), or the one that gives the most.
fn tile(m: u64, n: u64, k: u64, z: u64, tuning: &WebGpuTuning) -> Tile {
    let snug = |t: &Tile| 8 * m.div_ceil(t.bm()) * t.bm() <= 9 * m && 8 * n.div_ceil(t.bn()) * t.bn() <= 9 * n;
    if let Some(&t) = wide_tiles(tuning).iter().find(|t| snug(t) && t.threads(m, n, z) >= tuning.wide_threads) {
        return t;
    }
    narrow_tile(m, n, k, z, tuning)
}

fn narrow_tile(m: u64, n: u64, k: u64, z: u64, tuning: &WebGpuTuning) -> Tile {
    let candidates = narrow_tiles(k);
    if let Some(&t) = candidates.iter().find(|t| t.threads(m, n, z) >= tuning.tile_threads) {
        return t;
    }
    let mut best = candidates[0];
    for t in &candidates[1..] {
        if t.threads(m, n, z) > best.threads(m, n, z) {
            best = *t;
        }
    }
    best
}

/// Invocations the GEMM of an `m`×`n`×`k` product (`z` of them) would get with 4×4 register blocks (the measure
/// the `split-k` pass compares, whatever register block the generator then picks).
pub(super) fn gemm_threads(m: u64, n: u64, k: u64, z: u64, tuning: &WebGpuTuning) -> u64 {
    narrow_tile(m, n, k, z, tuning).threads(m, n, z)
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
    let (bm, bn) = (t.bm(), t.bn());
    let nt = t.wm * t.wn * t.split;
    let bkt = t.bk * t.split;
    let a_slot =
        if parts.a_k_fast { "let kk = s % BKT; let mm = s / BKT;" } else { "let mm = s % BM; let kk = s / BM;" };
    let b_slot =
        if parts.b_n_fast { "let nn = s % BN; let kk = s / BN;" } else { "let kk = s % BKT; let nn = s / BKT;" };
    // The staging slots of A and B each invocation fills per K step: (operand, j, guard, slot, destination, load).
    let mut slots = Vec::new();
    for (op, count, slot, dest, load) in [
        ("a", bm * bkt, a_slot, "sm[kk * AV + mm / 4u][mm % 4u]", "load_a(z, m0 + mm, K0 + kk)"),
        ("b", bkt * bn, b_slot, "sm[BOFF + kk * BV + nn / 4u][nn % 4u]", "load_b(z, K0 + kk, n0 + nn)"),
    ] {
        for j in 0..count.div_ceil(nt) {
            let guard = if (j + 1) * nt > count { format!(" if (s < {count}u)") } else { String::new() };
            slots.push((format!("{op}{j}"), j * nt, guard, slot, dest, load));
        }
    }
    // `f16_tiles`: the tiles are staged as f16, and each K step's products summed in f16 accumulators `h…` that
    // are added to the f32 ones after the step.
    let half = tuning.f16_tiles;
    let narrow = |v: String| if half { format!("f16({v})") } else { v };
    let each = |body: &dyn Fn(&str, &str, &str) -> String| {
        let mut out = String::new();
        for (name, at, guard, slot, dest, load) in &slots {
            let _ = writeln!(
                out,
                "        {{\n            let s = li + {at}u;\n           {guard} {{ {slot} {} }}\n        }}",
                body(name, dest, load)
            );
        }
        out
    };
    // Invocation (tm, tn) holds rows (g * WM + tm) * 4 + i of row group g and columns (h * WN + tn) * 4.. of
    // column group h: groups a whole tile apart, so a warp's reads of one group stay contiguous. Accumulator
    // `c{(g * 4 + i) * gn + h}` holds row i of group g in column group h.
    let (gm, gn) = (t.rm / 4, t.rn / 4);
    let mut main_loop = String::new();
    if gm * gn > 1 {
        let _ = writeln!(
            main_loop,
            "    // {}x{} blocks: rows in groups of 4 a whole WM apart, columns in groups of 4 a whole WN apart.",
            t.rm, t.rn
        );
    }
    let head = "        let ab = ks * BK * AV + tm;\n        let bb = BOFF + ks * BK * BV + tn;\n";
    if tuning.prefetch {
        // The next K step's values are loaded into registers before this step's products, and stored into
        // workgroup memory after them: the global loads' latency hides behind the arithmetic.
        main_loop.push_str("    // Prefetch: the next K step is loaded into registers while this one multiplies.\n");
        for (name, ..) in &slots {
            let _ = writeln!(main_loop, "    var p{name} = 0.0;");
        }
        main_loop.push_str("    {\n");
        main_loop.push_str(&each(&|name, _, load| format!("p{name} = {};", load.replace("K0", "0u"))));
        main_loop.push_str(&each(&|name, dest, _| format!("{dest} = {};", narrow(format!("p{name}")))));
        main_loop.push_str("    }\n    workgroupBarrier();\n    for (var k0 = 0u; k0 < KT; k0 += BKT) {\n");
        main_loop.push_str("        let kn = k0 + BKT;\n        if (kn < KT) {\n");
        main_loop.push_str(&each(&|name, _, load| format!("p{name} = {};", load.replace("K0", "kn"))));
        main_loop.push_str("        }\n");
        main_loop.push_str(head);
        main_loop.push_str(&inner_products(&t, half));
        main_loop.push_str("        workgroupBarrier();\n        if (kn < KT) {\n");
        main_loop.push_str(&each(&|name, dest, _| format!("{dest} = {};", narrow(format!("p{name}")))));
        main_loop.push_str("        }\n        workgroupBarrier();\n    }\n");
    } else {
        main_loop.push_str("    for (var k0 = 0u; k0 < KT; k0 += BKT) {\n");
        main_loop.push_str(&each(&|_, dest, load| format!("{dest} = {};", narrow(load.replace("K0", "k0")))));
        main_loop.push_str("        workgroupBarrier();\n");
        main_loop.push_str(head);
        main_loop.push_str(&inner_products(&t, half));
        main_loop.push_str("        workgroupBarrier();\n    }\n");
    }
    let na = gm * 4 * gn;
    let (mut decl, mut park, mut gather, mut store) = (String::new(), String::new(), String::new(), String::new());
    let plus = |v: u64| if v == 0 { String::new() } else { format!(" + {v}u") };
    for g in 0..gm {
        for i in 0..4 {
            for h in 0..gn {
                let j = (g * 4 + i) * gn + h;
                let _ = writeln!(decl, "    var c{j} = vec4<f32>();");
                if half {
                    let _ = writeln!(decl, "    var h{j} = vec4<f16>();");
                    let _ = writeln!(park, "            sm[o{}] = vec4<f16>(c{j});", plus(j));
                    let _ = writeln!(gather, "                c{j} += vec4<f32>(sm[o{}]);", plus(j));
                } else {
                    let _ = writeln!(park, "            sm[o{}] = c{j};", plus(j));
                    let _ = writeln!(gather, "                c{j} += sm[o{}];", plus(j));
                }
                let _ =
                    writeln!(store, "        store_c(z, m{}, n{}, c{j});", plus(g * t.wm * 4 + i), plus(h * t.wn * 4));
            }
        }
    }
    store.insert_str(0, "        let m = m0 + tm * 4u;\n        let n = n0 + tn * 4u;\n");
    let block = match (t.rm, t.rn) {
        (8, 8) => "an 8 x 8",
        (8, 4) => "an 8 x 4",
        (4, 8) => "a 4 x 8",
        _ => "a 4 x 4",
    };
    let core = GEMM
        .replace("$BM", &bm.to_string())
        .replace("$BN", &bn.to_string())
        .replace("$BK", &t.bk.to_string())
        .replace("$SPLIT", &t.split.to_string())
        .replace("$WN", &t.wn.to_string())
        .replace("$TT", &(t.wm * t.wn).to_string())
        .replace("$NT", &nt.to_string())
        .replace("$NA", &na.to_string())
        .replace("$K", &parts.k.to_string())
        .replace("$SMV", &t.shared().to_string())
        .replace("$SME", if half { "f16" } else { "f32" })
        .replace("$BLOCK", block)
        .replace("$DECL", &decl)
        .replace("$MAIN", &main_loop)
        .replace("$PARK", &park)
        .replace("$GATHER", &gather)
        .replace("$STORE", &store);
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

/// The multiply-adds of one K step: for each of the BK rows of the staged slice, the invocation's A and B vec4s
/// from workgroup memory and their outer product into the accumulators (with `half`, into the f16 accumulators,
/// then added to the f32 ones).
fn inner_products(t: &Tile, half: bool) -> String {
    let acc = if half { "h" } else { "c" };
    let (gm, gn) = (t.rm / 4, t.rn / 4);
    let name = |v: &str, g: u64, groups: u64| if groups == 1 { v.to_string() } else { format!("{v}{g}") };
    let mut inner = String::new();
    for kk in 0..t.bk {
        inner.push_str("        {\n");
        for g in 0..gm {
            let _ = writeln!(
                inner,
                "            let {} = sm[ab + {}u];",
                name("a", g, gm),
                kk * (t.bm() / 4 + 1) + g * t.wm
            );
        }
        for h in 0..gn {
            let _ = writeln!(
                inner,
                "            let {} = sm[bb + {}u];",
                name("b", h, gn),
                kk * (t.bn() / 4 + 1) + h * t.wn
            );
        }
        for g in 0..gm {
            for (i, lane) in ["x", "y", "z", "w"].into_iter().enumerate() {
                for h in 0..gn {
                    let j = (g * 4 + i as u64) * gn + h;
                    let _ =
                        writeln!(inner, "            {acc}{j} += {}.{lane} * {};", name("a", g, gm), name("b", h, gn));
                }
            }
        }
        inner.push_str("        }\n");
    }
    if half {
        for j in 0..t.accumulators() {
            let _ = writeln!(inner, "        c{j} += vec4<f32>(h{j});\n        h{j} = vec4<f16>();");
        }
    }
    inner
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_tuning_keeps_4x4_blocks() {
        let t = tile(512, 784, 4608, 1, &WebGpuTuning::default());
        assert_eq!((t.rm, t.rn), (4, 4));
        assert_eq!(
            tile(64, 50176, 576, 1, &WebGpuTuning::default()),
            Tile { wm: 16, wn: 16, split: 1, rm: 4, rn: 4, bk: 16 }
        );
    }

    #[test]
    fn wide_tiles_fit_workgroup_memory_and_the_product() {
        let wide: WebGpuTuning = "reg_tile=64,wide_threads=1".parse().unwrap();
        assert!(wide_tiles(&wide).iter().all(|t| t.shared() <= SHARED_VEC4 && t.wm * t.wn <= 256));
        // 64 output channels: no 128-row tile that would compute as many rows again for nothing.
        let t = tile(64, 50176, 576, 1, &wide);
        assert_eq!((t.bm(), t.rm * t.rn), (64, 64), "{t:?}");
        let t = tile(256, 3136, 2304, 1, &wide);
        assert_eq!((t.bm(), t.bn()), (128, 128), "{t:?}");
        // Too few invocations for any wide tile: the 4×4 choice.
        let few: WebGpuTuning = "reg_tile=64,wide_threads=1000000".parse().unwrap();
        assert_eq!(tile(256, 3136, 2304, 1, &few), tile(256, 3136, 2304, 1, &WebGpuTuning::default()));
        // split-k measures with 4×4 blocks whatever the register tile.
        assert_eq!(gemm_threads(256, 3136, 2304, 1, &wide), gemm_threads(256, 3136, 2304, 1, &WebGpuTuning::default()));
    }
}
