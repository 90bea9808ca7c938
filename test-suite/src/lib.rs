//! wdnn's end-to-end suites live in `tests/`, apart from the crates they exercise (as tract keeps `test-rt` apart
//! from its runtimes), so that no library dev-depends on a runner it does not use:
//!
//! - `models`, `zoo`, `errors`: ONNX models converted by the transpiler and run on the reference backend;
//! - `webgpu`, `webgpu_fallthrough`: the same on WebGPU (lavapipe natively), checked against the reference;
//! - `elementwise`: every `UnaryFn`/`BinaryFn` through every backend against an f64 formula;
//! - `tidy`: the crate map's invariants, read from Cargo.
//!
//! The crate has no code of its own.
