// kernel `y/winograd_pad` (Pad): shader 0 `main`, workgroup_size [256, 1, 1], dispatch [676, 1, 1]
//   @binding(0) `x` read_write
//   @binding(1) `y/winograd_padded` read_write
// kernel `y/winograd_input` (Conv): shader 1 `main`, workgroup_size [16, 16, 1], dispatch [1, 208, 16]
//   @binding(0) `y/winograd_stacked` read_write
//   @binding(1) `y/winograd_bt` read
//   @binding(2) `y/winograd_tiles` read_write
// kernel `y/winograd_gemm` (MatMul): shader 2 `main`, workgroup_size [256, 1, 1], dispatch [5, 4, 16]
//   @binding(0) `w/winograd_u` read
//   @binding(1) `y/winograd_v` read_write
//   @binding(2) `b/winograd_bias` read
//   @binding(3) `y/winograd_m` read_write
// kernel `y/winograd_output` (ConvTranspose): shader 3 `main`, workgroup_size [64, 1, 1], dispatch [2496, 1, 1]
//   @binding(0) `y/winograd_m_image` read_write
//   @binding(1) `y/winograd_at` read
//   @binding(2) `y/winograd_full` read_write
// kernel `y/winograd_crop` (Slice): shader 4 `main`, workgroup_size [256, 1, 1], dispatch [576, 1, 1]
//   @binding(0) `y/winograd_planes` read_write
//   @binding(1) `y` read_write

// ---- shader 0 ----
@group(0) @binding(0) var<storage, read_write> b0: array<u32>;
@group(0) @binding(1) var<storage, read_write> b1: array<u32>;

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let i = (wid.y * 676u + wid.x) * 256u + li;
    if (i >= 173056u) {
        return;
    }
    let c0 = (i / 173056u);
    let c1 = (i / 676u) % 256u;
    let c2 = (i / 26u) % 26u;
    let c3 = i % 26u;
    var p0 = i32(c0) - 0i;
    var p1 = i32(c1) - 0i;
    var p2 = i32(c2) - 1i;
    var p3 = i32(c3) - 1i;
    if (!(p0 >= 0i && p0 < 1i && p1 >= 0i && p1 < 256i && p2 >= 0i && p2 < 24i && p3 >= 0i && p3 < 24i)) {
        b1[i] = 0u;
        return;
    }
    let src = 0u + u32(p0) * 147456u + u32(p1) * 576u + u32(p2) * 24u + u32(p3) * 1u;
    b1[i] = b0[src];
}


// ---- shader 1 ----
@group(0) @binding(0) var<storage, read_write> b0: array<f32>;
@group(0) @binding(1) var<storage, read> b1: array<f32>;
@group(0) @binding(2) var<storage, read_write> b2: array<f32>;

var<workgroup> tile_in: array<f32, 1156>;

