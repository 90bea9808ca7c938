// kernel `t` (Transpose): shader 0 `main`, workgroup_size [256, 1, 1], dispatch [1, 1, 1]
//   @binding(0) `x` read_write
//   @binding(1) `t` read_write
// kernel `s` (Slice): shader 1 `main`, workgroup_size [256, 1, 1], dispatch [1, 1, 1]
//   @binding(0) `t` read_write
//   @binding(1) `s` read_write
// kernel `p` (Pad): shader 2 `main`, workgroup_size [256, 1, 1], dispatch [1, 1, 1]
//   @binding(0) `m` read_write
//   @binding(1) `p` read_write
// kernel `e` (Expand): shader 3 `main`, workgroup_size [256, 1, 1], dispatch [1, 1, 1]
//   @binding(0) `r` read_write
//   @binding(1) `e` read_write
// kernel `tl` (Tile): shader 4 `main`, workgroup_size [256, 1, 1], dispatch [1, 1, 1]
//   @binding(0) `m` read_write
//   @binding(1) `tl` read_write
// kernel `g` (Gather): shader 5 `main`, workgroup_size [256, 1, 1], dispatch [1, 1, 1]
//   @binding(0) `m` read_write
//   @binding(1) `idx` read
//   @binding(2) `g` read_write

// ---- shader 0 ----
@group(0) @binding(0) var<storage, read_write> b0: array<u32>;
@group(0) @binding(1) var<storage, read_write> b1: array<u32>;

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let i = (wid.y * 1u + wid.x) * 256u + li;
    if (i >= 24u) {
        return;
    }
    let c0 = (i / 6u);
    let c1 = (i / 3u) % 2u;
    let c2 = i % 3u;
    let src = 0u + c0 * 1u + c1 * 12u + c2 * 4u;
    b1[i] = b0[src];
}


// ---- shader 1 ----
@group(0) @binding(0) var<storage, read_write> b0: array<u32>;
@group(0) @binding(1) var<storage, read_write> b1: array<u32>;

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let i = (wid.y * 1u + wid.x) * 256u + li;
    if (i >= 16u) {
        return;
    }
    let c0 = (i / 4u);
    let c1 = (i / 2u) % 2u;
    let c2 = i % 2u;
    let src = u32(0i + i32(c0) * 6i + i32(c1) * 3i + (2i + i32(c2) * -2i) * 1i);
    b1[i] = b0[src];
}


// ---- shader 2 ----
@group(0) @binding(0) var<storage, read_write> b0: array<u32>;
@group(0) @binding(1) var<storage, read_write> b1: array<u32>;

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let i = (wid.y * 1u + wid.x) * 256u + li;
    if (i >= 20u) {
        return;
    }
    let c0 = (i / 5u);
    let c1 = i % 5u;
    var p0 = i32(c0) - 1i;
    var p1 = i32(c1) - 0i;
    if (!(p0 >= 0i && p0 < 2i && p1 >= 0i && p1 < 3i)) {
        b1[i] = 1056964608u;
        return;
    }
    let src = 0u + u32(p0) * 3u + u32(p1) * 1u;
    b1[i] = b0[src];
}


// ---- shader 3 ----
@group(0) @binding(0) var<storage, read_write> b0: array<u32>;
@group(0) @binding(1) var<storage, read_write> b1: array<u32>;

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let i = (wid.y * 1u + wid.x) * 256u + li;
    if (i >= 12u) {
        return;
    }
    let src = (i % 4u);
    b1[i] = b0[src];
}


// ---- shader 4 ----
@group(0) @binding(0) var<storage, read_write> b0: array<u32>;
@group(0) @binding(1) var<storage, read_write> b1: array<u32>;

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let i = (wid.y * 1u + wid.x) * 256u + li;
    if (i >= 24u) {
        return;
    }
    let c0 = (i / 6u);
    let c1 = i % 6u;
    let src = 0u + (c0 % 2u) * 3u + (c1 % 3u) * 1u;
    b1[i] = b0[src];
}


// ---- shader 5 ----
@group(0) @binding(0) var<storage, read_write> b0: array<u32>;
@group(0) @binding(1) var<storage, read> b1: array<vec2<u32>>;
@group(0) @binding(2) var<storage, read_write> b2: array<u32>;

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let i = (wid.y * 1u + wid.x) * 256u + li;
    if (i >= 4u) {
        return;
    }
    let c0 = (i / 2u);
    let c1 = i % 2u;
    let j = 0u + c1 * 1u;
    var g = i32(b1[j].x);
    g = select(g, g + 3i, g < 0i);
    let src = 0u + c0 * 3u + u32(g) * 1u;
    b2[i] = b0[src];
}

