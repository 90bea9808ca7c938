// kernel `max` (MaxPool): shader 0 `main`, workgroup_size [64, 1, 1], dispatch [1, 1, 1]
//   @binding(0) `x` read_write
//   @binding(1) `max` read_write
// kernel `avg` (AveragePool): shader 1 `main`, workgroup_size [64, 1, 1], dispatch [1, 1, 1]
//   @binding(0) `max` read_write
//   @binding(1) `avg` read_write
// kernel `lrn` (Lrn): shader 2 `main`, workgroup_size [64, 1, 1], dispatch [4, 1, 1]
//   @binding(0) `x` read_write
//   @binding(1) `lrn` read_write

// ---- shader 0 ----
fn wd_bits(b: u32) -> f32 {
    return bitcast<f32>(b);
}
@group(0) @binding(0) var<storage, read_write> b0: array<f32>;
@group(0) @binding(1) var<storage, read_write> b1: array<f32>;

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let i = (wid.y * 1u + wid.x) * 64u + li;
    if (i >= 64u) {
        return;
    }
    let o1 = (i / 1u) % 4u;
    let o0 = (i / 4u) % 4u;
    let plane = i / 16u;
    var acc = wd_bits(0xff800000u);
    for (var k0 = 0u; k0 < 3u; k0++) {
    let p0 = i32(o0 * 2u + k0 * 1u) - 1i;
    for (var k1 = 0u; k1 < 3u; k1++) {
    let p1 = i32(o1 * 2u + k1 * 1u) - 1i;
    if (p0 >= 0i && p0 < 8i && p1 >= 0i && p1 < 8i) {
        acc = max(acc, b0[((plane * 8u + u32(p0)) * 8u + u32(p1))]);
    }
    }
    }
    b1[i] = acc;
}


// ---- shader 1 ----
@group(0) @binding(0) var<storage, read_write> b0: array<f32>;
@group(0) @binding(1) var<storage, read_write> b1: array<f32>;

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let i = (wid.y * 1u + wid.x) * 64u + li;
    if (i >= 16u) {
        return;
    }
    let o1 = (i / 1u) % 2u;
    let o0 = (i / 2u) % 2u;
    let plane = i / 4u;
    var acc = 0.0;
    var count = 0u;
    for (var k0 = 0u; k0 < 3u; k0++) {
    let p0 = i32(o0 * 2u + k0 * 1u) - 1i;
    for (var k1 = 0u; k1 < 3u; k1++) {
    let p1 = i32(o1 * 2u + k1 * 1u) - 1i;
    if (p0 >= 0i && p0 < 4i && p1 >= 0i && p1 < 4i) {
        acc += b0[((plane * 4u + u32(p0)) * 4u + u32(p1))];
        count += 1u;
    }
    }
    }
    acc = acc / f32(max(count, 1u));
    b1[i] = acc;
}


// ---- shader 2 ----
@group(0) @binding(0) var<storage, read_write> b0: array<f32>;
@group(0) @binding(1) var<storage, read_write> b1: array<f32>;

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let i = (wid.y * 4u + wid.x) * 64u + li;
    if (i >= 256u) {
        return;
    }
    let inner = i % 64u;
    let ch = i32((i / 64u) % 4u);
    let base = i - u32(ch) * 64u;
    var sum = 0.0;
    for (var cc = max(ch - 1i, 0i); cc <= min(ch + 1i, 3i); cc++) {
        let v = b0[base + u32(cc) * 64u];
        sum += v * v;
    }
    let scale = pow((1.0f) + (0.0001f) / 3.0 * sum, (0.75f));
    b1[i] = b0[i] / scale;
}

