//! The kernel benchmark as a wasm module: each export builds its problem, warms up, then times the kernel (best of
//! several rounds) with the host's clock, imported as `bench.now` (milliseconds). `bench/kernels.mjs` builds this
//! example for wasm32 and drives it in Node; see that script for the command.
//!
//! Every export returns the best time of one run in milliseconds (or a negative value when the problem is invalid).

use wdnn_runner_wasm::gemm::{Broadcast, Gemm, MicroKernel, NR};
use wdnn_runner_wasm::simd::F32x4;

// Pure benchmark loops with loop-invariant arguments would otherwise be hoisted out of the timing loop.
use std::hint::black_box;

#[cfg(target_arch = "wasm32")]
mod clock {
    #[link(wasm_import_module = "bench")]
    unsafe extern "C" {
        fn now() -> f64;
    }

    pub fn ms() -> f64 {
        // SAFETY: a host function without preconditions.
        unsafe { now() }
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod clock {
    pub fn ms() -> f64 {
        use std::sync::OnceLock;
        static START: OnceLock<std::time::Instant> = OnceLock::new();
        START.get_or_init(std::time::Instant::now).elapsed().as_secs_f64() * 1e3
    }
}

/// Deterministic values in [-1, 1).
fn values(n: usize, seed: u32) -> Vec<f32> {
    let mut s = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            (s >> 8) as f32 / (1u32 << 23) as f32 - 1.0
        })
        .collect()
}

/// Best milliseconds per call of `f` over `rounds` rounds of at least `round_ms` each, after one warm-up call.
fn time(rounds: u32, round_ms: f64, mut f: impl FnMut()) -> f64 {
    f();
    let mut best = f64::INFINITY;
    for _ in 0..rounds {
        let start = clock::ms();
        let mut calls = 0u32;
        loop {
            f();
            calls += 1;
            let elapsed = clock::ms() - start;
            if elapsed >= round_ms {
                best = best.min(elapsed / calls as f64);
                break;
            }
        }
    }
    best
}

/// `CHAINS` independent `acc = acc · b + a` chains, `iters` steps each: `2 · 4 · CHAINS · iters` flops.
#[inline(never)]
fn peak_loop<const CHAINS: usize>(iters: u32) -> f32 {
    let (a, b) = (F32x4::splat(1e-3), F32x4::splat(0.999_9));
    let mut acc = [F32x4::splat(0.5); CHAINS];
    for _ in 0..iters {
        for v in acc.iter_mut() {
            *v = v.mul_add(b, a);
        }
    }
    acc.iter().fold(0.0, |s, v| s + v.reduce_sum())
}

/// Time of `peak_loop` with `chains` chains (8, 10, 12, 14) and `iters` steps.
#[unsafe(no_mangle)]
pub extern "C" fn bench_peak(chains: u32, iters: u32) -> f64 {
    let mut sink = 0.0;
    let t = time(5, 50.0, || {
        sink += match chains {
            8 => peak_loop::<8>(black_box(iters)),
            10 => peak_loop::<10>(black_box(iters)),
            12 => peak_loop::<12>(black_box(iters)),
            14 => peak_loop::<14>(black_box(iters)),
            _ => f32::NAN,
        }
    });
    if sink.is_nan() { -1.0 } else { t }
}

/// Time of an `m × k` by `k × n` GEMM (bias, no epilogue) on the micro-kernel with `mr` rows, broadcasting A by
/// `load32_splat` (`shuffle` = 0) or by lane shuffles (1).
#[unsafe(no_mangle)]
pub extern "C" fn bench_gemm(m: u32, n: u32, k: u32, mr: u32, shuffle: u32) -> f64 {
    let (m, n, k) = (m as usize, n as usize, k as usize);
    let broadcast = if shuffle == 1 { Broadcast::Shuffle } else { Broadcast::LoadSplat };
    let Some(kernel) = MicroKernel::new(mr as usize, broadcast) else { return -1.0 };
    let gemm = Gemm { kernel, ..Gemm::new(m, n, k) };
    let a = values(m * k, 1);
    let b = values(k * n, 2);
    let bias = values(n, 3);
    let Ok(packed) = wdnn_descriptor_spec::packing::gemm_panels(
        &b,
        k,
        n,
        wdnn_descriptor_spec::packing::MatrixOrder::KN,
        Some(&bias),
        NR,
    ) else {
        return -1.0;
    };
    let mut c = vec![0.0; m * n];
    let ep = wdnn_runner_wasm::epilogue::Epilogue::NONE;
    let tiles = gemm.tiles();
    time(5, 30.0, || {
        if gemm.run(&a, k, &packed, &mut c, n, &ep, 0..tiles).is_err() {
            c[0] = f32::NAN;
        }
    })
}

