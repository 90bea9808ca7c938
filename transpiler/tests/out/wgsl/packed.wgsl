// kernel `lt` (Binary): shader 0 `main`, workgroup_size [256, 1, 1], dispatch [1, 1, 1]
//   @binding(0) `a` read_write
//   @binding(1) `b` read_write
//   @binding(2) `lt` read_write
// kernel `nt` (Unary): shader 1 `main`, workgroup_size [256, 1, 1], dispatch [1, 1, 1]
//   @binding(0) `lt` read_write
//   @binding(1) `nt` read_write
// kernel `sel` (Where): shader 2 `main`, workgroup_size [256, 1, 1], dispatch [1, 1, 1]
//   @binding(0) `nt` read_write
//   @binding(1) `a` read_write
//   @binding(2) `b` read_write
//   @binding(3) `sel` read_write
// kernel `qs` (Binary): shader 3 `main`, workgroup_size [256, 1, 1], dispatch [1, 1, 1]
//   @binding(0) `q` read_write
//   @binding(1) `r` read_write
//   @binding(2) `qs` read_write
// kernel `qm` (Binary): shader 4 `main`, workgroup_size [256, 1, 1], dispatch [1, 1, 1]
//   @binding(0) `qs` read_write
//   @binding(1) `r` read_write
//   @binding(2) `qm` read_write
// kernel `qf` (Cast): shader 5 `main`, workgroup_size [256, 1, 1], dispatch [1, 1, 1]
//   @binding(0) `qm` read_write
//   @binding(1) `qf` read_write
// kernel `li` (Cast): shader 6 `main`, workgroup_size [256, 1, 1], dispatch [1, 1, 1]
//   @binding(0) `lt` read_write
//   @binding(1) `li` read_write
// kernel `cat` (Concat): shader 7 `main`, workgroup_size [256, 1, 1], dispatch [1, 1, 1]
//   @binding(0) `li` read_write
//   @binding(1) `qm` read_write
//   @binding(2) `cat` read_write
// kernel `qw` (Where): shader 8 `main`, workgroup_size [256, 1, 1], dispatch [1, 1, 1]
//   @binding(0) `pick` read
//   @binding(1) `q` read_write
//   @binding(2) `qs` read_write
//   @binding(3) `qw` read_write
// kernel `mt` (Transpose): shader 9 `main`, workgroup_size [256, 1, 1], dispatch [1, 1, 1]
//   @binding(0) `m` read_write
//   @binding(1) `mt` read_write
// kernel `mw` (Cast): shader 10 `main`, workgroup_size [256, 1, 1], dispatch [1, 1, 1]
//   @binding(0) `mt` read_write
//   @binding(1) `mw` read_write
// kernel `mp` (Pad): shader 11 `main`, workgroup_size [256, 1, 1], dispatch [1, 1, 1]
//   @binding(0) `mw` read_write
//   @binding(1) `mp` read_write
// kernel `eq` (Binary): shader 12 `main`, workgroup_size [256, 1, 1], dispatch [1, 1, 1]
//   @binding(0) `mp` read_write
//   @binding(1) `neg3` read
//   @binding(2) `eq` read_write
// kernel `gn` (GatherNd): shader 13 `main`, workgroup_size [256, 1, 1], dispatch [1, 1, 1]
//   @binding(0) `nt` read_write
//   @binding(1) `nd` read
//   @binding(2) `gn` read_write
// kernel `bc` (BitCast): shader 14 `main`, workgroup_size [256, 1, 1], dispatch [1, 1, 1]
//   @binding(0) `qm` read_write
//   @binding(1) `bc` read_write
// kernel `sr` (Binary): shader 15 `main`, workgroup_size [256, 1, 1], dispatch [1, 1, 1]
//   @binding(0) `k` read_write
//   @binding(1) `ks` read
//   @binding(2) `sr` read_write
// kernel `sl` (Binary): shader 16 `main`, workgroup_size [256, 1, 1], dispatch [1, 1, 1]
//   @binding(0) `k` read_write
//   @binding(1) `ks` read
//   @binding(2) `sl` read_write
// kernel `ud` (Binary): shader 17 `main`, workgroup_size [256, 1, 1], dispatch [1, 1, 1]
//   @binding(0) `uk` read_write
//   @binding(1) `uks` read
//   @binding(2) `ud` read_write

