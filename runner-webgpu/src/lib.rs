//! wdnn's WebGPU backend: runs the WGSL kernels of a `webgpu` graph descriptor (SPEC §6) through wgpu — natively
//! on Vulkan, Metal or DX12, and in browsers on WebGPU.
//!
//! At load, [`WebGpuExecutable`] checks every payload, requests a device with the limits the model needs (and says
//! which adapter limit falls short when one does), uploads the weights once (f16 and int8 weights are decoded to f32
//! on upload: the shaders then have one f32 code path whatever the bundle's weight format, and compute exactly what
//! the reference backend computes from the same bundle), and creates every compute pipeline and bind group. A run is
//! then one input upload, one command encoder with one compute pass holding every dispatch, one copy of the outputs
//! into a readback buffer, and one submit; only the outputs are read back.
//!
//! Natively the [`Backend`] trait is implemented on top of the async API with `pollster`. In a browser nothing may
//! block: use [`WebGpuExecutable::load_async`] and [`WebGpuExecutable::run_async`] (from `wasm-bindgen-futures`),
//! which check their inputs with the same runner-core rules as a [`wdnn_runner_core::Session`].
//!
//! One module per concern:
//! - `device`: the adapter, the limits a model needs from it, and the device;
//! - `payload`: the checks on every kernel's WGSL payload, before anything is created;
//! - `upload`: the arena and the weight buffers (weights decoded to what the shaders read);
//! - `pipelines`: shader modules, bind group layouts and compute pipelines, deduplicated by (shader, entry, access);
//! - `dispatch`: bind groups, the recorded command buffer of a run, and where inputs and outputs live;
//! - `timing`: load statistics and timestamp queries;
//! - `executable`: [`WebGpuExecutable`], which puts these together;
//! - `sync`: what differs between native and browser (clocks, waiting, pipeline creation threads).

mod device;
mod dispatch;
mod executable;
mod payload;
mod pipelines;
mod sync;
mod timing;
mod upload;

use std::sync::Mutex;

use wdnn_descriptor_spec::{DescriptorError, Graph};
use wdnn_runner_core::{Backend, Executable, Result, RunnerError, Weights};

pub use device::request_adapter;
pub use executable::WebGpuExecutable;
pub use timing::LoadStats;

const NAME: &str = "webgpu";

/// Set to anything but `0` or empty to make the probe report no adapter (tests, or to force another backend).
pub const DISABLE_ENV: &str = "WDNN_WEBGPU_DISABLE";

/// How the backend sets the device up.
#[derive(Debug, Clone, Default)]
pub struct WebGpuOptions {
    /// Measure each run's GPU time with timestamp queries where the adapter supports them.
    pub timestamps: bool,
    /// Create shader modules without wgpu's runtime bounds checks (`create_shader_module_trusted`). Only for
    /// descriptors from a trusted converter: an out-of-range index is then undefined behaviour on the GPU.
    pub trusted_shaders: bool,
    /// Also time every dispatch (timestamps between dispatches, where supported): [`WebGpuExecutable::profile`].
    pub profile: bool,
}

/// The WebGPU backend.
#[cfg_attr(target_arch = "wasm32", allow(dead_code))]
pub struct WebGpuBackend {
    options: WebGpuOptions,
    /// The adapter found by the probe, kept for the next load (an adapter gives one device).
    adapter: Mutex<Option<(wgpu::Instance, wgpu::Adapter)>>,
}

impl Default for WebGpuBackend {
    fn default() -> Self {
        WebGpuBackend::new(WebGpuOptions::default())
    }
}

impl WebGpuBackend {
    /// A backend with `options`.
    pub fn new(options: WebGpuOptions) -> WebGpuBackend {
        WebGpuBackend { options, adapter: Mutex::new(None) }
    }

    /// Loads a graph and returns the concrete executable (with its timing statistics).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn load_webgpu(&self, graph: &Graph, weights: &Weights) -> Result<WebGpuExecutable> {
        let cached = self.adapter.lock().ok().and_then(|mut a| a.take());
        let adapter = match cached {
            Some(a) => a,
            None => pollster::block_on(request_adapter()).map_err(unavailable)?,
        };
        pollster::block_on(WebGpuExecutable::load_with(adapter, graph, weights, &self.options))
    }
}

impl Backend for WebGpuBackend {
    fn name(&self) -> &str {
        NAME
    }

    #[cfg(not(target_arch = "wasm32"))]
    fn probe(&self) -> std::result::Result<(), String> {
        let mut cached = self.adapter.lock().map_err(|_| "adapter cache poisoned".to_string())?;
        if cached.is_none() {
            *cached = Some(pollster::block_on(request_adapter())?);
        }
        Ok(())
    }

    #[cfg(target_arch = "wasm32")]
    fn probe(&self) -> std::result::Result<(), String> {
        Err("a browser cannot wait for the GPU synchronously: use WebGpuExecutable::load_async".to_string())
    }

    #[cfg(not(target_arch = "wasm32"))]
    fn load(&self, graph: &Graph, weights: &Weights) -> Result<Box<dyn Executable>> {
        Ok(Box::new(self.load_webgpu(graph, weights)?))
    }

    #[cfg(target_arch = "wasm32")]
    fn load(&self, _graph: &Graph, _weights: &Weights) -> Result<Box<dyn Executable>> {
        Err(unavailable("a browser cannot wait for the GPU synchronously: use WebGpuExecutable::load_async".into()))
    }
}

/// This backend cannot run here (no adapter, a limit falls short, resources could not be created).
fn unavailable(reason: String) -> RunnerError {
    RunnerError::Unavailable { backend: NAME.to_string(), reason }
}

/// The descriptor breaks a rule of SPEC §6.
fn invalid(detail: String) -> RunnerError {
    RunnerError::Descriptor(DescriptorError::Invalid { what: "webgpu graph descriptor".into(), detail })
}

/// `n` rounded up to a multiple of 4: WebGPU buffer sizes, binding sizes and copies are 4-byte granular.
fn round4(n: u64) -> u64 {
    n.div_ceil(4) * 4
}
