//! wdnn's fast CPU kernels, written for WebAssembly SIMD128 and compiled from the same source natively.
//!
//! This crate is the kernel half of the `wasm` backend: f32 kernels over NHWC activations whose weights come
//! pre-packed in the layouts of [`wdnn_descriptor_spec::packing`] (the transpiler packs them at convert time). The
//! backend plugs them over the reference kernels of `runner-fallback` for the ops and shapes listed here and lets
//! the reference run everything else.
//!
//! | module | kernels |
//! |---|---|
//! | [`gemm`] | the 4 × 8 register-blocked micro-kernel; `MatMul`/`Gemm` with a constant right operand |
//! | [`conv`] | `Conv` 2-D: 1×1 as GEMM, implicit GEMM (indirection table; per-tile im2col for few channels), depthwise, Winograd F(2×2,3×3)/F(4×4,3×3) |
//! | [`pool`] | `MaxPool`, `AveragePool` (2-D), global average pooling |
//! | [`elementwise`] | `Unary`, `Binary` (broadcasting), fused `Elementwise` chains |
//! | [`softmax`] | `Softmax`, `LogSoftmax` along any axis |
//! | [`reduce`] | every `Reduce*` along one (merged) axis |
//! | [`epilogue`] | fused epilogues on registers: the vectorized [`UnaryFn`](wdnn_descriptor_spec::UnaryFn)s and `Add`/`Sub`/`Mul`/`Div`/`Max`/`Min`/`PRelu` with scalar, per-channel or full operands |
//!
//! **One source, three instruction sets.** Kernels are written against [`simd::F32x4`]: `v128` on wasm32 with
//! `+simd128` (the shipped build; add `+relaxed-simd` for the second `.wasm`, where multiply-adds are
//! `f32x4.relaxed_madd`), SSE2 on x86_64 (so `cargo test` is fast), plain arrays elsewhere.
//!
//! **Work partitioning.** Every kernel counts its work items (`tiles()`) and computes any sub-range of them; kernels
//! hold no global state and take caller-owned scratch, so [`parallel`] splits one kernel across threads (the Web
//! Worker pool of the threaded wasm32 module), with results bit-identical to one thread's.
//!
//! **Errors.** Shapes and buffer lengths are checked at each entry point and reported as errors naming the kernel
//! and the buffer; nothing a descriptor supplies can make a kernel read or write out of bounds.
//!
//! Tests run natively and, unchanged, on the wasm32 build in Node (see `README.md` beside this crate); the
//! benchmark is `bench/kernels.mjs`.
//! **The backend.** [`backend::WasmBackend`] implements runner-core's `Backend` over these kernels, with the
//! reference kernels of runner-fallback under them for every op, dtype or shape they do not cover.
#![deny(missing_docs)]
// The threaded module's pool sleeps in `memory.atomic.wait32`, whose intrinsic is not stable yet; that build already
// compiles std with `-Z build-std` under RUSTC_BOOTSTRAP, every other build is stable Rust.
#![cfg_attr(all(target_arch = "wasm32", target_feature = "atomics"), feature(stdarch_wasm_atomic_wait))]

pub mod backend;
pub mod conv;
pub mod elementwise;
pub mod epilogue;
pub mod gemm;
pub mod math;
pub mod parallel;
pub mod pool;
pub mod reduce;
pub mod simd;
pub mod softmax;

#[cfg(test)]
mod testing;
