// kernel `y` (Resize): shader 0 `main`, workgroup_size [256, 1, 1], dispatch [1, 1, 1]
//   @binding(0) `x` read_write
//   @binding(1) `y` read_write

// ---- shader 0 ----
@group(0) @binding(0) var<storage, read_write> b0: array<f32>;
@group(0) @binding(1) var<storage, read_write> b1: array<f32>;
const I2 = array<u32, 16>(0u, 0u, 0u, 1u, 0u, 1u, 1u, 2u, 1u, 2u, 2u, 3u, 2u, 3u, 3u, 3u);
const W2 = array<f32, 16>((0.25f), (0.75f), (0.75f), (0.25f), (0.25f), (0.75f), (0.75f), (0.25f), (0.25f), (0.75f), (0.75f), (0.25f), (0.25f), (0.75f), (0.75f), (0.25f));
const I3 = array<u32, 16>(0u, 0u, 0u, 1u, 0u, 1u, 1u, 2u, 1u, 2u, 2u, 3u, 2u, 3u, 3u, 3u);
const W3 = array<f32, 16>((0.25f), (0.75f), (0.75f), (0.25f), (0.25f), (0.75f), (0.75f), (0.25f), (0.25f), (0.75f), (0.75f), (0.25f), (0.25f), (0.75f), (0.75f), (0.25f));

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let i = (wid.y * 1u + wid.x) * 256u + li;
    if (i >= 128u) {
        return;
    }
    let c0 = (i / 128u);
    let c1 = (i / 64u) % 2u;
    let c2 = (i / 8u) % 8u;
    let c3 = i % 8u;
    var acc = 0.0;
    for (var t2 = 0u; t2 < 2u; t2++) {
    let q2 = c2 * 2u + t2;
    for (var t3 = 0u; t3 < 2u; t3++) {
    let q3 = c3 * 2u + t3;
    acc += W2[q2] * W3[q3] * b0[0u + c0 * 32u + c1 * 16u + I2[q2] * 4u + I3[q3] * 1u];
    }
    }
    b1[i] = acc;
}

