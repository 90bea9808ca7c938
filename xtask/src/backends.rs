//! The runner backends compiled into xtask, in one place: `run` and `conformance` both pick from this list.

use wdnn_runner_core::Backend;

/// The backends compiled into this binary, best first.
pub fn available_backends() -> Vec<Box<dyn Backend>> {
    vec![
        Box::new(wdnn_runner_webgpu::WebGpuBackend::new(webgpu_options())),
        // Natively this runs the SIMD kernels on SSE2; the wasm32 build runs in Node (the wasm-package's runner).
        Box::new(wdnn_runner_wasm::backend::WasmBackend),
        Box::new(wdnn_runner_fallback::FallbackBackend),
    ]
}

/// WebGPU options from the environment: `WDNN_WEBGPU_TIMESTAMPS=1` measures GPU time, `WDNN_WEBGPU_TRUSTED=1` skips
/// wgpu's shader bounds checks (for bundles from this converter only).
fn webgpu_options() -> wdnn_runner_webgpu::WebGpuOptions {
    let on = |name: &str| std::env::var(name).is_ok_and(|v| !v.is_empty() && v != "0");
    wdnn_runner_webgpu::WebGpuOptions {
        timestamps: on("WDNN_WEBGPU_TIMESTAMPS"),
        trusted_shaders: on("WDNN_WEBGPU_TRUSTED"),
        ..Default::default()
    }
}
