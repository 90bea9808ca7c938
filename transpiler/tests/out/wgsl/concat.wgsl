// kernel `y` (Concat): shader 0 `main`, workgroup_size [256, 1, 1], dispatch [1, 1, 1]
//   @binding(0) `a` read_write
//   @binding(1) `b` read_write
//   @binding(2) `y` read_write

// ---- shader 0 ----
@group(0) @binding(0) var<storage, read_write> b0: array<u32>;
@group(0) @binding(1) var<storage, read_write> b1: array<u32>;
@group(0) @binding(2) var<storage, read_write> b2: array<u32>;

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let i = (wid.y * 1u + wid.x) * 256u + li;
    if (i >= 64u) {
        return;
    }
    let outer = i / 32u;
    let ax = (i / 4u) % 8u;
    let r = i % 4u;
    if (ax < 3u) {
        b2[i] = b0[(outer * 3u + ax - 0u) * 4u + r];
        return;
    }
    if (ax < 8u) {
        b2[i] = b1[(outer * 5u + ax - 3u) * 4u + r];
        return;
    }
}

