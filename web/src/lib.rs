//! wdnn for JavaScript: what the npm package `wdnn` (built by `cargo xtask web` into `target/web/wdnn/`) runs.
//!
//! The package is this crate compiled to wasm32 with wasm-bindgen glue and a small ESM wrapper (`web/js/`). The Rust
//! side keeps no JavaScript logic of its own beyond conversions: a bundle arrives as its files' bytes, backend
//! selection is runner-core's [`load`](wdnn_runner_core::load) over the backends compiled in here, and tensors cross
//! as little-endian bytes with an ONNX Runtime Web dtype name.
//!
//! - [`dtype`]: ONNX Runtime Web's tensor type names ↔ [`DType`](wdnn_runner_core::spec::DType).
//! - [`files`]: the bundle as a set of files handed over by JavaScript, and which of them a load needs.
//! - [`session`]: loading with the ordered backend list and running, in plain Rust (tested natively).
//! - `bindings` (wasm32 only): the `#[wasm_bindgen]` surface the wrapper calls.
//! - `gpu` (wasm32 only): runner-webgpu behind a check that the engine has WebGPU at all (Node has none).
//!
//! Why one crate apart from `runner-wasm`: the package is an application of the runners (like xtask), and the
//! browser build will also compile in `runner-webgpu`; a backend crate must not depend on another backend.
#![deny(missing_docs)]

pub mod dtype;
pub mod files;
pub mod session;

#[cfg(target_arch = "wasm32")]
mod bindings;
#[cfg(target_arch = "wasm32")]
mod gpu;

pub use session::{WebError, WebSession, compiled_backends};
