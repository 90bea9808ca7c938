//! The runner side of wdnn, shared by every backend.
//!
//! - [`Bundle`] reads a converted bundle and verifies every file (size, SHA-256, container checks, chunk checksums).
//! - [`Backend`] is what a backend implements: an availability probe and a loader that turns a graph descriptor and
//!   its weights into an [`Executable`].
//! - [`load`] tries backends in order, falls through on failure, and reports why each earlier one was skipped;
//!   [`load_async`] does the same without blocking (a browser).
//! - [`Registry`] is backend selection by name: the backends an application compiled in, the default order
//!   ([`DEFAULT_ORDER`]: webgpu → wasm → fallback), the [`BACKEND_ENV`] override, and reasons that tell "not compiled
//!   in" from "unavailable here" from "failed to load" ([`SkipKind`]).
//! - [`Session`] runs a loaded model on named inputs, checking names, dtypes and shapes with the rules in
//!   [`check_inputs`], which every executable a caller may reach directly applies too.
//!
//! Architecture invariant: nothing here knows about ONNX, tract or the transpiler; a runner depends on
//! `wdnn-descriptor-spec` and this crate only.

mod backend;
mod bundle;
mod error;
mod inputs;
mod select;
mod session;
mod tensor;

pub use backend::{Backend, Executable, KernelChoice, LocalFuture, Skip, SkipKind};
pub use bundle::{Bundle, BundleSource, DirSource, MemorySource, Weights};
pub use error::{Result, RunnerError};
pub use inputs::{check_inputs, input_signature, order_inputs};
pub use select::{BACKEND_ENV, DEFAULT_ORDER, Registry};
pub use session::{Session, load, load_async};
pub use tensor::{Element, Tensor, TensorView, TensorViewMut};
pub use wdnn_descriptor_spec as spec;
