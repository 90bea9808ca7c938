//! The kernel benchmark as a wasm module: each export builds its problem, warms up, then times the kernel (best of
//! several rounds) with the host's clock, imported as `bench.now` (milliseconds). `bench/kernels.mjs` builds this
//! example for wasm32 and drives it in Node; see that script for the command.
//!
//! Every export returns the best time of one run in milliseconds (or a negative value when the problem is invalid).

use wdnn_runner_wasm::gemm::{Broadcast, Gemm, MicroKernel, NR};
use wdnn_runner_wasm::simd::F32x4;

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
            8 => peak_loop::<8>(iters),
            10 => peak_loop::<10>(iters),
            12 => peak_loop::<12>(iters),
            14 => peak_loop::<14>(iters),
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
    if !(1..=6).contains(&mr) {
        return -1.0;
    }
    let broadcast = if shuffle == 1 { Broadcast::Shuffle } else { Broadcast::LoadSplat };
    let gemm = Gemm { kernel: MicroKernel { mr: mr as usize, broadcast }, ..Gemm::new(m, n, k) };
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