// ---- shader 0 ----
@group(0) @binding(0) var<storage, read_write> b0: array<f32>;
@group(0) @binding(1) var<storage, read_write> b1: array<f32>;
@group(0) @binding(2) var<storage, read_write> b2: array<u32>;

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let w = (wid.y * 1u + wid.x) * 256u + li;
    if (w >= 2u) {
        return;
    }
    var word = 0u;
    for (var l = 0u; l < 4u; l++) {
        let i = w * 4u + l;
        if (i < 7u) {
            let jx0 = i;
            let x0 = b0[jx0];
            let js0 = i;
            let s0 = b1[js0];
            let x1 = select(0u, 1u, x0 < s0);
            let v = x1;
            word = word | ((bitcast<u32>(v) & 0xffu) << (l * 8u));
        }
    }
    b2[w] = word;
}


// ---- shader 1 ----
@group(0) @binding(0) var<storage, read_write> b0: array<u32>;
@group(0) @binding(1) var<storage, read_write> b1: array<u32>;

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let w = (wid.y * 1u + wid.x) * 256u + li;
    if (w >= 2u) {
        return;
    }
    var word = 0u;
    for (var l = 0u; l < 4u; l++) {
        let i = w * 4u + l;
        if (i < 7u) {
            let jx0 = i;
            let x0 = select(0u, 1u, extractBits(b0[jx0 >> 2u], (jx0 & 3u) * 8u, 8u) != 0u);
            let x1 = (x0 ^ 1u);
            let v = x1;
            word = word | ((bitcast<u32>(v) & 0xffu) << (l * 8u));
        }
    }
    b1[w] = word;
}


// ---- shader 2 ----
@group(0) @binding(0) var<storage, read_write> b0: array<u32>;
@group(0) @binding(1) var<storage, read_write> b1: array<u32>;
@group(0) @binding(2) var<storage, read_write> b2: array<u32>;
@group(0) @binding(3) var<storage, read_write> b3: array<u32>;

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let i = (wid.y * 1u + wid.x) * 256u + li;
    if (i >= 7u) {
        return;
    }
    let jc = i;
    let jx = i;
    let jy = i;
    let v = select(b2[jy], b1[jx], select(0u, 1u, extractBits(b0[jc >> 2u], (jc & 3u) * 8u, 8u) != 0u) != 0u);
    b3[i] = v;
}


// ---- shader 3 ----
@group(0) @binding(0) var<storage, read_write> b0: array<u32>;
@group(0) @binding(1) var<storage, read_write> b1: array<u32>;
@group(0) @binding(2) var<storage, read_write> b2: array<u32>;

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let w = (wid.y * 1u + wid.x) * 256u + li;
    if (w >= 2u) {
        return;
    }
    var word = 0u;
    for (var l = 0u; l < 4u; l++) {
        let i = w * 4u + l;
        if (i < 5u) {
            let jx0 = i;
            let x0 = extractBits(bitcast<i32>(b0[jx0 >> 2u]), (jx0 & 3u) * 8u, 8u);
            let js0 = i;
            let s0 = extractBits(bitcast<i32>(b1[js0 >> 2u]), (js0 & 3u) * 8u, 8u);
            let x1 = extractBits((x0 + s0), 0u, 8u);
            let v = x1;
            word = word | ((bitcast<u32>(v) & 0xffu) << (l * 8u));
        }
    }
    b2[w] = word;
}


// ---- shader 4 ----
@group(0) @binding(0) var<storage, read_write> b0: array<u32>;
@group(0) @binding(1) var<storage, read_write> b1: array<u32>;
@group(0) @binding(2) var<storage, read_write> b2: array<u32>;

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let w = (wid.y * 1u + wid.x) * 256u + li;
    if (w >= 2u) {
        return;
    }
    var word = 0u;
    for (var l = 0u; l < 4u; l++) {
        let i = w * 4u + l;
        if (i < 5u) {
            let jx0 = i;
            let x0 = extractBits(bitcast<i32>(b0[jx0 >> 2u]), (jx0 & 3u) * 8u, 8u);
            let js0 = i;
            let s0 = extractBits(bitcast<i32>(b1[js0 >> 2u]), (js0 & 3u) * 8u, 8u);
            let x1 = extractBits((x0 * s0), 0u, 8u);
            let v = x1;
            word = word | ((bitcast<u32>(v) & 0xffu) << (l * 8u));
        }
    }
    b2[w] = word;
}