/// Time of a convolution of a `h × w × c` image (batch 1) to `o` channels, with a `kh × kw` kernel, equal strides
/// and pads on every side, `groups` groups and a fused ReLU. `algorithm`: 0 the chosen one, 1 GEMM, 2 implicit
/// GEMM, 3 depthwise, 4 Winograd F(2×2, 3×3), 5 Winograd F(4×4, 3×3), 6 im2col. Returns −1 where the algorithm does not
/// apply. Packing and planning are not timed.
#[allow(clippy::too_many_arguments)]
#[unsafe(no_mangle)]
pub extern "C" fn bench_conv(
    h: u32,
    w: u32,
    c: u32,
    o: u32,
    kh: u32,
    kw: u32,
    stride: u32,
    pad: u32,
    groups: u32,
    algorithm: u32,
    mr: u32,
) -> f64 {
    use wdnn_runner_wasm::conv::{Algorithm, Conv2d, ConvGeometry, WinogradTile};
    let [h, w, c, o, kh, kw, stride, pad, groups] = [h, w, c, o, kh, kw, stride, pad, groups].map(|v| v as usize);
    let geo = ConvGeometry {
        batch: 1,
        in_h: h,
        in_w: w,
        in_c: c,
        out_c: o,
        kernel: [kh, kw],
        stride: [stride; 2],
        dilation: [1, 1],
        pads: [pad; 4],
        groups,
    };
    let algorithm = match algorithm {
        0 => Algorithm::choose(&geo),
        1 => Algorithm::Gemm,
        2 => Algorithm::Indirect,
        3 => Algorithm::Depthwise,
        4 => Algorithm::Winograd(WinogradTile::F2),
        5 => Algorithm::Winograd(WinogradTile::F4),
        6 => Algorithm::Im2col,
        _ => return -1.0,
    };
    let Ok(conv) = Conv2d::with_algorithm(geo, algorithm) else { return -1.0 };
    let Some(kernel) = MicroKernel::new(mr as usize, Broadcast::LoadSplat) else { return -1.0 };
    let conv = conv.with_micro_kernel(kernel);
    let (oh, ow) = conv.output_hw();
    let x = values(h * w * c, 1);
    let Ok(packed) = conv.pack(&values(o * c / groups * kh * kw, 2), Some(&values(o, 3))) else { return -1.0 };
    let mut y = vec![0.0; oh * ow * o];
    let mut scratch = vec![0.0; conv.scratch_len()];
    let relu = [wdnn_runner_wasm::epilogue::Step::Unary(
        wdnn_runner_wasm::epilogue::VectorUnary::new(wdnn_descriptor_spec::UnaryFn::Relu).expect("ReLU is vectorized"),
    )];
    let Ok(ep) = wdnn_runner_wasm::epilogue::Epilogue::new(&relu, oh * ow, o) else { return -1.0 };
    let tiles = conv.tiles();
    time(5, 30.0, || {
        if conv.run(&x, &packed, &mut y, &mut scratch, &ep, 0..tiles).is_err() {
            y[0] = f32::NAN;
        }
    })
}

/// Time of a 3×3, stride-2, pad-1 max pool of a `h × w × c` image (ResNet's stem).
#[unsafe(no_mangle)]
pub extern "C" fn bench_max_pool(h: u32, w: u32, c: u32) -> f64 {
    use wdnn_runner_wasm::pool::{Pool2d, PoolKind};
    let (h, w, c) = (h as usize, w as usize, c as usize);
    let out_hw = [(h - 1) / 2 + 1, (w - 1) / 2 + 1];
    let pool = Pool2d {
        kind: PoolKind::Max,
        batch: 1,
        in_hw: [h, w],
        channels: c,
        out_hw,
        kernel: [3, 3],
        stride: [2, 2],
        dilation: [1, 1],
        pads: [1; 4],
    };
    let x = values(h * w * c, 1);
    let mut y = vec![0.0; out_hw[0] * out_hw[1] * c];
    time(5, 30.0, || {
        if pool.run(&x, &mut y, 0..pool.tiles()).is_err() {
            y[0] = f32::NAN;
        }
    })
}

