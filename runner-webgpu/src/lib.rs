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
//! block: use [`WebGpuExecutable::load_async`] and [`WebGpuExecutable::run_async`] (from `wasm-bindgen-futures`).

mod sync;

use std::collections::HashMap;
use std::num::NonZeroU64;
use std::sync::{Arc, Mutex};

use wdnn_descriptor_spec::{DType, DescriptorError, Encoding, Graph, KernelPayload, Storage, TensorId};
use wdnn_runner_core::{Backend, Executable, Result, RunnerError, Tensor, Weights};
use wgpu::util::DeviceExt;

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

fn unavailable(reason: String) -> RunnerError {
    RunnerError::Unavailable { backend: NAME.to_string(), reason }
}

fn disabled() -> Option<String> {
    #[cfg(not(target_arch = "wasm32"))]
    if let Ok(v) = std::env::var(DISABLE_ENV)
        && !v.is_empty()
        && v != "0"
    {
        return Some(format!("disabled by {DISABLE_ENV}={v}"));
    }
    None
}

/// The instance and the best adapter, or why there is none.
pub async fn request_adapter() -> std::result::Result<(wgpu::Instance, wgpu::Adapter), String> {
    if let Some(reason) = disabled() {
        return Err(reason);
    }
    let instance = wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
    let options =
        wgpu::RequestAdapterOptions { power_preference: wgpu::PowerPreference::HighPerformance, ..Default::default() };
    let adapter = instance.request_adapter(&options).await.map_err(|e| format!("no WebGPU adapter: {e}"))?;
    Ok((instance, adapter))
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

/// Seconds spent in each part of a load.
#[derive(Debug, Clone, Copy, Default)]
pub struct LoadStats {
    /// Device creation.
    pub device: f64,
    /// Weight decoding and upload.
    pub upload: f64,
    /// Shader modules and compute pipelines.
    pub pipelines: f64,
    /// The whole load.
    pub total: f64,
}

/// One dispatch of a run.
struct Step {
    name: String,
    op: &'static str,
    pipeline: usize,
    bind_group: wgpu::BindGroup,
    dispatch: [u32; 3],
}

/// Where an output comes from and where it lands in the readback buffer.
struct OutputCopy {
    source: Option<usize>, // None: the arena; Some(i): weight buffer i
    offset: u64,
    size: u64,
    staged_at: u64,
    dtype: DType,
    shape: Vec<u64>,
}

struct Timestamps {
    set: wgpu::QuerySet,
    resolve: wgpu::Buffer,
    readback: wgpu::Buffer,
    period_ns: f64,
    /// Timestamps between dispatches too.
    per_dispatch: bool,
}

/// A model loaded on a GPU.
pub struct WebGpuExecutable {
    device: wgpu::Device,
    queue: wgpu::Queue,
    arena: wgpu::Buffer,
    weights: Vec<wgpu::Buffer>,
    pipelines: Vec<wgpu::ComputePipeline>,
    steps: Vec<Step>,
    inputs: Vec<(u64, DType, Vec<u64>)>,
    outputs: Vec<OutputCopy>,
    readback: wgpu::Buffer,
    timestamps: Option<Timestamps>,
    errors: Arc<Mutex<Vec<String>>>,
    stats: LoadStats,
    last_gpu_seconds: Option<f64>,
    last_profile: Vec<f64>,
    adapter_info: String,
    /// The next run's commands, recorded ahead.
    next: Option<wgpu::CommandBuffer>,
}

fn invalid(detail: String) -> RunnerError {
    RunnerError::Descriptor(DescriptorError::Invalid { what: "webgpu graph descriptor".into(), detail })
}

fn round4(n: u64) -> u64 {
    n.div_ceil(4) * 4
}

/// What the model asks of the device, checked against the adapter before a device is requested.
fn required_limits(graph: &Graph, adapter: &wgpu::Limits) -> Result<wgpu::Limits> {
    let mut need = wgpu::Limits::default();
    if !need.check_limits(adapter) {
        need = adapter.clone();
    }
    let mut binding = 0u64;
    let mut per_stage = 0u32;
    let (mut inv, mut x, mut y, mut z, mut groups) = (0u32, 0u32, 0u32, 0u32, 0u32);
    let mut weight_buffer = 0u64;
    for t in &graph.tensors {
        if matches!(t.storage, Storage::Weight { .. }) {
            weight_buffer = weight_buffer.max(round4(t.numel() * 4).max(round4(t.byte_size())));
        }
    }
    for k in &graph.kernels {
        if let Some(KernelPayload::Wgsl { workgroup_size: w, dispatch: d, bindings, .. }) = &k.payload {
            per_stage = per_stage.max(bindings.len() as u32);
            for b in bindings {
                if let Some(t) = graph.tensors.get(b.tensor as usize) {
                    binding = binding.max(round4(t.byte_size()));
                }
            }
            inv = inv.max(w[0].saturating_mul(w[1]).saturating_mul(w[2]));
            (x, y, z) = (x.max(w[0]), y.max(w[1]), z.max(w[2]));
            groups = groups.max(d[0]).max(d[1]).max(d[2]);
        }
    }
    let arena = round4(graph.arena_size.max(4));
    let buffer = arena.max(weight_buffer);
    let short = |what: &str, have: u64, want: u64| -> Result<()> {
        if want > have {
            return Err(unavailable(format!("the adapter's {what} is {have}, this model needs {want}")));
        }
        Ok(())
    };
    short("maxStorageBufferBindingSize", adapter.max_storage_buffer_binding_size, binding)?;
    short("maxBufferSize", adapter.max_buffer_size, buffer)?;
    short("maxStorageBuffersPerShaderStage", adapter.max_storage_buffers_per_shader_stage as u64, per_stage as u64)?;
    short("maxBindingsPerBindGroup", adapter.max_bindings_per_bind_group as u64, per_stage as u64)?;
    short("maxComputeInvocationsPerWorkgroup", adapter.max_compute_invocations_per_workgroup as u64, inv as u64)?;
    short("maxComputeWorkgroupSizeX", adapter.max_compute_workgroup_size_x as u64, x as u64)?;
    short("maxComputeWorkgroupSizeY", adapter.max_compute_workgroup_size_y as u64, y as u64)?;
    short("maxComputeWorkgroupSizeZ", adapter.max_compute_workgroup_size_z as u64, z as u64)?;
    short("maxComputeWorkgroupsPerDimension", adapter.max_compute_workgroups_per_dimension as u64, groups as u64)?;
    if !graph.alignment.is_multiple_of(adapter.min_storage_buffer_offset_alignment.max(1)) {
        return Err(unavailable(format!(
            "the adapter's minStorageBufferOffsetAlignment is {}, the descriptor's arena alignment {}",
            adapter.min_storage_buffer_offset_alignment, graph.alignment
        )));
    }
    need.max_storage_buffer_binding_size = need.max_storage_buffer_binding_size.max(binding);
    need.max_buffer_size = need.max_buffer_size.max(buffer);
    need.max_storage_buffers_per_shader_stage = need.max_storage_buffers_per_shader_stage.max(per_stage);
    need.max_bindings_per_bind_group = need.max_bindings_per_bind_group.max(per_stage);
    need.max_compute_invocations_per_workgroup = need.max_compute_invocations_per_workgroup.max(inv);
    need.max_compute_workgroup_size_x = need.max_compute_workgroup_size_x.max(x);
    need.max_compute_workgroup_size_y = need.max_compute_workgroup_size_y.max(y);
    need.max_compute_workgroup_size_z = need.max_compute_workgroup_size_z.max(z);
    need.max_compute_workgroups_per_dimension = need.max_compute_workgroups_per_dimension.max(groups);
    Ok(need)
}

/// Checks every payload before anything is created: each kernel has a WGSL payload whose shader and bindings are in
/// range, bindings are numbered 0.. and name existing non-empty tensors, and only arena tensors are writable.
fn check_payloads(graph: &Graph) -> Result<()> {
    for k in &graph.kernels {
        let Some(KernelPayload::Wgsl { shader, entry_point, bindings, workgroup_size, .. }) = &k.payload else {
            return Err(RunnerError::Unsupported {
                backend: NAME.to_string(),
                kernel: k.name.clone(),
                op: k.op.name().to_string(),
                detail: "the kernel has no WGSL payload (the converter generates none for it)".to_string(),
            });
        };
        let bad = |detail: String| invalid(format!("kernel `{}`: {detail}", k.name));
        if *shader as usize >= graph.shaders.len() {
            return Err(bad(format!("shader {shader} out of range")));
        }
        if entry_point.is_empty() || workgroup_size.contains(&0) {
            return Err(bad("empty entry point or workgroup size".into()));
        }
        for (i, b) in bindings.iter().enumerate() {
            if b.binding as usize != i {
                return Err(bad(format!("binding {} is not numbered {i}", b.binding)));
            }
            let t = graph
                .tensors
                .get(b.tensor as usize)
                .ok_or_else(|| bad(format!("binding {i}: no tensor {}", b.tensor)))?;
            if t.byte_size() == 0 {
                return Err(bad(format!("binding {i}: tensor `{}` is empty", t.name)));
            }
            if b.writable && !matches!(t.storage, Storage::Arena { .. }) {
                return Err(bad(format!("binding {i}: weight `{}` is bound writable", t.name)));
            }
        }
    }
    Ok(())
}

/// A weight's values as the shaders read them: raw little-endian values, with f16 and int8 encodings decoded to f32.
fn weight_bytes(weights: &Weights, id: u32) -> Result<Vec<u8>> {
    let entry = weights.entry(id)?;
    if entry.offset.checked_add(entry.length).is_none_or(|end| end > weights.stream.len() as u64) {
        return Err(invalid(format!("weight `{}` lies outside the stream", entry.name)));
    }
    let mut bytes = match entry.encoding {
        Encoding::Raw => entry.bytes(&weights.stream).to_vec(),
        _ => bytemuck::cast_slice::<f32, u8>(&entry.to_f32(&weights.stream)?).to_vec(),
    };
    bytes.resize(round4(bytes.len().max(4) as u64) as usize, 0);
    Ok(bytes)
}

impl WebGpuExecutable {
    /// Finds an adapter and loads `graph` on it (the browser's entry point; natively too).
    pub async fn load_async(graph: &Graph, weights: &Weights, options: &WebGpuOptions) -> Result<WebGpuExecutable> {
        let adapter = request_adapter().await.map_err(unavailable)?;
        WebGpuExecutable::load_with(adapter, graph, weights, options).await
    }

    async fn load_with(
        (_instance, adapter): (wgpu::Instance, wgpu::Adapter),
        graph: &Graph,
        weights: &Weights,
        options: &WebGpuOptions,
    ) -> Result<WebGpuExecutable> {
        let clock = sync::Clock::start();
        graph.validate("webgpu graph descriptor")?;
        if graph.backend != NAME {
            return Err(invalid(format!("the descriptor is for backend `{}`", graph.backend)));
        }
        check_payloads(graph)?;
        let limits = required_limits(graph, &adapter.limits())?;
        let info = adapter.get_info();
        let adapter_info = format!("{} ({:?}, {:?})", info.name, info.backend, info.device_type);
        let timestamps =
            (options.timestamps || options.profile) && adapter.features().contains(wgpu::Features::TIMESTAMP_QUERY);
        let per_dispatch =
            timestamps && options.profile && adapter.features().contains(wgpu::Features::TIMESTAMP_QUERY_INSIDE_PASSES);
        let mut features = if timestamps { wgpu::Features::TIMESTAMP_QUERY } else { wgpu::Features::empty() };
        if per_dispatch {
            features |= wgpu::Features::TIMESTAMP_QUERY_INSIDE_PASSES;
        }
        let (device, queue) = adapter
            .request_device(&wgpu::DeviceDescriptor {
                label: Some("wdnn"),
                required_features: features,
                required_limits: limits,
                ..Default::default()
            })
            .await
            .map_err(|e| unavailable(format!("cannot create a device on {adapter_info}: {e}")))?;
        let errors: Arc<Mutex<Vec<String>>> = Arc::default();
        let sink = errors.clone();
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            if let Ok(mut v) = sink.lock() {
                v.push(e.to_string());
            }
        }));
        let mut stats = LoadStats { device: clock.seconds(), ..LoadStats::default() };
        let validation = device.push_error_scope(wgpu::ErrorFilter::Validation);
        let oom = device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);

        // Buffers: the arena and one per weight.
        let upload = sync::Clock::start();
        let arena = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("arena"),
            size: round4(graph.arena_size.max(4)),
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        });
        let mut weight_buffers = Vec::new();
        let mut weight_index: HashMap<u32, usize> = HashMap::new();
        let mut bound: Vec<TensorId> = Vec::new();
        for k in &graph.kernels {
            if let Some(KernelPayload::Wgsl { bindings, .. }) = &k.payload {
                bound.extend(bindings.iter().map(|b| b.tensor));
            }
        }
        bound.extend(graph.outputs.iter().map(|o| o.tensor));
        for id in bound {
            if let Some(Storage::Weight { id }) = graph.tensors.get(id as usize).map(|t| t.storage)
                && !weight_index.contains_key(&id)
            {
                let bytes = weight_bytes(weights, id)?;
                let buffer = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                    label: Some("weight"),
                    contents: &bytes,
                    usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
                });
                weight_index.insert(id, weight_buffers.len());
                weight_buffers.push(buffer);
            }
        }
        stats.upload = upload.seconds();

        // Pipelines: one per shader and access signature, created up front (in parallel threads natively).
        let pipes = sync::Clock::start();
        let mut layouts: HashMap<Vec<bool>, wgpu::BindGroupLayout> = HashMap::new();
        let mut pipeline_keys: Vec<(u32, String, Vec<bool>)> = Vec::new();
        let mut pipeline_of: Vec<usize> = Vec::new();
        for k in &graph.kernels {
            let Some(KernelPayload::Wgsl { shader, entry_point, bindings, .. }) = &k.payload else {
                continue;
            };
            let signature: Vec<bool> = bindings.iter().map(|b| b.writable).collect();
            layouts.entry(signature.clone()).or_insert_with(|| {
                let entries: Vec<wgpu::BindGroupLayoutEntry> = signature
                    .iter()
                    .enumerate()
                    .map(|(i, &w)| wgpu::BindGroupLayoutEntry {
                        binding: i as u32,
                        visibility: wgpu::ShaderStages::COMPUTE,
                        ty: wgpu::BindingType::Buffer {
                            ty: wgpu::BufferBindingType::Storage { read_only: !w },
                            has_dynamic_offset: false,
                            min_binding_size: None,
                        },
                        count: None,
                    })
                    .collect();
                device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor { label: None, entries: &entries })
            });
            let key = (*shader, entry_point.clone(), signature);
            let index = match pipeline_keys.iter().position(|k| *k == key) {
                Some(i) => i,
                None => {
                    pipeline_keys.push(key);
                    pipeline_keys.len() - 1
                }
            };
            pipeline_of.push(index);
        }
        let mut modules: HashMap<u32, wgpu::ShaderModule> = HashMap::new();
        for (shader, _, _) in &pipeline_keys {
            modules.entry(*shader).or_insert_with(|| {
                let desc = wgpu::ShaderModuleDescriptor {
                    label: None,
                    source: wgpu::ShaderSource::Wgsl(graph.shaders[*shader as usize].as_str().into()),
                };
                if options.trusted_shaders {
                    // SAFETY: opted into by the caller for converter-generated shaders, which index only within
                    // the bounds their generator computed from the descriptor's shapes.
                    unsafe { device.create_shader_module_trusted(desc, wgpu::ShaderRuntimeChecks::unchecked()) }
                } else {
                    device.create_shader_module(desc)
                }
            });
        }
        let jobs: Vec<(&wgpu::ShaderModule, &str, wgpu::PipelineLayout)> = pipeline_keys
            .iter()
            .map(|(shader, entry, signature)| {
                let layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
                    label: None,
                    bind_group_layouts: &[Some(&layouts[signature])],
                    immediate_size: 0,
                });
                (&modules[shader], entry.as_str(), layout)
            })
            .collect();
        let pipelines = sync::create_pipelines(&device, &jobs);
        if pipelines.len() != jobs.len() {
            return Err(unavailable("creating the compute pipelines failed".into()));
        }
        stats.pipelines = pipes.seconds();

        // Bind groups, one per kernel.
        let mut steps = Vec::with_capacity(graph.kernels.len());
        let mut pipeline_iter = pipeline_of.into_iter();
        for k in &graph.kernels {
            let Some(KernelPayload::Wgsl { dispatch, bindings, .. }) = &k.payload else {
                continue;
            };
            let pipeline = pipeline_iter.next().ok_or_else(|| invalid("pipeline bookkeeping".into()))?;
            if dispatch.contains(&0) {
                continue;
            }
            let signature: Vec<bool> = bindings.iter().map(|b| b.writable).collect();
            let mut entries = Vec::with_capacity(bindings.len());
            for b in bindings {
                let t = &graph.tensors[b.tensor as usize];
                let (buffer, offset, size) = match t.storage {
                    Storage::Arena { offset } => (&arena, offset, round4(t.byte_size())),
                    Storage::Weight { id } => {
                        let buffer = &weight_buffers[weight_index[&id]];
                        (buffer, 0, buffer.size())
                    }
                };
                entries.push(wgpu::BindGroupEntry {
                    binding: b.binding,
                    resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                        buffer,
                        offset,
                        size: NonZeroU64::new(size),
                    }),
                });
            }
            let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
                label: Some(&k.name),
                layout: &layouts[&signature],
                entries: &entries,
            });
            steps.push(Step { name: k.name.clone(), op: k.op.name(), pipeline, bind_group, dispatch: *dispatch });
        }

        // Inputs, outputs and the readback buffer.
        let mut inputs = Vec::new();
        for io in &graph.inputs {
            let t = &graph.tensors[io.tensor as usize];
            let Storage::Arena { offset } = t.storage else {
                return Err(invalid(format!("input `{}` is not in the arena", io.name)));
            };
            inputs.push((offset, t.dtype, t.shape.clone()));
        }
        let mut outputs = Vec::new();
        let mut staged = 0u64;
        for io in &graph.outputs {
            let t = &graph.tensors[io.tensor as usize];
            let (source, offset) = match t.storage {
                Storage::Arena { offset } => (None, offset),
                Storage::Weight { id } => (Some(weight_index[&id]), 0),
            };
            let size = round4(t.byte_size());
            outputs.push(OutputCopy {
                source,
                offset,
                size,
                staged_at: staged,
                dtype: t.dtype,
                shape: t.shape.clone(),
            });
            staged += size.div_ceil(256) * 256;
        }
        let readback = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("readback"),
            size: staged.max(4),
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let stamps = if per_dispatch { steps.len() as u64 + 2 } else { 2 };
        let timestamps = timestamps.then(|| Timestamps {
            set: device.create_query_set(&wgpu::QuerySetDescriptor {
                label: None,
                ty: wgpu::QueryType::Timestamp,
                count: stamps as u32,
            }),
            resolve: device.create_buffer(&wgpu::BufferDescriptor {
                label: None,
                size: 8 * stamps,
                usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
                mapped_at_creation: false,
            }),
            readback: device.create_buffer(&wgpu::BufferDescriptor {
                label: None,
                size: 8 * stamps,
                usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            }),
            period_ns: queue.get_timestamp_period() as f64,
            per_dispatch,
        });
        let failure = oom.pop().await.or(validation.pop().await);
        if let Some(e) = failure {
            return Err(unavailable(format!("creating the model's GPU resources failed: {e}")));
        }
        if let Some(e) = errors.lock().ok().and_then(|mut v| v.drain(..).next()) {
            return Err(unavailable(format!("creating the model's GPU resources failed: {e}")));
        }
        stats.total = clock.seconds();
        let mut exe = WebGpuExecutable {
            device,
            queue,
            arena,
            weights: weight_buffers,
            pipelines,
            steps,
            inputs,
            outputs,
            readback,
            timestamps,
            errors,
            stats,
            last_gpu_seconds: None,
            last_profile: Vec::new(),
            adapter_info,
            next: None,
        };
        exe.next = Some(exe.encode());
        Ok(exe)
    }

    /// Seconds spent loading.
    pub fn stats(&self) -> LoadStats {
        self.stats
    }

    /// The adapter's name, backend and type.
    pub fn adapter_info(&self) -> &str {
        &self.adapter_info
    }

    /// Number of dispatches per run.
    pub fn dispatches(&self) -> usize {
        self.steps.len()
    }

    /// GPU time of the last run's compute pass, where timestamps were asked for and are supported.
    pub fn last_gpu_seconds(&self) -> Option<f64> {
        self.last_gpu_seconds
    }

    /// The last run's GPU seconds per dispatch, with each kernel's name and op (empty unless profiling was asked for
    /// and the adapter supports timestamps inside passes).
    pub fn profile(&self) -> Vec<(&str, &str, f64)> {
        self.steps.iter().zip(&self.last_profile).map(|(s, &t)| (s.name.as_str(), s.op, t)).collect()
    }

    /// Records one run: every dispatch in one compute pass, then the copies of the outputs (and timestamps).
    fn encode(&self) -> wgpu::CommandBuffer {
        let mut encoder = self.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: None });
        {
            let timestamp_writes = self.timestamps.as_ref().map(|t| wgpu::ComputePassTimestampWrites {
                query_set: &t.set,
                beginning_of_pass_write_index: Some(0),
                end_of_pass_write_index: Some(1),
            });
            let mut pass =
                encoder.begin_compute_pass(&wgpu::ComputePassDescriptor { label: Some("model"), timestamp_writes });
            let mut current = usize::MAX;
            let profile = self.timestamps.as_ref().filter(|t| t.per_dispatch);
            for (i, step) in self.steps.iter().enumerate() {
                if let Some(t) = profile {
                    pass.write_timestamp(&t.set, i as u32 + 2);
                }
                if step.pipeline != current {
                    pass.set_pipeline(&self.pipelines[step.pipeline]);
                    current = step.pipeline;
                }
                pass.set_bind_group(0, &step.bind_group, &[]);
                pass.dispatch_workgroups(step.dispatch[0], step.dispatch[1], step.dispatch[2]);
            }
        }
        let stamp_count = self.timestamps.as_ref().map_or(0, |t| t.resolve.size() / 8) as u32;
        for o in &self.outputs {
            let source = o.source.map_or(&self.arena, |i| &self.weights[i]);
            encoder.copy_buffer_to_buffer(source, o.offset, &self.readback, o.staged_at, o.size);
        }
        if let Some(t) = &self.timestamps {
            encoder.resolve_query_set(&t.set, 0..stamp_count, &t.resolve, 0);
            encoder.copy_buffer_to_buffer(&t.resolve, 0, &t.readback, 0, t.resolve.size());
        }
        encoder.finish()
    }

    /// Runs the model: `inputs` in the graph's input order, checked for dtype and shape.
    pub async fn run_async(&mut self, inputs: &[Tensor]) -> Result<Vec<Tensor>> {
        if inputs.len() != self.inputs.len() {
            return Err(RunnerError::BadInput {
                name: "?".into(),
                detail: format!("{} inputs given, the model has {}", inputs.len(), self.inputs.len()),
            });
        }
        for (i, ((offset, dtype, shape), t)) in self.inputs.iter().zip(inputs).enumerate() {
            if t.dtype() != *dtype || t.shape() != shape.as_slice() {
                return Err(RunnerError::BadInput {
                    name: format!("#{i}"),
                    detail: format!("{} {:?} given, {dtype} {shape:?} expected", t.dtype(), t.shape()),
                });
            }
            let bytes = t.bytes();
            if bytes.len() % 4 == 0 {
                self.queue.write_buffer(&self.arena, *offset, bytes);
            } else {
                let mut padded = bytes.to_vec();
                padded.resize(round4(bytes.len() as u64) as usize, 0);
                self.queue.write_buffer(&self.arena, *offset, &padded);
            }
        }
        // The command buffer was recorded at the end of the previous run (or at load), while the GPU was busy:
        // recording does not depend on the inputs, which `write_buffer` stages ahead of the submit.
        let commands = match self.next.take() {
            Some(c) => c,
            None => self.encode(),
        };
        self.queue.submit([commands]);
        self.next = Some(self.encode());
        let mapped = sync::map_read(&self.device, &self.readback);
        let stamps = self.timestamps.as_ref().map(|t| sync::map_read(&self.device, &t.readback));
        sync::wait(&self.device);
        let fail = |what: &str| RunnerError::Kernel {
            kernel: "(run)".into(),
            op: "-".into(),
            detail: format!("mapping the {what} failed"),
        };
        mapped.await.map_err(|_| fail("outputs"))?;
        if let Some(e) = self.errors.lock().ok().and_then(|mut v| v.drain(..).next()) {
            self.readback.unmap();
            return Err(RunnerError::Kernel { kernel: "(run)".into(), op: "-".into(), detail: e });
        }
        let mut results = Vec::with_capacity(self.outputs.len());
        {
            let view = self.readback.get_mapped_range(..).map_err(|e| fail(&e.to_string()))?;
            for o in &self.outputs {
                let bytes = (o.dtype.size() as u64) * o.shape.iter().product::<u64>();
                let start = o.staged_at as usize;
                results.push(Tensor::from_bytes(o.dtype, &o.shape, view[start..start + bytes as usize].to_vec())?);
            }
        }
        self.readback.unmap();
        if let (Some(stamps), Some(t)) = (stamps, &self.timestamps) {
            stamps.await.map_err(|_| fail("timestamps"))?;
            {
                let view = t.readback.get_mapped_range(..).map_err(|e| fail(&e.to_string()))?;
                let v: Vec<u64> =
                    view.chunks_exact(8).map(|c| u64::from_le_bytes(c.try_into().unwrap_or([0; 8]))).collect();
                let seconds = |a: u64, b: u64| b.saturating_sub(a) as f64 * t.period_ns * 1e-9;
                self.last_gpu_seconds = Some(seconds(v[0], v[1]));
                if t.per_dispatch {
                    // Dispatch i runs from stamp i + 2 to stamp i + 3 (the last one ends at the pass's end).
                    self.last_profile = (0..self.steps.len())
                        .map(|i| seconds(v[i + 2], if i + 3 < v.len() { v[i + 3] } else { v[1] }))
                        .collect();
                }
            }
            t.readback.unmap();
        }
        Ok(results)
    }
}

#[cfg(not(target_arch = "wasm32"))]
impl Executable for WebGpuExecutable {
    fn run(&mut self, inputs: &[Tensor]) -> Result<Vec<Tensor>> {
        pollster::block_on(self.run_async(inputs))
    }
}
