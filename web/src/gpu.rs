//! The WebGPU backend as the package offers it: runner-webgpu behind a check that this JavaScript engine has WebGPU
//! at all. wgpu assumes `navigator.gpu` exists where it is compiled for the web; Node 20 (and a browser with WebGPU
//! switched off) has none, and asking wgpu for an adapter there must be a skip with a reason, not a trap.

use js_sys::Reflect;
use wasm_bindgen::JsValue;
use wdnn_runner_core::spec::Graph;
use wdnn_runner_core::{Backend, Executable, LocalFuture, Result, RunnerError, Weights};
use wdnn_runner_webgpu::WebGpuBackend;

/// [`WebGpuBackend`], refusing (with the reason) where the global object has no `navigator.gpu`.
pub struct BrowserWebGpu(pub WebGpuBackend);

/// Why WebGPU cannot be used in this engine, if it cannot: no `navigator` (Node), or no `navigator.gpu`.
fn missing_webgpu() -> Option<String> {
    let global = js_sys::global();
    let navigator = Reflect::get(&global, &JsValue::from_str("navigator")).unwrap_or(JsValue::UNDEFINED);
    if navigator.is_undefined() || navigator.is_null() {
        return Some("this JavaScript engine has no navigator (not a browser): no WebGPU".to_string());
    }
    let gpu = Reflect::get(&navigator, &JsValue::from_str("gpu")).unwrap_or(JsValue::UNDEFINED);
    if gpu.is_undefined() || gpu.is_null() {
        return Some(
            "this browser exposes no WebGPU (navigator.gpu is missing: switched off, or not a secure context)".into(),
        );
    }
    None
}

impl Backend for BrowserWebGpu {
    fn name(&self) -> &str {
        self.0.name()
    }

    fn probe(&self) -> std::result::Result<(), String> {
        match missing_webgpu() {
            Some(reason) => Err(reason),
            None => self.0.probe(),
        }
    }

    fn load(&self, graph: &Graph, weights: &Weights) -> Result<Box<dyn Executable>> {
        self.0.load(graph, weights)
    }

    fn probe_async(&self) -> LocalFuture<'_, std::result::Result<(), String>> {
        match missing_webgpu() {
            Some(reason) => Box::pin(std::future::ready(Err(reason))),
            None => self.0.probe_async(),
        }
    }

    fn load_async<'a>(
        &'a self,
        graph: &'a Graph,
        weights: &'a Weights,
    ) -> LocalFuture<'a, Result<Box<dyn Executable>>> {
        match missing_webgpu() {
            Some(reason) => {
                Box::pin(std::future::ready(Err(RunnerError::Unavailable { backend: self.name().into(), reason })))
            }
            None => self.0.load_async(graph, weights),
        }
    }
}