@compute @workgroup_size(16, 16, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let img = wid.z / 16u;
    let oc = wid.z % 16u;
    let ic = oc / 16u;
    let ox0 = wid.x * 16u;
    let oy0 = wid.y * 16u;
    let ix0 = i32(ox0 * 2u) - 0i;
    let iy0 = i32(oy0 * 2u) - 0i;
    let base = (img * 1u + ic) * 173056u;
    for (var s = li; s < 1156u; s += 256u) {
        let iy = iy0 + i32(s / 34u);
        let ix = ix0 + i32(s % 34u);
        var v = 0.0;
        if (iy >= 0i && iy < 6656i && ix >= 0i && ix < 26i) {
            v = b0[base + u32(iy) * 26u + u32(ix)];
        }
        tile_in[s] = v;
    }
    workgroupBarrier();
    let ox = ox0 + lid.x;
    let oy = oy0 + lid.y;
    if (ox >= 12u || oy >= 3328u) {
        return;
    }
    let py = lid.y * 2u;
    let px = lid.x * 2u;
    let wb = oc * 16u;
    var acc = 0.0;
    acc += tile_in[(py + 0u) * 34u + px + 0u] * b1[wb + 0u];
    acc += tile_in[(py + 0u) * 34u + px + 1u] * b1[wb + 1u];
    acc += tile_in[(py + 0u) * 34u + px + 2u] * b1[wb + 2u];
    acc += tile_in[(py + 0u) * 34u + px + 3u] * b1[wb + 3u];
    acc += tile_in[(py + 1u) * 34u + px + 0u] * b1[wb + 4u];
    acc += tile_in[(py + 1u) * 34u + px + 1u] * b1[wb + 5u];
    acc += tile_in[(py + 1u) * 34u + px + 2u] * b1[wb + 6u];
    acc += tile_in[(py + 1u) * 34u + px + 3u] * b1[wb + 7u];
    acc += tile_in[(py + 2u) * 34u + px + 0u] * b1[wb + 8u];
    acc += tile_in[(py + 2u) * 34u + px + 1u] * b1[wb + 9u];
    acc += tile_in[(py + 2u) * 34u + px + 2u] * b1[wb + 10u];
    acc += tile_in[(py + 2u) * 34u + px + 3u] * b1[wb + 11u];
    acc += tile_in[(py + 3u) * 34u + px + 0u] * b1[wb + 12u];
    acc += tile_in[(py + 3u) * 34u + px + 1u] * b1[wb + 13u];
    acc += tile_in[(py + 3u) * 34u + px + 2u] * b1[wb + 14u];
    acc += tile_in[(py + 3u) * 34u + px + 3u] * b1[wb + 15u];
    let idx = (img * 16u + oc) * 39936u + oy * 12u + ox;
    {
        b2[idx] = acc;
    }
}


// ---- shader 2 ----
@group(0) @binding(0) var<storage, read> b0: array<f32>;
@group(0) @binding(1) var<storage, read_write> b1: array<f32>;
@group(0) @binding(2) var<storage, read> b2: array<f32>;
@group(0) @binding(3) var<storage, read_write> b3: array<f32>;

fn load_a(z: u32, m: u32, k: u32) -> f32 {
    if (m >= 256u || k >= 256u) {
        return 0.0;
    }
    return b0[(z) * 65536u + m * 256u + k];
}
fn load_b(z: u32, k: u32, n: u32) -> f32 {
    if (n >= 156u || k >= 256u) {
        return 0.0;
    }
    return b1[(z) * 39936u + k * 156u + n];
}
fn store_c(z: u32, m: u32, n: u32, v: vec4<f32>) {
    if (m >= 256u) {
        return;
    }
    if (n + 0u < 156u) {
        let idx = z * 39936u + m * 156u + (n + 0u);
        var acc = v.x + b2[(idx / 156u)];
        b3[idx] = acc;
    }
    if (n + 1u < 156u) {
        let idx = z * 39936u + m * 156u + (n + 1u);
        var acc = v.y + b2[(idx / 156u)];
        b3[idx] = acc;
    }
    if (n + 2u < 156u) {
        let idx = z * 39936u + m * 156u + (n + 2u);
        var acc = v.z + b2[(idx / 156u)];
        b3[idx] = acc;
    }
    if (n + 3u < 156u) {
        let idx = z * 39936u + m * 156u + (n + 3u);
        var acc = v.w + b2[(idx / 156u)];
        b3[idx] = acc;
    }
}

// Tiled GEMM: C[z][m][n] = sum over k of A(z, m, k) * B(z, k, n), then the epilogue in store_c.
// A workgroup computes a BM x BN tile of C with SPLIT groups of WM x WN invocations; each invocation holds a 4 x 4
// block of C in registers. Every step stages a BKT = BK * SPLIT deep slice of A and B in workgroup memory (rows
// padded by one vec4 against bank conflicts); group g accumulates the g-th BK rows of it, and at the end the groups'
// partial sums are added in workgroup memory (split-K inside the workgroup: more invocations per tile for the small
// matrices of batch-1 inference). The loops over the staging slots and over BK are unrolled by the generator.
// load_a, load_b and store_c are generated per kernel (operand layouts, bounds, bias
// and epilogue), as are the constants.
const BM: u32 = 64u;
const BN: u32 = 32u;
const BK: u32 = 16u;
const SPLIT: u32 = 2u;
const BKT: u32 = BK * SPLIT;
const WN: u32 = 8u;
const TT: u32 = 128u;
const NT: u32 = 256u;
const KT: u32 = 256u;
const AV: u32 = BM / 4u + 1u;
const BV: u32 = BN / 4u + 1u;
const BOFF: u32 = BKT * AV;

