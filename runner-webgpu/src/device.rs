//! The adapter, the limits a model needs from it, and the device: every reason this backend cannot run a model here
//! is found in this module, before a buffer is created.

use std::sync::{Arc, Mutex};

use wdnn_descriptor_spec::{Graph, KernelPayload, Storage};
use wdnn_runner_core::Result;

#[cfg(not(target_arch = "wasm32"))]
use crate::DISABLE_ENV;
use crate::{F16_NAME, NO_SHADER_F16, WebGpuOptions, capped, round4, unavailable};

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
    let options =
        wgpu::RequestAdapterOptions { power_preference: wgpu::PowerPreference::HighPerformance, ..Default::default() };
    // The primary backends (Vulkan, Metal, DX12, the browser's WebGPU) first: starting GL as well (EGL) costs tens
    // of milliseconds of every load natively and only matters where no primary backend has an adapter.
    let mut last = String::new();
    for backends in [wgpu::Backends::PRIMARY, wgpu::Backends::all()] {
        let instance = wgpu::Instance::new(instance_descriptor(backends));
        match instance.request_adapter(&options).await {
            Ok(adapter) => return Ok((instance, adapter)),
            Err(e) => last = e.to_string(),
        }
    }
    Err(format!("no WebGPU adapter: {last}"))
}

/// The instance for `backends` (or what `WGPU_BACKEND` names) with release flags whatever the build profile:
/// wgpu's debug builds would otherwise name every object and label every pass for a debugger (`WGPU_DEBUG=1`,
/// `WGPU_VALIDATION=1` turn that back on).
fn instance_descriptor(backends: wgpu::Backends) -> wgpu::InstanceDescriptor {
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle();
    desc.backends = backends;
    desc.flags = wgpu::InstanceFlags::VALIDATION_INDIRECT_CALL;
    desc.with_env()
}

/// A device opened for one model.
pub(crate) struct Gpu {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    /// Errors nobody captured (wgpu reports them through a callback), drained after load and after each run.
    pub errors: Arc<Mutex<Vec<String>>>,
    /// The adapter's name, backend and type.
    pub adapter_info: String,
    /// Whether each run is timed (the pass's start and end).
    pub timestamps: bool,
    /// Whether each dispatch is timed too.
    pub per_dispatch: bool,
    /// Whether the device was created with wgpu's pipeline cache (asked for, and offered by the adapter).
    pub pipeline_cache: bool,
    pub info: wgpu::AdapterInfo,
}

/// Requests a device with the limits `graph` needs and the timestamp features `options` ask for (where the adapter
/// has them).
/// `workgroup_bytes` is the most workgroup memory one of its shaders declares (`shader_check`).
pub(crate) async fn open(
    adapter: &wgpu::Adapter,
    graph: &Graph,
    options: &WebGpuOptions,
    workgroup_bytes: u64,
) -> Result<Gpu> {
    let adapter_limits = match &options.max_limits {
        Some(cap) => capped(adapter.limits(), cap),
        None => adapter.limits(),
    };
    let limits = required_limits(graph, &adapter_limits, workgroup_bytes)?;
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
    let pipeline_cache = cfg!(not(target_arch = "wasm32"))
        && options.pipeline_cache.is_some()
        && adapter.features().contains(wgpu::Features::PIPELINE_CACHE)
        && wgpu::util::pipeline_cache_key(&info).is_some();
    if pipeline_cache {
        features |= wgpu::Features::PIPELINE_CACHE;
    }
    if needs_f16(graph) {
        if !options.shader_f16(adapter) {
            return Err(unavailable(format!("{NO_SHADER_F16}: {adapter_info}")));
        }
        features |= wgpu::Features::SHADER_F16;
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
    let lost = errors.clone();
    // A lost device (a driver reset, the browser reclaiming the GPU) fails the run in progress; the reason is what
    // the run reports.
    device.set_device_lost_callback(move |reason, message| {
        if let Ok(mut v) = lost.lock() {
            let message = if message.is_empty() { String::new() } else { format!(": {message}") };
            v.insert(0, format!("the GPU device was lost ({reason:?}{message}); load the model again"));
        }
    });
    let sink = errors.clone();
    device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
        if let Ok(mut v) = sink.lock() {
            v.push(e.to_string());
        }
    }));
    Ok(Gpu { device, queue, errors, adapter_info, timestamps, per_dispatch, pipeline_cache, info })
}

/// Whether `graph` needs the device feature `shader-f16`: a `webgpu-f16` descriptor (SPEC §6.1.1), or any shader
/// that enables f16 (WebGPU refuses the module on a device without the feature).
pub(crate) fn needs_f16(graph: &Graph) -> bool {
    graph.backend == F16_NAME
        || graph.shaders.iter().any(|s| s.lines().any(|l| l.trim_start().starts_with("enable") && l.contains("f16")))
}

/// What the model asks of the device, checked against the adapter before a device is requested.
pub(crate) fn required_limits(graph: &Graph, adapter: &wgpu::Limits, workgroup_bytes: u64) -> Result<wgpu::Limits> {
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
            weight_buffer = weight_buffer.max(round4(t.numel().saturating_mul(4)).max(round4(t.byte_size())));
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
    short("maxComputeWorkgroupStorageSize", adapter.max_compute_workgroup_storage_size as u64, workgroup_bytes)?;
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
    need.max_compute_workgroup_storage_size = need.max_compute_workgroup_storage_size.max(workgroup_bytes as u32);
    Ok(need)
}
