// kernel `y` (ConvTranspose): shader 0 `main`, workgroup_size [64, 1, 1], dispatch [2, 1, 1]
//   @binding(0) `x` read_write
//   @binding(1) `w` read
//   @binding(2) `b` read
//   @binding(3) `y` read_write

// ---- shader 0 ----
@group(0) @binding(0) var<storage, read_write> b0: array<f32>;
@group(0) @binding(1) var<storage, read> b1: array<f32>;
@group(0) @binding(2) var<storage, read> b2: array<f32>;
@group(0) @binding(3) var<storage, read_write> b3: array<f32>;

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let i = (wid.y * 2u + wid.x) * 64u + li;
    if (i >= 128u) {
        return;
    }
    let o0 = (i / 8u) % 8u;
    let o1 = (i / 1u) % 8u;
    let oc = (i / 64u) % 2u;
    let img = i / 128u;
    let g = oc / 2u;
    let oo = oc % 2u;
    var acc = 0.0;
    let q0 = o0 + 0u;
    let p0 = q0 / 2u;
    let k0 = q0 % 2u;
    let q1 = o1 + 0u;
    let p1 = q1 / 2u;
    let k1 = q1 % 2u;
    if (p0 < 4u && p1 < 4u) {
    for (var ci = 0u; ci < 4u; ci++) {
    acc += b0[(((img * 4u + g * 4u + ci) * 4u + p0) * 4u + p1)] * b1[((((g * 4u + ci) * 2u + oo) * 2u + k0) * 2u + k1)];
    }
    }
    let idx = i;
    acc += b2[oc];
    b3[i] = acc;
}