var<workgroup> sm: array<vec4<f32>, 832>;

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let m0 = wid.y * BM;
    let n0 = wid.x * BN;
    let z = wid.z;
    let ks = li / TT;
    let t = li % TT;
    let tm = t / WN;
    let tn = t % WN;
    var c0 = vec4<f32>();
    var c1 = vec4<f32>();
    var c2 = vec4<f32>();
    var c3 = vec4<f32>();
    // Prefetch: the next K step is loaded into registers while this one multiplies.
    var pa0 = 0.0;
    var pa1 = 0.0;
    var pa2 = 0.0;
    var pa3 = 0.0;
    var pa4 = 0.0;
    var pa5 = 0.0;
    var pa6 = 0.0;
    var pa7 = 0.0;
    var pb0 = 0.0;
    var pb1 = 0.0;
    var pb2 = 0.0;
    var pb3 = 0.0;
    {
        {
            let s = li + 0u;
            { let kk = s % BKT; let mm = s / BKT; pa0 = load_a(z, m0 + mm, 0u + kk); }
        }
        {
            let s = li + 256u;
            { let kk = s % BKT; let mm = s / BKT; pa1 = load_a(z, m0 + mm, 0u + kk); }
        }
        {
            let s = li + 512u;
            { let kk = s % BKT; let mm = s / BKT; pa2 = load_a(z, m0 + mm, 0u + kk); }
        }
        {
            let s = li + 768u;
            { let kk = s % BKT; let mm = s / BKT; pa3 = load_a(z, m0 + mm, 0u + kk); }
        }
        {
            let s = li + 1024u;
            { let kk = s % BKT; let mm = s / BKT; pa4 = load_a(z, m0 + mm, 0u + kk); }
        }
        {
            let s = li + 1280u;
            { let kk = s % BKT; let mm = s / BKT; pa5 = load_a(z, m0 + mm, 0u + kk); }
        }
        {
            let s = li + 1536u;
            { let kk = s % BKT; let mm = s / BKT; pa6 = load_a(z, m0 + mm, 0u + kk); }
        }
        {
            let s = li + 1792u;
            { let kk = s % BKT; let mm = s / BKT; pa7 = load_a(z, m0 + mm, 0u + kk); }
        }
        {
            let s = li + 0u;
            { let nn = s % BN; let kk = s / BN; pb0 = load_b(z, 0u + kk, n0 + nn); }
        }
        {
            let s = li + 256u;
            { let nn = s % BN; let kk = s / BN; pb1 = load_b(z, 0u + kk, n0 + nn); }
        }
        {
            let s = li + 512u;
            { let nn = s % BN; let kk = s / BN; pb2 = load_b(z, 0u + kk, n0 + nn); }
        }
        {
            let s = li + 768u;
            { let nn = s % BN; let kk = s / BN; pb3 = load_b(z, 0u + kk, n0 + nn); }
        }
        {
            let s = li + 0u;
            { let kk = s % BKT; let mm = s / BKT; sm[kk * AV + mm / 4u][mm % 4u] = pa0; }
        }
        {
            let s = li + 256u;
            { let kk = s % BKT; let mm = s / BKT; sm[kk * AV + mm / 4u][mm % 4u] = pa1; }
        }
        {
            let s = li + 512u;
            { let kk = s % BKT; let mm = s / BKT; sm[kk * AV + mm / 4u][mm % 4u] = pa2; }
        }
        {
            let s = li + 768u;
            { let kk = s % BKT; let mm = s / BKT; sm[kk * AV + mm / 4u][mm % 4u] = pa3; }
        }
        {
            let s = li + 1024u;
            { let kk = s % BKT; let mm = s / BKT; sm[kk * AV + mm / 4u][mm % 4u] = pa4; }
        }
        {
            let s = li + 1280u;
            { let kk = s % BKT; let mm = s / BKT; sm[kk * AV + mm / 4u][mm % 4u] = pa5; }
        }
        {
            let s = li + 1536u;
            { let kk = s % BKT; let mm = s / BKT; sm[kk * AV + mm / 4u][mm % 4u] = pa6; }
        }
        {
            let s = li + 1792u;
            { let kk = s % BKT; let mm = s / BKT; sm[kk * AV + mm / 4u][mm % 4u] = pa7; }
        }
        {
            let s = li + 0u;
            { let nn = s % BN; let kk = s / BN; sm[BOFF + kk * BV + nn / 4u][nn % 4u] = pb0; }
        }
        {
            let s = li + 256u;
            { let nn = s % BN; let kk = s / BN; sm[BOFF + kk * BV + nn / 4u][nn % 4u] = pb1; }
        }
        {
            let s = li + 512u;
            { let nn = s % BN; let kk = s / BN; sm[BOFF + kk * BV + nn / 4u][nn % 4u] = pb2; }
        }
        {
            let s = li + 768u;
            { let nn = s % BN; let kk = s / BN; sm[BOFF + kk * BV + nn / 4u][nn % 4u] = pb3; }
        }
    }
    workgroupBarrier();
    for (var k0 = 0u; k0 < KT; k0 += BKT) {
        let kn = k0 + BKT;
        if (kn < KT) {
        {
            let s = li + 0u;
            { let kk = s % BKT; let mm = s / BKT; pa0 = load_a(z, m0 + mm, kn + kk); }
        }
        {
            let s = li + 256u;
            { let kk = s % BKT; let mm = s / BKT; pa1 = load_a(z, m0 + mm, kn + kk); }
        }
        {
            let s = li + 512u;
            { let kk = s % BKT; let mm = s / BKT; pa2 = load_a(z, m0 + mm, kn + kk); }
        }
        {
            let s = li + 768u;
            { let kk = s % BKT; let mm = s / BKT; pa3 = load_a(z, m0 + mm, kn + kk); }
        }
        {
            let s = li + 1024u;
            { let kk = s % BKT; let mm = s / BKT; pa4 = load_a(z, m0 + mm, kn + kk); }
        }
        {
            let s = li + 1280u;
            { let kk = s % BKT; let mm = s / BKT; pa5 = load_a(z, m0 + mm, kn + kk); }
        }
        {
            let s = li + 1536u;
            { let kk = s % BKT; let mm = s / BKT; pa6 = load_a(z, m0 + mm, kn + kk); }
        }
        {
            let s = li + 1792u;
            { let kk = s % BKT; let mm = s / BKT; pa7 = load_a(z, m0 + mm, kn + kk); }
        }
        {
            let s = li + 0u;
            { let nn = s % BN; let kk = s / BN; pb0 = load_b(z, kn + kk, n0 + nn); }
        }
        {
            let s = li + 256u;
            { let nn = s % BN; let kk = s / BN; pb1 = load_b(z, kn + kk, n0 + nn); }
        }
        {
            let s = li + 512u;
            { let nn = s % BN; let kk = s / BN; pb2 = load_b(z, kn + kk, n0 + nn); }
        }
        {
            let s = li + 768u;
            { let nn = s % BN; let kk = s / BN; pb3 = load_b(z, kn + kk, n0 + nn); }
        }
        }
        let ab = ks * BK * AV + tm;
        let bb = BOFF + ks * BK * BV + tn;
        {
            let a = sm[ab + 0u];
            let b = sm[bb + 0u];
            c0 += a.x * b;
            c1 += a.y * b;
            c2 += a.z * b;
            c3 += a.w * b;
        }
        {
            let a = sm[ab + 17u];
            let b = sm[bb + 9u];
            c0 += a.x * b;
            c1 += a.y * b;
            c2 += a.z * b;
            c3 += a.w * b;
        }
        {
            let a = sm[ab + 34u];
            let b = sm[bb + 18u];
            c0 += a.x * b;
            c1 += a.y * b;
            c2 += a.z * b;
            c3 += a.w * b;
        }
        {
            let a = sm[ab + 51u];
            let b = sm[bb + 27u];
            c0 += a.x * b;
            c1 += a.y * b;
            c2 += a.z * b;
            c3 += a.w * b;
        }
        {
            let a = sm[ab + 68u];
            let b = sm[bb + 36u];
            c0 += a.x * b;
            c1 += a.y * b;
            c2 += a.z * b;
            c3 += a.w * b;
        }
        {
            let a = sm[ab + 85u];
            let b = sm[bb + 45u];
            c0 += a.x * b;
            c1 += a.y * b;
            c2 += a.z * b;
            c3 += a.w * b;
        }
        {
            let a = sm[ab + 102u];
            let b = sm[bb + 54u];
            c0 += a.x * b;
            c1 += a.y * b;
            c2 += a.z * b;
            c3 += a.w * b;
        }
        {
            let a = sm[ab + 119u];
            let b = sm[bb + 63u];
            c0 += a.x * b;
            c1 += a.y * b;
            c2 += a.z * b;
            c3 += a.w * b;
        }
        {
            let a = sm[ab + 136u];
            let b = sm[bb + 72u];
            c0 += a.x * b;
            c1 += a.y * b;
            c2 += a.z * b;
            c3 += a.w * b;
        }
        {
            let a = sm[ab + 153u];
            let b = sm[bb + 81u];
            c0 += a.x * b;
            c1 += a.y * b;
            c2 += a.z * b;
            c3 += a.w * b;
        }
        {
            let a = sm[ab + 170u];
            let b = sm[bb + 90u];
            c0 += a.x * b;
            c1 += a.y * b;
            c2 += a.z * b;
            c3 += a.w * b;
        }
        {
            let a = sm[ab + 187u];
            let b = sm[bb + 99u];
            c0 += a.x * b;
            c1 += a.y * b;
            c2 += a.z * b;
            c3 += a.w * b;
        }
        {
            let a = sm[ab + 204u];
            let b = sm[bb + 108u];
            c0 += a.x * b;
            c1 += a.y * b;
            c2 += a.z * b;
            c3 += a.w * b;
        }
        {
            let a = sm[ab + 221u];
            let b = sm[bb + 117u];
            c0 += a.x * b;
            c1 += a.y * b;
            c2 += a.z * b;
            c3 += a.w * b;
        }
        {
            let a = sm[ab + 238u];
            let b = sm[bb + 126u];
            c0 += a.x * b;
            c1 += a.y * b;
            c2 += a.z * b;
            c3 += a.w * b;
        }
        {
            let a = sm[ab + 255u];
            let b = sm[bb + 135u];
            c0 += a.x * b;
            c1 += a.y * b;
            c2 += a.z * b;
            c3 += a.w * b;
        }
        workgroupBarrier();
        if (kn < KT) {
        {
            let s = li + 0u;
            { let kk = s % BKT; let mm = s / BKT; sm[kk * AV + mm / 4u][mm % 4u] = pa0; }
        }
        {
            let s = li + 256u;
            { let kk = s % BKT; let mm = s / BKT; sm[kk * AV + mm / 4u][mm % 4u] = pa1; }
        }
        {
            let s = li + 512u;
            { let kk = s % BKT; let mm = s / BKT; sm[kk * AV + mm / 4u][mm % 4u] = pa2; }
        }
        {
            let s = li + 768u;
            { let kk = s % BKT; let mm = s / BKT; sm[kk * AV + mm / 4u][mm % 4u] = pa3; }
        }
        {
            let s = li + 1024u;
            { let kk = s % BKT; let mm = s / BKT; sm[kk * AV + mm / 4u][mm % 4u] = pa4; }
        }
        {
            let s = li + 1280u;
            { let kk = s % BKT; let mm = s / BKT; sm[kk * AV + mm / 4u][mm % 4u] = pa5; }
        }
        {
            let s = li + 1536u;
            { let kk = s % BKT; let mm = s / BKT; sm[kk * AV + mm / 4u][mm % 4u] = pa6; }
        }
        {
            let s = li + 1792u;
            { let kk = s % BKT; let mm = s / BKT; sm[kk * AV + mm / 4u][mm % 4u] = pa7; }
        }
        {
            let s = li + 0u;
            { let nn = s % BN; let kk = s / BN; sm[BOFF + kk * BV + nn / 4u][nn % 4u] = pb0; }
        }
        {
            let s = li + 256u;
            { let nn = s % BN; let kk = s / BN; sm[BOFF + kk * BV + nn / 4u][nn % 4u] = pb1; }
        }
        {
            let s = li + 512u;
            { let nn = s % BN; let kk = s / BN; sm[BOFF + kk * BV + nn / 4u][nn % 4u] = pb2; }
        }
        {
            let s = li + 768u;
            { let nn = s % BN; let kk = s / BN; sm[BOFF + kk * BV + nn / 4u][nn % 4u] = pb3; }
        }
        }
        workgroupBarrier();
    }
    if (SPLIT > 1u) {
        if (ks > 0u) {
            let o = ((ks - 1u) * TT + t) * 4u;
            sm[o] = c0;
            sm[o + 1u] = c1;
            sm[o + 2u] = c2;
            sm[o + 3u] = c3;
        }
        workgroupBarrier();
        if (ks == 0u) {
            for (var q = 1u; q < SPLIT; q++) {
                let o = ((q - 1u) * TT + t) * 4u;
                c0 += sm[o];
                c1 += sm[o + 1u];
                c2 += sm[o + 2u];
                c3 += sm[o + 3u];
            }
        }
    }
    if (ks == 0u) {
        let m = m0 + tm * 4u;
        let n = n0 + tn * 4u;
        store_c(z, m, n, c0);
        store_c(z, m + 1u, n, c1);
        store_c(z, m + 2u, n, c2);
        store_c(z, m + 3u, n, c3);
    }
}


