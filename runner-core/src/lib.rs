//! The runner side of wdnn, shared by every backend.
//!
//! - [`Bundle`] reads a converted bundle and verifies every file (size, SHA-256, container checks, chunk checksums).
//! - [`Backend`] is what a backend implements: an availability probe and a loader that turns a graph descriptor and
//!   its weights into an [`Executable`].
//! - [`load`] tries backends in order, falls through on failure, and reports why each earlier one was skipped;
//!   [`load_async`] does the same without blocking (a browser).
//! - [`Registry`] is backend selection by name: the backends an application compiled in, the default order
//!   ([`DEFAULT_ORDER`]: webgpu → wasm → fallback, with a registered variant such as webgpu-f16 before its base:
//!   [`VARIANTS`]), the [`BACKEND_ENV`] override, and reasons that tell "not compiled in" from "unavailable here"
//!   from "failed to load" ([`SkipKind`]).
//! - [`Session`] runs a loaded model on named inputs, checking names, dtypes and shapes with the rules in
//!   [`check_inputs`], which every executable a caller may reach directly applies too.
//!
//! Threads (native targets): a [`Bundle`] is `Send + Sync` (threads may share one to load sessions from it); a
//! [`Session`] is `Send` but not `Sync` (a run takes `&mut`): give each thread its own. In a browser nothing is
//! `Send`; use one session per worker.
//!
//! Architecture invariant: nothing here knows about ONNX, tract or the transpiler; a runner depends on
//! `wdnn-descriptor-spec` and this crate only.

mod backend;
mod bundle;
mod error;
#[cfg(feature = "hostile")]
pub mod hostile;
mod inputs;
mod select;
mod session;
mod tensor;

pub use backend::{Backend, Executable, KernelChoice, LocalFuture, MaybeSend, MaybeSendSync, Skip, SkipKind};
pub use bundle::{Bundle, BundleSource, DirSource, MemorySource, Weights};
pub use error::{Result, RunnerError};
pub use inputs::{check_inputs, input_signature, order_inputs};
pub use select::{BACKEND_ENV, DEFAULT_ORDER, Registry, VARIANTS};
pub use session::{Session, load, load_async};
pub use tensor::{Element, Tensor, TensorView, TensorViewMut};
pub use wdnn_descriptor_spec as spec;
