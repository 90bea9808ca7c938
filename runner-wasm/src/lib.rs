//! wdnn's fast CPU kernels for WebAssembly SIMD128 (work in progress).
#![deny(missing_docs)]

pub mod conv;
pub mod elementwise;
pub mod epilogue;
pub mod gemm;
pub mod math;
pub mod pool;
pub mod reduce;
pub mod simd;
pub mod softmax;

#[cfg(test)]
mod testing;
