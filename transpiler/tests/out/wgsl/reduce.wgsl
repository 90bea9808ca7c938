// kernel `mean` (Reduce): shader 0 `main`, workgroup_size [64, 1, 1], dispatch [1, 1, 1]
//   @binding(0) `x` read_write
//   @binding(1) `mean` read_write
// kernel `max` (Reduce): shader 1 `main`, workgroup_size [64, 1, 1], dispatch [1, 1, 1]
//   @binding(0) `t` read_write
//   @binding(1) `max` read_write

// ---- shader 0 ----
@group(0) @binding(0) var<storage, read_write> b0: array<f32>;
@group(0) @binding(1) var<storage, read_write> b1: array<f32>;

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let i = (wid.y * 1u + wid.x) * 64u + li;
    if (i >= 8u) {
        return;
    }
    let o = i;
    let base = ((o / 1u) % 8u) * 16u + ((o / 8u) % 1u) * 128u;
    var acc = 0.0;
    for (var q = 0u; q < 16u; q++) {
        let v = b0[base + ((q / 1u) % 4u) * 1u + ((q / 4u) % 4u) * 4u];
        acc = acc + v;
    }
    b1[o] = acc / 16.0;
}


// ---- shader 1 ----
fn wd_bits(b: u32) -> f32 {
    return bitcast<f32>(b);
}
@group(0) @binding(0) var<storage, read_write> b0: array<f32>;
@group(0) @binding(1) var<storage, read_write> b1: array<f32>;

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let i = (wid.y * 1u + wid.x) * 64u + li;
    if (i >= 6u) {
        return;
    }
    let o = i;
    let base = ((o / 1u) % 3u) * 1u + ((o / 3u) % 2u) * 15u;
    var acc = wd_bits(0xff800000u);
    for (var q = 0u; q < 5u; q++) {
        let v = b0[base + ((q / 1u) % 5u) * 3u];
        acc = max(acc, v);
    }
    b1[o] = acc;
}

