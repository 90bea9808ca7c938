//! wdnn's reference backend: plain, portable kernels that the fast backends are checked against.
//!
//! - [`eval`] evaluates one [`Op`](wdnn_descriptor_spec::Op) on host tensors. The transpiler also uses it for
//!   constant folding, so it accepts every dtype combination the ONNX operator allows where that is cheap to support.
//! - [`KernelTable`] says which kernel runs each op kind: [`KernelTable::reference`] has the reference kernel for
//!   every kind, and a faster backend [`plug`](KernelTable::plug)s its own over it (tract's `generic()`/`plug()`).
//! - [`Executor`] runs a whole graph descriptor over one static arena with a table, handing kernels borrowed views,
//!   and reports which kernel ran each node. [`FallbackBackend`] is the reference table on it.
//!
//! Clarity comes first, but every kernel is linear in its work: convolutions and matrix products go through one
//! cache-friendly matrix kernel, so a VGG-sized model runs in seconds.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod backend;
mod error;
mod eval;
mod executor;
mod kernels;
mod reference;
mod table;

pub use backend::FallbackBackend;
pub use error::EvalError;
pub use eval::eval;
pub use executor::Executor;
pub use kernels::resize::resize_taps;
pub use reference::{REFERENCE, Reference};
pub use table::{KernelTable, NodeInfo, NodeKernel, OpKernel};
