//! wdnn's WebGPU backend: runs the WGSL kernels of a `webgpu` graph descriptor (SPEC §6) through wgpu — natively
//! on Vulkan, Metal or DX12, and in browsers on WebGPU.
//!
//! At load, [`WebGpuExecutable`] checks every payload, requests a device with the limits the model needs (and says
//! which adapter limit falls short when one does), uploads the weights once (f16 and int8 weights are decoded to f32
//! on upload: the shaders then have one f32 code path whatever the bundle's weight format, and compute exactly what
//! the reference backend computes from the same bundle), and creates every compute pipeline and bind group. Natively
//! the weights upload while the pipelines are created, and a load from a bundle ([`Backend::load_from`],
//! [`WebGpuBackend::load_bundle`]) decodes them there too; with [`WebGpuOptions::pipeline_cache`] the driver's
//! compiled pipelines are kept in a file for the next process (`cache`). A run is
//! then one write of the inputs into a buffer kept mapped between runs and one submit of the command buffer recorded
//! during the previous run (the inputs' copies into the arena, one compute pass holding every dispatch, the outputs'
//! copies into a readback buffer); only the outputs are read back. Nothing is allocated or created per run.
//!
//! The [`Backend`] and [`Executable`] traits are implemented on the async API: natively the sync methods block on
//! it with `pollster`; in a browser, where nothing may block, load through runner-core's `load_async` (or
//! `Registry::load_async`) and run with `Session::run_async`, which go through the same fall-through and input checks
//! as native. [`WebGpuExecutable::load_async`] and [`WebGpuExecutable::run_async`] are the direct entry points; a
//! direct run checks its inputs with runner-core's rules too.
//!
//! One module per concern:
//! - `device`: the adapter, the limits a model needs from it, and the device;
//! - `payload`: the checks on every kernel's WGSL payload, before anything is created;
//! - `shader_check`: each shader parsed (naga) and its resources checked against the payload and the graph (SPEC §6.3);
//! - `upload`: the arena and the weight buffers (weights decoded to what the shaders read);
//! - `pipelines`: shader modules, bind group layouts and compute pipelines, deduplicated by (shader, entry, access);
//! - `cache`: natively, the driver's compiled pipelines kept in a file between processes (`pipeline_cache`);
//! - `dispatch`: bind groups, the recorded command buffer of a run, and where inputs and outputs live;
//! - `timing`: load statistics and timestamp queries;
//! - `executable`: [`WebGpuExecutable`], which puts these together;
//! - `sync`: what differs between native and browser (clocks, waiting, pipeline creation threads).

mod cache;
mod device;
mod dispatch;
mod executable;
mod payload;
mod pipelines;
mod shader_check;
mod sync;
mod timing;
mod upload;

use std::sync::Mutex;

use wdnn_descriptor_spec::{DescriptorError, Graph};
#[cfg(not(target_arch = "wasm32"))]
use wdnn_runner_core::Bundle;
use wdnn_runner_core::{Backend, Executable, LocalFuture, Result, RunnerError, Weights};

pub use device::request_adapter;
pub use executable::WebGpuExecutable;
use executable::WeightSource;
pub use timing::{LoadStats, PipelineCacheState, RunStats};

const NAME: &str = "webgpu";

/// The backend of `webgpu-f16` descriptors (SPEC §6.1.1: activations and large weights stored as binary16), which
/// need the adapter's `shader-f16` feature.
pub const F16_NAME: &str = "webgpu-f16";

/// Why an adapter cannot run a `webgpu-f16` descriptor.
pub(crate) const NO_SHADER_F16: &str =
    "the adapter lacks shader-f16 (WebGPU's f16 in shaders; Vulkan's shaderFloat16 and 16-bit storage buffers)";

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
    /// Natively, wait for each run's results by blocking on the fence at once instead of polling it for a while
    /// first (less CPU while the GPU works, a later wake-up: see [`WebGpuExecutable::run_async`]).
    pub blocking_wait: bool,
    /// Treat the adapter as if its limits were at most these: to emulate a weaker device (a browser's default
    /// limits), or to test that a model too large for the device falls through to another backend.
    pub max_limits: Option<wgpu::Limits>,
    /// Natively, a directory where compiled pipelines are kept between processes (see [`default_pipeline_cache`]):
    /// a load finds the pipelines it compiled before there and skips the driver's compilation. Where the adapter
    /// offers no pipeline cache (wgpu has it on Vulkan), or in a browser (which caches by itself), it is unused.
    /// A damaged file is ignored with a warning ([`WebGpuExecutable::warnings`]), never a failure.
    pub pipeline_cache: Option<std::path::PathBuf>,
    /// Treat the adapter as if it lacked `shader-f16` (a browser or GPU without it): `webgpu-f16` descriptors are
    /// then unavailable, and selection falls through to the `webgpu` one (how tests see that path on any adapter).
    pub hide_shader_f16: bool,
}