// ---- shader 5 ----
@group(0) @binding(0) var<storage, read_write> b0: array<u32>;
@group(0) @binding(1) var<storage, read_write> b1: array<f32>;

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let i = (wid.y * 1u + wid.x) * 256u + li;
    if (i >= 5u) {
        return;
    }
    let x = extractBits(bitcast<i32>(b0[i >> 2u]), (i & 3u) * 8u, 8u);
    let v = f32(x);
    b1[i] = v;
}


// ---- shader 6 ----
@group(0) @binding(0) var<storage, read_write> b0: array<u32>;
@group(0) @binding(1) var<storage, read_write> b1: array<u32>;

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let w = (wid.y * 1u + wid.x) * 256u + li;
    if (w >= 2u) {
        return;
    }
    var word = 0u;
    for (var l = 0u; l < 4u; l++) {
        let i = w * 4u + l;
        if (i < 7u) {
            let x = select(0u, 1u, extractBits(b0[i >> 2u], (i & 3u) * 8u, 8u) != 0u);
            let v = bitcast<i32>(x);
            word = word | ((bitcast<u32>(v) & 0xffu) << (l * 8u));
        }
    }
    b1[w] = word;
}


// ---- shader 7 ----
@group(0) @binding(0) var<storage, read_write> b0: array<u32>;
@group(0) @binding(1) var<storage, read_write> b1: array<u32>;
@group(0) @binding(2) var<storage, read_write> b2: array<u32>;

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let w = (wid.y * 1u + wid.x) * 256u + li;
    if (w >= 3u) {
        return;
    }
    var word = 0u;
    for (var l = 0u; l < 4u; l++) {
        let i = w * 4u + l;
        if (i < 12u) {
            let outer = i / 12u;
            let ax = (i / 1u) % 12u;
            let r = i % 1u;
            var v = 0u;
            if (ax < 7u) {
                let j0 = (outer * 7u + ax - 0u) * 1u + r;
                v = extractBits(b0[j0 >> 2u], (j0 & 3u) * 8u, 8u);
            } else if (ax < 12u) {
                let j1 = (outer * 5u + ax - 7u) * 1u + r;
                v = extractBits(b1[j1 >> 2u], (j1 & 3u) * 8u, 8u);
            }
            word = word | ((bitcast<u32>(v) & 0xffu) << (l * 8u));
        }
    }
    b2[w] = word;
}


// ---- shader 8 ----
@group(0) @binding(0) var<storage, read> b0: array<u32>;
@group(0) @binding(1) var<storage, read_write> b1: array<u32>;
@group(0) @binding(2) var<storage, read_write> b2: array<u32>;
@group(0) @binding(3) var<storage, read_write> b3: array<u32>;

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let w = (wid.y * 1u + wid.x) * 256u + li;
    if (w >= 2u) {
        return;
    }
    var word = 0u;
    for (var l = 0u; l < 4u; l++) {
        let i = w * 4u + l;
        if (i < 5u) {
            let jc = i;
            let jx = i;
            let jy = i;
            let v = select(extractBits(b2[jy >> 2u], (jy & 3u) * 8u, 8u), extractBits(b1[jx >> 2u], (jx & 3u) * 8u, 8u), select(0u, 1u, extractBits(b0[jc >> 2u], (jc & 3u) * 8u, 8u) != 0u) != 0u);
            word = word | ((bitcast<u32>(v) & 0xffu) << (l * 8u));
        }
    }
    b3[w] = word;
}


// ---- shader 9 ----
@group(0) @binding(0) var<storage, read_write> b0: array<u32>;
@group(0) @binding(1) var<storage, read_write> b1: array<u32>;

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let w = (wid.y * 1u + wid.x) * 256u + li;
    if (w >= 4u) {
        return;
    }
    var word = 0u;
    for (var l = 0u; l < 4u; l++) {
        let i = w * 4u + l;
        if (i < 15u) {
            let c0 = (i / 3u);
            let c1 = i % 3u;
            let src = 0u + c0 * 1u + c1 * 5u;
            let v = extractBits(b0[src >> 2u], (src & 3u) * 8u, 8u);
            word = word | ((bitcast<u32>(v) & 0xffu) << (l * 8u));
        }
    }
    b1[w] = word;
}


