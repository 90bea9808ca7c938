// kernel `y/parts` (Conv): shader 0 `main`, workgroup_size [256, 1, 1], dispatch [1, 1, 2]
//   @binding(0) `x` read_write
//   @binding(1) `w/split2` read
//   @binding(2) `y/partial` read_write
// kernel `y/sum` (Reduce): shader 1 `main`, workgroup_size [64, 1, 1], dispatch [4, 1, 1]
//   @binding(0) `y/stacked` read_write
//   @binding(1) `y/summed` read_write
// kernel `y/epilogue` (Elementwise): shader 2 `main`, workgroup_size [256, 1, 1], dispatch [1, 1, 1]
//   @binding(0) `y/summed` read_write
//   @binding(1) `b/chw` read
//   @binding(2) `y` read_write

// ---- shader 0 ----
@group(0) @binding(0) var<storage, read_write> b0: array<f32>;
@group(0) @binding(1) var<storage, read> b1: array<f32>;
@group(0) @binding(2) var<storage, read_write> b2: array<f32>;

fn load_a(z: u32, m: u32, k: u32) -> f32 {
    if (m >= 16u || k >= 288u) {
        return 0.0;
    }
    return b1[((z % 2u) * 16u + m) * 288u + k];
}
fn load_b(z: u32, k: u32, n: u32) -> f32 {
    if (k >= 288u || n >= 16u) {
        return 0.0;
    }
    let ci = k / 9u;
    let r = k % 9u;
    let ky = r / 3u;
    let kx = r % 3u;
    let oy = n / 4u;
    let ox = n % 4u;
    let iy = i32(oy * 1u + ky * 1u) - 1i;
    let ix = i32(ox * 1u + kx * 1u) - 1i;
    if (iy < 0i || iy >= 4i || ix < 0i || ix >= 4i) {
        return 0.0;
    }
    return b0[(((z / 2u) * 64u + (z % 2u) * 32u + ci) * 4 + u32(iy)) * 4 + u32(ix)];
}
fn store_c(z: u32, m: u32, n: u32, v: vec4<f32>) {
    if (m >= 16u) {
        return;
    }
    let o = (z % 2u) * 16u + m;
    let base = ((z / 2u) * 32u + o) * 16u;
    if (n + 0u < 16u) {
        let idx = base + (n + 0u);
        var acc = v.x;
        b2[idx] = acc;
    }
    if (n + 1u < 16u) {
        let idx = base + (n + 1u);
        var acc = v.y;
        b2[idx] = acc;
    }
    if (n + 2u < 16u) {
        let idx = base + (n + 2u);
        var acc = v.z;
        b2[idx] = acc;
    }
    if (n + 3u < 16u) {
        let idx = base + (n + 3u);
        var acc = v.w;
        b2[idx] = acc;
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
const BN: u32 = 64u;
const BK: u32 = 16u;
const SPLIT: u32 = 1u;
const BKT: u32 = BK * SPLIT;
const WN: u32 = 16u;
const TT: u32 = 256u;
const NT: u32 = 256u;
const KT: u32 = 288u;
const AV: u32 = BM / 4u + 1u;
const BV: u32 = BN / 4u + 1u;
const BOFF: u32 = BKT * AV;

var<workgroup> sm: array<vec4<f32>, 544>;

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
            let b = sm[bb + 17u];
            c0 += a.x * b;
            c1 += a.y * b;
            c2 += a.z * b;
            c3 += a.w * b;
        }
        {
            let a = sm[ab + 34u];
            let b = sm[bb + 34u];
            c0 += a.x * b;
            c1 += a.y * b;
            c2 += a.z * b;
            c3 += a.w * b;
        }
        {
            let a = sm[ab + 51u];
            let b = sm[bb + 51u];
            c0 += a.x * b;
            c1 += a.y * b;
            c2 += a.z * b;
            c3 += a.w * b;
        }
        {
            let a = sm[ab + 68u];
            let b = sm[bb + 68u];
            c0 += a.x * b;
            c1 += a.y * b;
            c2 += a.z * b;
            c3 += a.w * b;
        }
        {
            let a = sm[ab + 85u];
            let b = sm[bb + 85u];
            c0 += a.x * b;
            c1 += a.y * b;
            c2 += a.z * b;
            c3 += a.w * b;
        }
        {
            let a = sm[ab + 102u];
            let b = sm[bb + 102u];
            c0 += a.x * b;
            c1 += a.y * b;
            c2 += a.z * b;
            c3 += a.w * b;
        }
        {
            let a = sm[ab + 119u];
            let b = sm[bb + 119u];
            c0 += a.x * b;
            c1 += a.y * b;
            c2 += a.z * b;
            c3 += a.w * b;
        }
        {
            let a = sm[ab + 136u];
            let b = sm[bb + 136u];
            c0 += a.x * b;
            c1 += a.y * b;
            c2 += a.z * b;
            c3 += a.w * b;
        }
        {
            let a = sm[ab + 153u];
            let b = sm[bb + 153u];
            c0 += a.x * b;
            c1 += a.y * b;
            c2 += a.z * b;
            c3 += a.w * b;
        }
        {
            let a = sm[ab + 170u];
            let b = sm[bb + 170u];
            c0 += a.x * b;
            c1 += a.y * b;
            c2 += a.z * b;
            c3 += a.w * b;
        }
        {
            let a = sm[ab + 187u];
            let b = sm[bb + 187u];
            c0 += a.x * b;
            c1 += a.y * b;
            c2 += a.z * b;
            c3 += a.w * b;
        }
        {
            let a = sm[ab + 204u];
            let b = sm[bb + 204u];
            c0 += a.x * b;
            c1 += a.y * b;
            c2 += a.z * b;
            c3 += a.w * b;
        }
        {
            let a = sm[ab + 221u];
            let b = sm[bb + 221u];
            c0 += a.x * b;
            c1 += a.y * b;
            c2 += a.z * b;
            c3 += a.w * b;
        }
        {
            let a = sm[ab + 238u];
            let b = sm[bb + 238u];
            c0 += a.x * b;
            c1 += a.y * b;
            c2 += a.z * b;
            c3 += a.w * b;
        }
        {
            let a = sm[ab + 255u];
            let b = sm[bb + 255u];
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


// ---- shader 1 ----
@group(0) @binding(0) var<storage, read_write> b0: array<f32>;
@group(0) @binding(1) var<storage, read_write> b1: array<f32>;

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let i = (wid.y * 4u + wid.x) * 64u + li;
    if (i >= 256u) {
        return;
    }
    let o = i;
    let base = ((o / 1u) % 4u) * 1u + ((o / 4u) % 4u) * 4u + ((o / 16u) % 16u) * 16u + ((o / 256u) % 1u) * 512u;
    var acc = 0.0;
    for (var q = 0u; q < 2u; q++) {
        let v = b0[base + ((q / 1u) % 2u) * 256u];
        acc = acc + v;
    }
    b1[o] = acc;
}


// ---- shader 2 ----
@group(0) @binding(0) var<storage, read_write> b0: array<f32>;
@group(0) @binding(1) var<storage, read> b1: array<f32>;
@group(0) @binding(2) var<storage, read_write> b2: array<f32>;

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let i = (wid.y * 1u + wid.x) * 256u + li;
    if (i >= 256u) {
        return;
    }
    var acc: f32 = b0[i];
        let s0 = b1[(i / 16u)];
        acc = (acc + s0);
        acc = max(acc, 0.0);
    b2[i] = acc;
}

