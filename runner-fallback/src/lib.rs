//! wdnn's reference backend: plain, portable kernels that the fast backends are checked against.
//!
//! - [`eval`] evaluates one [`Op`](wdnn_descriptor_spec::Op) on host tensors. The transpiler also uses it for
//!   constant folding, so it accepts every dtype combination the ONNX operator allows where that is cheap to support.
//! - [`FallbackBackend`] runs a whole graph descriptor over a byte arena, kernel by kernel, through [`eval`].
//!
//! Clarity comes first, but every kernel is linear in its work: convolutions and matrix products go through one
//! cache-friendly matrix kernel, so a VGG-sized model runs in seconds.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod backend;
mod error;
mod eval;
mod kernels;

pub use backend::FallbackBackend;
pub use error::EvalError;
pub use eval::eval;
pub use kernels::resize::resize_taps;