impl WebGpuOptions {
    /// Whether `adapter` can run `webgpu-f16` descriptors under these options.
    pub(crate) fn shader_f16(&self, adapter: &wgpu::Adapter) -> bool {
        !self.hide_shader_f16 && adapter.features().contains(wgpu::Features::SHADER_F16)
    }
}

/// The per-user directory for [`WebGpuOptions::pipeline_cache`]: `$XDG_CACHE_HOME/wdnn/webgpu-pipelines`, else
/// `$HOME/.cache/…` (`%LOCALAPPDATA%/wdnn/…` on Windows); `None` where none of these is set, and in a browser.
pub fn default_pipeline_cache() -> Option<std::path::PathBuf> {
    #[cfg(target_arch = "wasm32")]
    return None;
    #[cfg(not(target_arch = "wasm32"))]
    {
        let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(std::path::PathBuf::from);
        let base =
            var("XDG_CACHE_HOME").or_else(|| var("HOME").map(|h| h.join(".cache"))).or_else(|| var("LOCALAPPDATA"))?;
        Some(base.join("wdnn").join("webgpu-pipelines"))
    }
}

/// The adapter's limits lowered to `cap` (the limits a model's needs are compared with).
fn capped(mut limits: wgpu::Limits, cap: &wgpu::Limits) -> wgpu::Limits {
    limits.max_storage_buffer_binding_size =
        limits.max_storage_buffer_binding_size.min(cap.max_storage_buffer_binding_size);
    limits.max_buffer_size = limits.max_buffer_size.min(cap.max_buffer_size);
    limits.max_storage_buffers_per_shader_stage =
        limits.max_storage_buffers_per_shader_stage.min(cap.max_storage_buffers_per_shader_stage);
    limits.max_bindings_per_bind_group = limits.max_bindings_per_bind_group.min(cap.max_bindings_per_bind_group);
    limits.max_compute_invocations_per_workgroup =
        limits.max_compute_invocations_per_workgroup.min(cap.max_compute_invocations_per_workgroup);
    limits.max_compute_workgroup_size_x = limits.max_compute_workgroup_size_x.min(cap.max_compute_workgroup_size_x);
    limits.max_compute_workgroup_size_y = limits.max_compute_workgroup_size_y.min(cap.max_compute_workgroup_size_y);
    limits.max_compute_workgroup_size_z = limits.max_compute_workgroup_size_z.min(cap.max_compute_workgroup_size_z);
    limits.max_compute_workgroups_per_dimension =
        limits.max_compute_workgroups_per_dimension.min(cap.max_compute_workgroups_per_dimension);
    limits.max_compute_workgroup_storage_size =
        limits.max_compute_workgroup_storage_size.min(cap.max_compute_workgroup_storage_size);
    limits.min_storage_buffer_offset_alignment =
        limits.min_storage_buffer_offset_alignment.max(cap.min_storage_buffer_offset_alignment);
    limits
}

