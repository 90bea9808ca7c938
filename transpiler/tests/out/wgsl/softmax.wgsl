// kernel `p` (Softmax): shader 0 `main`, workgroup_size [64, 1, 1], dispatch [2, 1, 1]
//   @binding(0) `x` read_write
//   @binding(1) `p` read_write
// kernel `l` (LogSoftmax): shader 1 `main`, workgroup_size [64, 1, 1], dispatch [7, 1, 1]
//   @binding(0) `t` read_write
//   @binding(1) `l` read_write

// ---- shader 0 ----
fn wd_bits(b: u32) -> f32 {
    return bitcast<f32>(b);
}
@group(0) @binding(0) var<storage, read_write> b0: array<f32>;
@group(0) @binding(1) var<storage, read_write> b1: array<f32>;

var<workgroup> red: array<f32, 64>;

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let r = wid.y * 2u + wid.x;
    if (r >= 2u) {
        return;
    }
    let base = (r / 1u) * 10u + r % 1u;
    var m = wd_bits(0xff800000u);
    for (var j = li; j < 10u; j += 64u) {
        m = max(m, b0[base + j * 1u]);
    }
    red[li] = m;
    workgroupBarrier();
    for (var st = 32u; st > 0u; st = st >> 1u) {
        if (li < st) {
            let a = red[li];
            let b = red[li + st];
            red[li] = max(a, b);
        }
        workgroupBarrier();
    }
    let mx = red[0];
    workgroupBarrier();
    var t = 0.0;
    for (var j = li; j < 10u; j += 64u) {
        t += exp(b0[base + j * 1u] - mx);
    }
    red[li] = t;
    workgroupBarrier();
    for (var st = 32u; st > 0u; st = st >> 1u) {
        if (li < st) {
            let a = red[li];
            let b = red[li + st];
            red[li] = a + b;
        }
        workgroupBarrier();
    }
    let sum = red[0];
    workgroupBarrier();
    for (var j = li; j < 10u; j += 64u) {
        let at = base + j * 1u;
        let v = b0[at];
        b1[at] = exp(v - mx) / sum;
    }
}


// ---- shader 1 ----
fn wd_bits(b: u32) -> f32 {
    return bitcast<f32>(b);
}
@group(0) @binding(0) var<storage, read_write> b0: array<f32>;
@group(0) @binding(1) var<storage, read_write> b1: array<f32>;

var<workgroup> red: array<f32, 64>;

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let r = wid.y * 7u + wid.x;
    if (r >= 7u) {
        return;
    }
    let base = (r / 7u) * 21u + r % 7u;
    var m = wd_bits(0xff800000u);
    for (var j = li; j < 3u; j += 64u) {
        m = max(m, b0[base + j * 7u]);
    }
    red[li] = m;
    workgroupBarrier();
    for (var st = 32u; st > 0u; st = st >> 1u) {
        if (li < st) {
            let a = red[li];
            let b = red[li + st];
            red[li] = max(a, b);
        }
        workgroupBarrier();
    }
    let mx = red[0];
    workgroupBarrier();
    var t = 0.0;
    for (var j = li; j < 3u; j += 64u) {
        t += exp(b0[base + j * 7u] - mx);
    }
    red[li] = t;
    workgroupBarrier();
    for (var st = 32u; st > 0u; st = st >> 1u) {
        if (li < st) {
            let a = red[li];
            let b = red[li + st];
            red[li] = a + b;
        }
        workgroupBarrier();
    }
    let sum = red[0];
    workgroupBarrier();
    for (var j = li; j < 3u; j += 64u) {
        let at = base + j * 7u;
        let v = b0[at];
        b1[at] = v - mx - log(sum);
    }
}

