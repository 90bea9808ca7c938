// kernel `s` (Unary): shader 0 `main`, workgroup_size [256, 1, 1], dispatch [1, 1, 1]
//   @binding(0) `x` read_write
//   @binding(1) `s` read_write
// kernel `sum` (Binary): shader 1 `main`, workgroup_size [256, 1, 1], dispatch [1, 1, 1]
//   @binding(0) `s` read_write
//   @binding(1) `row` read_write
//   @binding(2) `sum` read_write
// kernel `chain` (Elementwise): shader 2 `main`, workgroup_size [256, 1, 1], dispatch [1, 1, 1]
//   @binding(0) `sum` read_write
//   @binding(1) `scale` read
//   @binding(2) `chain` read_write
// kernel `int` (Cast): shader 3 `main`, workgroup_size [256, 1, 1], dispatch [1, 1, 1]
//   @binding(0) `chain` read_write
//   @binding(1) `int` read_write

// ---- shader 0 ----
@group(0) @binding(0) var<storage, read_write> b0: array<f32>;
@group(0) @binding(1) var<storage, read_write> b1: array<f32>;

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let i = (wid.y * 1u + wid.x) * 256u + li;
    if (i >= 6u) {
        return;
    }
    var acc: f32 = b0[i];
        acc = (1.0 / (1.0 + exp(-acc)));
    b1[i] = acc;
}


// ---- shader 1 ----
@group(0) @binding(0) var<storage, read_write> b0: array<f32>;
@group(0) @binding(1) var<storage, read_write> b1: array<f32>;
@group(0) @binding(2) var<storage, read_write> b2: array<f32>;

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let i = (wid.y * 1u + wid.x) * 256u + li;
    if (i >= 6u) {
        return;
    }
    var acc: f32 = b0[i];
        let s0 = b1[(i % 3u)];
        acc = (acc + s0);
    b2[i] = acc;
}


// ---- shader 2 ----
@group(0) @binding(0) var<storage, read_write> b0: array<f32>;
@group(0) @binding(1) var<storage, read> b1: array<f32>;
@group(0) @binding(2) var<storage, read_write> b2: array<f32>;

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let i = (wid.y * 1u + wid.x) * 256u + li;
    if (i >= 6u) {
        return;
    }
    var acc: f32 = b0[i];
        let s0 = b1[(i % 3u)];
        acc = (acc * s0);
        acc = min(max(acc, (0.0f)), (6.0f));
    b2[i] = acc;
}


// ---- shader 3 ----
@group(0) @binding(0) var<storage, read_write> b0: array<u32>;
@group(0) @binding(1) var<storage, read_write> b1: array<u32>;

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let i = (wid.y * 1u + wid.x) * 256u + li;
    if (i >= 6u) {
        return;
    }
    let w = b0[i];
    let v = bitcast<f32>(w);
    b1[i] = bitcast<u32>(i32(v));
}