/// Time of `y = a + b` over `n` values (a residual add), and of ReLU6 over `n` values (`op` = 1), and of sigmoid
/// (`op` = 2).
#[unsafe(no_mangle)]
pub extern "C" fn bench_elementwise(n: u32, op: u32) -> f64 {
    use wdnn_descriptor_spec::{BinaryFn, UnaryFn};
    use wdnn_runner_wasm::elementwise::{Broadcast as Bcast, unary};
    use wdnn_runner_wasm::epilogue::{VectorBinary, VectorUnary};
    let n = n as usize;
    let (a, b) = (values(n, 1), values(n, 2));
    let mut y = vec![0.0; n];
    match op {
        0 => {
            let (Ok(plan), Some(add)) = (Bcast::new(&[n], &[n], &[n]), VectorBinary::new(BinaryFn::Add)) else {
                return -1.0;
            };
            time(5, 30.0, || {
                if plan.run(add, &a, &b, &mut y, 0..plan.tiles()).is_err() {
                    y[0] = f32::NAN;
                }
            })
        }
        1 | 2 => {
            let fun = if op == 1 { UnaryFn::Clip { min: 0.0, max: 6.0 } } else { UnaryFn::Sigmoid };
            let Some(f) = VectorUnary::new(fun) else { return -1.0 };
            time(5, 30.0, || {
                if unary(f, &a, &mut y, 0..n).is_err() {
                    y[0] = f32::NAN;
                }
            })
        }
        _ => -1.0,
    }
}

/// Time of a softmax over `n` classes, and (`mean` = 1) of a mean over the `pixels` of an NHWC `pixels × c`
/// tensor (global average pooling as a reduction).
#[unsafe(no_mangle)]
pub extern "C" fn bench_softmax_reduce(n: u32, pixels: u32, c: u32) -> f64 {
    use wdnn_runner_wasm::reduce::Reduce;
    use wdnn_runner_wasm::softmax::Softmax;
    let (n, pixels, c) = (n as usize, pixels as usize, c as usize);
    if n > 0 {
        let s = Softmax { outer: 1, axis: n, inner: 1, log: false };
        let x = values(n, 1);
        let mut y = vec![0.0; n];
        time(5, 30.0, || {
            if s.run(&x, &mut y, 0..1).is_err() {
                y[0] = f32::NAN;
            }
        })
    } else {
        let r = Reduce { fun: wdnn_descriptor_spec::ReduceFn::Mean, outer: 1, axis: pixels, inner: c };
        let x = values(pixels * c, 1);
        let mut y = vec![0.0; c];
        time(5, 30.0, || {
            if r.run(&x, &mut y, 0..1).is_err() {
                y[0] = f32::NAN;
            }
        })
    }
}

/// `CHAINS` accumulators fed by independent products of a loaded value and a register (the GEMM inner loop
/// without its loads of B): the add latency is the only chain, as in the micro-kernel.
#[inline(never)]
fn peak_products<const CHAINS: usize>(iters: u32, x: &[f32; 64]) -> f32 {
    let b = F32x4::splat(0.999_9);
    let mut acc = [F32x4::zero(); CHAINS];
    for i in 0..iters as usize {
        let base = (i * 4) & 31;
        for (j, v) in acc.iter_mut().enumerate() {
            let a = F32x4::splat(x[base + (j & 7)]);
            *v = a.mul_add(b, *v);
        }
    }
    acc.iter().fold(0.0, |s, v| s + v.reduce_sum())
}

/// Time of `peak_products` with `chains` (8 or 12) accumulators.
#[unsafe(no_mangle)]
pub extern "C" fn bench_peak_products(chains: u32, iters: u32) -> f64 {
    let x: [f32; 64] = core::array::from_fn(|i| i as f32 * 1e-3);
    let mut sink = 0.0;
    let t = time(5, 50.0, || {
        sink += match chains {
            8 => peak_products::<8>(black_box(iters), black_box(&x)),
            12 => peak_products::<12>(black_box(iters), black_box(&x)),
            _ => f32::NAN,
        }
    });
    if sink.is_nan() { -1.0 } else { t }
}

/// The instruction set the kernels were built for, as a NUL-terminated string.
#[unsafe(no_mangle)]
pub extern "C" fn instruction_set() -> *const u8 {
    static NAME: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    NAME.get_or_init(|| format!("{}\0", wdnn_runner_wasm::simd::INSTRUCTION_SET)).as_ptr()
}