// ---- shader 10 ----
@group(0) @binding(0) var<storage, read_write> b0: array<u32>;
@group(0) @binding(1) var<storage, read_write> b1: array<u32>;

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let w = (wid.y * 1u + wid.x) * 256u + li;
    if (w >= 8u) {
        return;
    }
    var word = 0u;
    for (var l = 0u; l < 2u; l++) {
        let i = w * 2u + l;
        if (i < 15u) {
            let x = extractBits(b0[i >> 2u], (i & 3u) * 8u, 8u);
            let v = bitcast<i32>(x);
            word = word | ((bitcast<u32>(v) & 0xffffu) << (l * 16u));
        }
    }
    b1[w] = word;
}


// ---- shader 11 ----
@group(0) @binding(0) var<storage, read_write> b0: array<u32>;
@group(0) @binding(1) var<storage, read_write> b1: array<u32>;

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let w = (wid.y * 1u + wid.x) * 256u + li;
    if (w >= 15u) {
        return;
    }
    var word = 0u;
    for (var l = 0u; l < 2u; l++) {
        let i = w * 2u + l;
        if (i < 30u) {
            let c0 = (i / 5u);
            let c1 = i % 5u;
            var p0 = i32(c0) - 0i;
            var p1 = i32(c1) - 1i;
            let src = 0u + u32(p0) * 3u + u32(p1) * 1u;
            let inside = p0 >= 0i && p0 < 5i && p1 >= 0i && p1 < 3i;
            let sj = select(0u, src, inside);
            let v = select(65533u, extractBits(b0[sj >> 1u], (sj & 1u) * 16u, 16u), inside);
            word = word | ((bitcast<u32>(v) & 0xffffu) << (l * 16u));
        }
    }
    b1[w] = word;
}


// ---- shader 12 ----
@group(0) @binding(0) var<storage, read_write> b0: array<u32>;
@group(0) @binding(1) var<storage, read> b1: array<u32>;
@group(0) @binding(2) var<storage, read_write> b2: array<u32>;

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let w = (wid.y * 1u + wid.x) * 256u + li;
    if (w >= 8u) {
        return;
    }
    var word = 0u;
    for (var l = 0u; l < 4u; l++) {
        let i = w * 4u + l;
        if (i < 30u) {
            let jx0 = i;
            let x0 = extractBits(bitcast<i32>(b0[jx0 >> 1u]), (jx0 & 1u) * 16u, 16u);
            let js0 = 0u;
            let s0 = extractBits(bitcast<i32>(b1[js0 >> 1u]), (js0 & 1u) * 16u, 16u);
            let x1 = select(0u, 1u, x0 == s0);
            let v = x1;
            word = word | ((bitcast<u32>(v) & 0xffu) << (l * 8u));
        }
    }
    b2[w] = word;
}


// ---- shader 13 ----
@group(0) @binding(0) var<storage, read_write> b0: array<u32>;
@group(0) @binding(1) var<storage, read> b1: array<vec2<u32>>;
@group(0) @binding(2) var<storage, read_write> b2: array<u32>;

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let w = (wid.y * 1u + wid.x) * 256u + li;
    if (w >= 1u) {
        return;
    }
    var word = 0u;
    for (var l = 0u; l < 4u; l++) {
        let i = w * 4u + l;
        if (i < 3u) {
            let t = i / 1u;
            var src = (t / 3u) * 0u + i % 1u;
            var g0 = i32(b1[t * 1u + 0u].x);
            g0 = select(g0, g0 + 7i, g0 < 0i);
            src = src + u32(g0) * 1u;
            let v = extractBits(b0[src >> 2u], (src & 3u) * 8u, 8u);
            word = word | ((bitcast<u32>(v) & 0xffu) << (l * 8u));
        }
    }
    b2[w] = word;
}


// ---- shader 14 ----
@group(0) @binding(0) var<storage, read_write> b0: array<u32>;
@group(0) @binding(1) var<storage, read_write> b1: array<u32>;

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let i = (wid.y * 1u + wid.x) * 256u + li;
    if (i >= 2u) {
        return;
    }
    b1[i] = b0[i];
}