// ---- shader 3 ----
@group(0) @binding(0) var<storage, read_write> b0: array<f32>;
@group(0) @binding(1) var<storage, read> b1: array<f32>;
@group(0) @binding(2) var<storage, read_write> b2: array<f32>;

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let i = (wid.y * 2496u + wid.x) * 64u + li;
    if (i >= 159744u) {
        return;
    }
    let o0 = (i / 24u) % 6656u;
    let o1 = (i / 1u) % 24u;
    let oc = (i / 159744u) % 1u;
    let img = i / 159744u;
    let g = oc / 1u;
    let oo = oc % 1u;
    var acc = 0.0;
    let q0 = o0 + 0u;
    let p0 = q0 / 2u;
    let k0 = q0 % 2u;
    let q1 = o1 + 0u;
    let p1 = q1 / 2u;
    let k1 = q1 % 2u;
    if (p0 < 3328u && p1 < 12u) {
    for (var ci = 0u; ci < 16u; ci++) {
    acc += b0[(((img * 16u + g * 16u + ci) * 3328u + p0) * 12u + p1)] * b1[((((g * 16u + ci) * 1u + oo) * 2u + k0) * 2u + k1)];
    }
    }
    let idx = i;
        acc = max(acc, 0.0);
    b2[i] = acc;
}


// ---- shader 4 ----
@group(0) @binding(0) var<storage, read_write> b0: array<u32>;
@group(0) @binding(1) var<storage, read_write> b1: array<u32>;

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let i = (wid.y * 576u + wid.x) * 256u + li;
    if (i >= 147456u) {
        return;
    }
    let c0 = (i / 147456u);
    let c1 = (i / 576u) % 256u;
    let c2 = (i / 24u) % 24u;
    let c3 = i % 24u;
    let src = u32(0i + i32(c0) * 159744i + i32(c1) * 624i + (0i + i32(c2) * 1i) * 24i + (0i + i32(c3) * 1i) * 1i);
    b1[i] = b0[src];
}

