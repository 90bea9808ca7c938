// kernel `y` (MatMul): shader 0 `main`, workgroup_size [256, 1, 1], dispatch [32, 1, 1]
//   @binding(0) `x` read_write
//   @binding(1) `w/webgpu_layout` read
//   @binding(2) `y` read_write

// ---- shader 0 ----
fn wd_tanh(x: f32) -> f32 {
    return tanh(clamp(x, -15.0, 15.0));
}
@group(0) @binding(0) var<storage, read_write> b0: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> b1: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> b2: array<f32>;

var<workgroup> red: array<f32, 256>;

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let n = wid.y * 32u + wid.x;
    if (n >= 32u) {
        return;
    }
    var s0 = 0.0;
    for (var k = li; k < 16u; k += 256u) {
        let w = b1[n * 16u + k];
        s0 += dot(b0[0u + k], w);
    }
    red[0u + li] = s0;
    workgroupBarrier();
    for (var st = 128u; st > 0u; st = st >> 1u) {
        if (li < st) {
            red[0u + li] += red[0u + li + st];
        }
        workgroupBarrier();
    }
    if (li == 0u) {
    {
        let idx = 0u * 32u + n;
        var acc = red[0u];
        acc = wd_tanh(acc);
        b2[idx] = acc;
    }
    }
}