// ---- shader 15 ----
fn wd_i64_is_neg(a: vec2<u32>) -> bool {
    return bitcast<i32>(a.y) < 0i;
}
fn wd_i64_sar(a: vec2<u32>, b: vec2<u32>) -> vec2<u32> {
    let fill = select(0u, 0xffffffffu, wd_i64_is_neg(a));
    if (b.y != 0u || b.x >= 64u) {
        return vec2<u32>(fill, fill);
    }
    if (b.x >= 32u) {
        return vec2<u32>(bitcast<u32>(bitcast<i32>(a.y) >> (b.x - 32u)), fill);
    }
    if (b.x == 0u) {
        return a;
    }
    return vec2<u32>((a.x >> b.x) | (a.y << (32u - b.x)), bitcast<u32>(bitcast<i32>(a.y) >> b.x));
}
@group(0) @binding(0) var<storage, read_write> b0: array<vec2<u32>>;
@group(0) @binding(1) var<storage, read> b1: array<vec2<u32>>;
@group(0) @binding(2) var<storage, read_write> b2: array<vec2<u32>>;

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let i = (wid.y * 1u + wid.x) * 256u + li;
    if (i >= 4u) {
        return;
    }
    var acc: vec2<u32> = b0[i];
    let s0 = b1[i];
    acc = wd_i64_sar(acc, s0);
    b2[i] = acc;
}


// ---- shader 16 ----
fn wd_u64_shl(a: vec2<u32>, b: vec2<u32>) -> vec2<u32> {
    if (b.y != 0u || b.x >= 64u) {
        return vec2<u32>(0u, 0u);
    }
    if (b.x >= 32u) {
        return vec2<u32>(0u, a.x << (b.x - 32u));
    }
    if (b.x == 0u) {
        return a;
    }
    return vec2<u32>(a.x << b.x, (a.y << b.x) | (a.x >> (32u - b.x)));
}
@group(0) @binding(0) var<storage, read_write> b0: array<vec2<u32>>;
@group(0) @binding(1) var<storage, read> b1: array<vec2<u32>>;
@group(0) @binding(2) var<storage, read_write> b2: array<vec2<u32>>;

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let i = (wid.y * 1u + wid.x) * 256u + li;
    if (i >= 4u) {
        return;
    }
    var acc: vec2<u32> = b0[i];
    let s0 = b1[i];
    acc = wd_u64_shl(acc, s0);
    b2[i] = acc;
}


// ---- shader 17 ----
fn wd_i64_sub(a: vec2<u32>, b: vec2<u32>) -> vec2<u32> {
    return vec2<u32>(a.x - b.x, a.y - b.y - select(0u, 1u, a.x < b.x));
}
struct WdUqr {
    q: vec2<u32>,
    r: vec2<u32>,
}

fn wd_u64_divmod(n: vec2<u32>, d: vec2<u32>) -> WdUqr {
    var q = vec2<u32>(0u, 0u);
    var r = vec2<u32>(0u, 0u);
    if (d.x == 0u && d.y == 0u) {
        return WdUqr(q, r);
    }
    for (var k = 0u; k < 64u; k = k + 1u) {
        let bit = 63u - k;
        let w = select(n.x, n.y, bit >= 32u);
        let carry = (r.y >> 31u) != 0u;
        r = vec2<u32>((r.x << 1u) | ((w >> (bit & 31u)) & 1u), (r.y << 1u) | (r.x >> 31u));
        if (carry || r.y > d.y || (r.y == d.y && r.x >= d.x)) {
            r = wd_i64_sub(r, d);
            if (bit >= 32u) {
                q.y = q.y | (1u << (bit & 31u));
            } else {
                q.x = q.x | (1u << bit);
            }
        }
    }
    return WdUqr(q, r);
}
@group(0) @binding(0) var<storage, read_write> b0: array<vec2<u32>>;
@group(0) @binding(1) var<storage, read> b1: array<vec2<u32>>;
@group(0) @binding(2) var<storage, read_write> b2: array<vec2<u32>>;

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let i = (wid.y * 1u + wid.x) * 256u + li;
    if (i >= 4u) {
        return;
    }
    var acc: vec2<u32> = b0[i];
    let s0 = b1[i];
    acc = wd_u64_divmod(acc, s0).q;
    b2[i] = acc;
}

