// kernel `y` (Conv): shader 0 `main`, workgroup_size [8, 8, 1], dispatch [1, 1, 8]
//   @binding(0) `x` read_write
//   @binding(1) `w` read
//   @binding(2) `y` read_write

// ---- shader 0 ----
@group(0) @binding(0) var<storage, read_write> b0: array<f32>;
@group(0) @binding(1) var<storage, read> b1: array<f32>;
@group(0) @binding(2) var<storage, read_write> b2: array<f32>;

var<workgroup> tile_in: array<f32, 100>;

@compute @workgroup_size(8, 8, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let img = wid.z / 8u;
    let oc = wid.z % 8u;
    let ic = oc / 1u;
    let ox0 = wid.x * 8u;
    let oy0 = wid.y * 8u;
    let ix0 = i32(ox0 * 1u) - 1i;
    let iy0 = i32(oy0 * 1u) - 1i;
    let base = (img * 8u + ic) * 64u;
    for (var s = li; s < 100u; s += 64u) {
        let iy = iy0 + i32(s / 10u);
        let ix = ix0 + i32(s % 10u);
        var v = 0.0;
        if (iy >= 0i && iy < 8i && ix >= 0i && ix < 8i) {
            v = b0[base + u32(iy) * 8u + u32(ix)];
        }
        tile_in[s] = v;
    }
    workgroupBarrier();
    let ox = ox0 + lid.x;
    let oy = oy0 + lid.y;
    if (ox >= 8u || oy >= 8u) {
        return;
    }
    let py = lid.y * 1u;
    let px = lid.x * 1u;
    let wb = oc * 9u;
    var acc = 0.0;
    acc += tile_in[(py + 0u) * 10u + px + 0u] * b1[wb + 0u];
    acc += tile_in[(py + 0u) * 10u + px + 1u] * b1[wb + 1u];
    acc += tile_in[(py + 0u) * 10u + px + 2u] * b1[wb + 2u];
    acc += tile_in[(py + 1u) * 10u + px + 0u] * b1[wb + 3u];
    acc += tile_in[(py + 1u) * 10u + px + 1u] * b1[wb + 4u];
    acc += tile_in[(py + 1u) * 10u + px + 2u] * b1[wb + 5u];
    acc += tile_in[(py + 2u) * 10u + px + 0u] * b1[wb + 6u];
    acc += tile_in[(py + 2u) * 10u + px + 1u] * b1[wb + 7u];
    acc += tile_in[(py + 2u) * 10u + px + 2u] * b1[wb + 8u];
    let idx = (img * 8u + oc) * 64u + oy * 8u + ox;
    {
        acc = min(max(acc, (0.0f)), (6.0f));
        b2[idx] = acc;
    }
}