/// The WebGPU backend: [`WebGpuBackend::new`] runs `webgpu` descriptors, [`WebGpuBackend::f16`] `webgpu-f16` ones.
#[cfg_attr(target_arch = "wasm32", allow(dead_code))]
pub struct WebGpuBackend {
    /// The descriptor it consumes: `webgpu` or `webgpu-f16`.
    name: &'static str,
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
        WebGpuBackend { name: NAME, options, adapter: Mutex::new(None) }
    }

    /// The backend of `webgpu-f16` descriptors (a variant of `webgpu`, runner-core's `VARIANTS`): its probe fails,
    /// saying so, on an adapter without `shader-f16`, so that selection falls through to the `webgpu` descriptor
    /// before this one's files are read.
    pub fn f16(options: WebGpuOptions) -> WebGpuBackend {
        WebGpuBackend { name: F16_NAME, options, adapter: Mutex::new(None) }
    }

    /// Loads a graph and returns the concrete executable (with its timing statistics).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn load_webgpu(&self, graph: &Graph, weights: &Weights) -> Result<WebGpuExecutable> {
        let cached = self.adapter.lock().ok().and_then(|mut a| a.take());
        let adapter = match cached {
            Some(a) => a,
            None => pollster::block_on(request_adapter()).map_err(unavailable)?,
        };
        pollster::block_on(WebGpuExecutable::load_with(adapter, graph, WeightSource::Decoded(weights), &self.options))
    }

    /// Loads the bundle's descriptor for this backend (`webgpu` or `webgpu-f16`): the graph is read first, and the weights are decoded while the
    /// pipelines are created (natively in parallel; `progress(done, total)` is called as the weight chunks decode).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn load_bundle(&self, bundle: &Bundle, progress: &mut dyn FnMut(u64, u64)) -> Result<WebGpuExecutable> {
        let graph = bundle.load_graph(self.name)?;
        self.load_graph_from(bundle, &graph, progress)
    }

    /// [`WebGpuBackend::load_bundle`] with the bundle's webgpu graph already read ([`Bundle::load_graph`]).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn load_graph_from(
        &self,
        bundle: &Bundle,
        graph: &Graph,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<WebGpuExecutable> {
        let cached = self.adapter.lock().ok().and_then(|mut a| a.take());
        let adapter = match cached {
            Some(a) => a,
            None => pollster::block_on(request_adapter()).map_err(unavailable)?,
        };
        let name = self.name;
        let decode = Box::new(move || bundle.load_weights(name, graph, progress));
        pollster::block_on(WebGpuExecutable::load_with(adapter, graph, WeightSource::Decode(decode), &self.options))
    }
}

/// The sync entry points block on the async ones natively; in a browser nothing may block, so there they refuse and
/// a caller goes through [`Backend::probe_async`]/[`Backend::load_async`] (runner-core's `load_async`).
impl Backend for WebGpuBackend {
    fn name(&self) -> &str {
        self.name
    }

    #[cfg(not(target_arch = "wasm32"))]
    fn probe(&self) -> std::result::Result<(), String> {
        pollster::block_on(self.probe_async())
    }

    #[cfg(target_arch = "wasm32")]
    fn probe(&self) -> std::result::Result<(), String> {
        Err(CANNOT_BLOCK.to_string())
    }

    #[cfg(not(target_arch = "wasm32"))]
    fn load(&self, graph: &Graph, weights: &Weights) -> Result<Box<dyn Executable>> {
        Ok(Box::new(self.load_webgpu(graph, weights)?))
    }

    #[cfg(target_arch = "wasm32")]
    fn load(&self, _graph: &Graph, _weights: &Weights) -> Result<Box<dyn Executable>> {
        Err(unavailable(CANNOT_BLOCK.into()))
    }

    /// Natively the weights decode while the pipelines are created ([`WebGpuBackend::load_bundle`]).
    #[cfg(not(target_arch = "wasm32"))]
    fn load_from(&self, bundle: &Bundle, progress: &mut dyn FnMut(u64, u64)) -> Result<Box<dyn Executable>> {
        Ok(Box::new(self.load_bundle(bundle, progress)?))
    }

    /// Finds the adapter once and keeps it for the next load.
    fn probe_async(&self) -> LocalFuture<'_, std::result::Result<(), String>> {
        Box::pin(async move {
            let poisoned = || "adapter cache poisoned".to_string();
            if self.adapter.lock().map_err(|_| poisoned())?.is_some() {
                return Ok(());
            }
            let adapter = request_adapter().await?;
            if self.name == F16_NAME && !self.options.shader_f16(&adapter.1) {
                return Err(NO_SHADER_F16.to_string());
            }
            *self.adapter.lock().map_err(|_| poisoned())? = Some(adapter);
            Ok(())
        })
    }

    fn load_async<'a>(
        &'a self,
        graph: &'a Graph,
        weights: &'a Weights,
    ) -> LocalFuture<'a, Result<Box<dyn Executable>>> {
        Box::pin(async move {
            let cached = self.adapter.lock().ok().and_then(|mut a| a.take());
            let adapter = match cached {
                Some(a) => a,
                None => request_adapter().await.map_err(unavailable)?,
            };
            let exe =
                WebGpuExecutable::load_with(adapter, graph, WeightSource::Decoded(weights), &self.options).await?;
            Ok(Box::new(exe) as Box<dyn Executable>)
        })
    }
}

/// Why the sync entry points refuse in a browser.
#[cfg(target_arch = "wasm32")]
const CANNOT_BLOCK: &str = "a browser cannot wait for the GPU synchronously: load through runner-core's load_async";

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
    n.div_ceil(4).saturating_mul(4)
}
