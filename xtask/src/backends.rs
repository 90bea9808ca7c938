//! The runner backends compiled into xtask, in one place: `run`, `conformance` and `exported` all pick from this
//! registry. The order `auto` tries them in and the `WDNN_BACKEND` override are runner-core's ([`Registry`]).

use wdnn_runner_core::{Backend, Registry};

/// The registry of the backends compiled into this binary.
pub fn registry() -> Registry {
    let mut registry = Registry::new();
    registry.register("webgpu", || Box::new(wdnn_runner_webgpu::WebGpuBackend::new(webgpu_options())));
    // The variant of webgpu for `webgpu-f16` descriptors: `auto` tries it first where a bundle has one.
    registry
        .register(wdnn_runner_webgpu::F16_NAME, || Box::new(wdnn_runner_webgpu::WebGpuBackend::f16(webgpu_options())));
    // Natively this runs the SIMD kernels on SSE2; the wasm32 build runs in Node (the wasm-package's runner).
    registry.register("wasm", || Box::new(wdnn_runner_wasm::backend::WasmBackend));
    registry.register("fallback", || Box::new(wdnn_runner_fallback::FallbackBackend));
    registry
}

/// One instance of every backend compiled into this binary, best first (runner-core's default order).
pub fn available_backends() -> Vec<Box<dyn Backend>> {
    registry().backends()
}

/// WebGPU options from the environment: `WDNN_WEBGPU_TIMESTAMPS=1` measures GPU time, `WDNN_WEBGPU_TRUSTED=1` skips
/// wgpu's shader bounds checks (for bundles from this converter only), `WDNN_WEBGPU_PIPELINE_CACHE=DIR` keeps compiled
/// pipelines in DIR between runs (`=1`: the per-user cache directory, `default_pipeline_cache`).
fn webgpu_options() -> wdnn_runner_webgpu::WebGpuOptions {
    let on = |name: &str| std::env::var(name).is_ok_and(|v| !v.is_empty() && v != "0");
    let pipeline_cache = match std::env::var_os("WDNN_WEBGPU_PIPELINE_CACHE") {
        Some(v) if v == "1" => wdnn_runner_webgpu::default_pipeline_cache(),
        Some(v) if !v.is_empty() && v != "0" => Some(v.into()),
        _ => None,
    };
    wdnn_runner_webgpu::WebGpuOptions {
        timestamps: on("WDNN_WEBGPU_TIMESTAMPS"),
        trusted_shaders: on("WDNN_WEBGPU_TRUSTED"),
        pipeline_cache,
        ..Default::default()
    }
}
