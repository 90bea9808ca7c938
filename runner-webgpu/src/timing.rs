//! Load statistics and GPU timestamps: the pass's start and end for every run, and optionally a stamp before each
//! dispatch (where the adapter supports timestamps inside passes).

pub use crate::cache::PipelineCacheState;

/// Seconds spent in each part of a load, and what the pipeline cache did.
#[derive(Debug, Clone, Copy, Default)]
pub struct LoadStats {
    /// Checking the descriptor: its rules, every payload, and every shader parsed (naga) against its bindings.
    pub checks: f64,
    /// Device creation (`requestDevice`).
    pub device: f64,
    /// Weight decoding, where the load decoded them itself ([`crate::WebGpuBackend::load_bundle`]; natively at the
    /// same time as the pipelines); zero when it was given decoded weights.
    pub decode: f64,
    /// Weight upload: f16 and int8 weights decoded to f32 and every weight copied into its buffer (natively at the
    /// same time as the pipelines).
    pub upload: f64,
    /// Shader modules and compute pipelines, the cache file's reading included.
    pub pipelines: f64,
    /// Bind groups, input and output buffers, timestamp queries, and the device's report of errors.
    pub bind: f64,
    /// Writing the pipeline cache file (after a load that compiled pipelines the file did not have).
    pub cache_write: f64,
    /// The whole load.
    pub total: f64,
    /// Distinct shaders and distinct pipelines (shader, entry point, access signature) created.
    pub shaders: usize,
    pub distinct_pipelines: usize,
    /// What the pipeline cache did, and the bytes of driver data read from its file (warm) or written to it.
    pub pipeline_cache: PipelineCacheState,
    pub cache_bytes: u64,
}

/// Seconds spent in each part of the last run, as the caller waited for it (natively; zero on wasm32).
#[derive(Debug, Clone, Copy, Default)]
pub struct RunStats {
    /// Checking the inputs and writing them into the upload buffer.
    pub write: f64,
    /// Submitting the recorded command buffer.
    pub submit: f64,
    /// Recording the next run's command buffer (while the GPU works).
    pub record: f64,
    /// Waiting for the GPU and the mappings.
    pub wait: f64,
    /// Copying the outputs out of the readback buffer (and reading the timestamps).
    pub read: f64,
}

/// The query set of a run and the buffers its stamps are resolved and read through.
pub(crate) struct Timestamps {
    pub set: wgpu::QuerySet,
    pub resolve: wgpu::Buffer,
    pub readback: wgpu::Buffer,
    period_ns: f64,
    /// Timestamps between dispatches too.
    pub per_dispatch: bool,
}

impl Timestamps {
    /// Stamps 0 and 1 bracket the pass; with `per_dispatch`, stamp `i + 2` is written before dispatch `i`.
    pub fn create(device: &wgpu::Device, queue: &wgpu::Queue, dispatches: usize, per_dispatch: bool) -> Timestamps {
        let stamps = if per_dispatch { dispatches as u64 + 2 } else { 2 };
        let buffer = |usage| {
            device.create_buffer(&wgpu::BufferDescriptor {
                label: None,
                size: 8 * stamps,
                usage,
                mapped_at_creation: false,
            })
        };
        Timestamps {
            set: device.create_query_set(&wgpu::QuerySetDescriptor {
                label: None,
                ty: wgpu::QueryType::Timestamp,
                count: stamps as u32,
            }),
            resolve: buffer(wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC),
            readback: buffer(wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST),
            period_ns: queue.get_timestamp_period() as f64,
            per_dispatch,
        }
    }

    /// From the mapped stamps of a run: the pass's seconds, and each of `dispatches` dispatches' seconds (empty
    /// unless per dispatch).
    pub fn seconds(&self, mapped: &[u8], dispatches: usize) -> (f64, Vec<f64>) {
        let v: Vec<u64> = mapped.chunks_exact(8).map(|c| u64::from_le_bytes(c.try_into().unwrap_or([0; 8]))).collect();
        let at = |i: usize| v.get(i).copied().unwrap_or(0);
        let seconds = |a: u64, b: u64| b.saturating_sub(a) as f64 * self.period_ns * 1e-9;
        let total = seconds(at(0), at(1));
        let mut each = Vec::new();
        if self.per_dispatch {
            // Dispatch i runs from stamp i + 2 to stamp i + 3 (the last one ends at the pass's end).
            each =
                (0..dispatches).map(|i| seconds(at(i + 2), if i + 3 < v.len() { at(i + 3) } else { at(1) })).collect();
        }
        (total, each)
    }
}
