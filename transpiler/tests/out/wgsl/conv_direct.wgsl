// kernel `y` (Conv): shader 0 `main`, workgroup_size [64, 1, 1], dispatch [4, 1, 1]
//   @binding(0) `x` read_write
//   @binding(1) `w` read
//   @binding(2) `y` read_write

// ---- shader 0 ----
@group(0) @binding(0) var<storage, read_write> b0: array<f32>;
@group(0) @binding(1) var<storage, read> b1: array<f32>;
@group(0) @binding(2) var<storage, read_write> b2: array<f32>;

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let i = (wid.y * 4u + wid.x) * 64u + li;
    if (i >= 256u) {
        return;
    }
    let o0 = (i / 16u) % 4u;
    let o1 = (i / 4u) % 4u;
    let o2 = (i / 1u) % 4u;
    let oc = (i / 64u) % 4u;
    let img = i / 256u;
    let g = oc / 4u;
    var acc = 0.0;
    for (var ci = 0u; ci < 2u; ci++) {
    for (var k0 = 0u; k0 < 3u; k0++) {
    let p0 = i32(o0 * 1u + k0 * 1u) - 1i;
    if (p0 < 0i || p0 >= 4i) { continue; }
    for (var k1 = 0u; k1 < 3u; k1++) {
    let p1 = i32(o1 * 1u + k1 * 1u) - 1i;
    if (p1 < 0i || p1 >= 4i) { continue; }
    for (var k2 = 0u; k2 < 3u; k2++) {
    let p2 = i32(o2 * 1u + k2 * 1u) - 1i;
    if (p2 < 0i || p2 >= 4i) { continue; }
    acc += b0[((((img * 2u + g * 2u + ci) * 4u + u32(p0)) * 4u + u32(p1)) * 4u + u32(p2))] * b1[((((oc * 2u + ci) * 3u + k0) * 3u + k1) * 3u + k2)];
    }
    }
    }
    }
    let idx = i;
    b2[i] = acc;
}

