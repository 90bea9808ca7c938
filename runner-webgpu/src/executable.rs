//! [`WebGpuExecutable`]: a model loaded on a GPU. Loading puts the other modules together in order (checks, device,
//! buffers, pipelines, bind groups, readback, timestamps) inside error scopes, so that anything wgpu rejects is a
//! load error; a run writes the inputs, submits the command buffer recorded ahead, and reads the outputs back.

use std::sync::{Arc, Mutex};

use wdnn_descriptor_spec::{Graph, TensorSignature};
use wdnn_runner_core::{Executable, LocalFuture, Result, RunnerError, Tensor, Weights, check_inputs, input_signature};

use crate::cache;
use crate::device::{self, request_adapter};
use crate::dispatch::{self, Io, Program, Step};
use crate::payload::check_payloads;
use crate::pipelines::{self, Pipelines};
use crate::shader_check;
use crate::timing::{LoadStats, PipelineCacheState, RunStats, Timestamps};
use crate::upload::Buffers;
use crate::{F16_NAME, NAME, WebGpuOptions, invalid, sync, unavailable};

/// The weights of a load: decoded already, or decoded by the load itself while its pipelines are created.
pub(crate) enum WeightSource<'a> {
    Decoded(&'a Weights),
    /// Natively only (a browser loads through `load_async` with decoded weights).
    #[cfg_attr(target_arch = "wasm32", allow(dead_code))]
    Decode(Box<dyn FnOnce() -> Result<Weights> + 'a>),
}

/// A model loaded on a GPU.
pub struct WebGpuExecutable {
    device: wgpu::Device,
    queue: wgpu::Queue,
    buffers: Buffers,
    pipelines: Vec<wgpu::ComputePipeline>,
    steps: Vec<Step>,
    /// The graph's inputs, checked on every run with runner-core's rules.
    signature: Vec<TensorSignature>,
    io: Io,
    timestamps: Option<Timestamps>,
    errors: Arc<Mutex<Vec<String>>>,
    stats: LoadStats,
    last_gpu_seconds: Option<f64>,
    last_profile: Vec<f64>,
    adapter_info: String,
    /// The next run's commands, recorded ahead.
    next: Option<wgpu::CommandBuffer>,
    /// Whether runs write timestamps (when the device has them): [`WebGpuExecutable::set_timestamps`].
    timing: bool,
    /// Whether the upload buffer is mapped for writing (it is between runs, unless a run failed).
    upload_mapped: bool,
    /// Block on the fence at once rather than poll it first.
    blocking_wait: bool,
    last_run: RunStats,
    /// What the load could not do but did without (a pipeline cache file that was ignored or not written).
    warnings: Vec<String>,
}

impl WebGpuExecutable {
    /// Finds an adapter and loads `graph` on it (the browser's entry point; natively too).
    pub async fn load_async(graph: &Graph, weights: &Weights, options: &WebGpuOptions) -> Result<WebGpuExecutable> {
        let adapter = request_adapter().await.map_err(unavailable)?;
        WebGpuExecutable::load_with(adapter, graph, WeightSource::Decoded(weights), options).await
    }

    pub(crate) async fn load_with(
        (_instance, adapter): (wgpu::Instance, wgpu::Adapter),
        graph: &Graph,
        weights: WeightSource<'_>,
        options: &WebGpuOptions,
    ) -> Result<WebGpuExecutable> {
        let clock = sync::Clock::start();
        graph.validate("webgpu graph descriptor")?;
        if graph.backend != NAME && graph.backend != F16_NAME {
            return Err(invalid(format!("the descriptor is for backend `{}`", graph.backend)));
        }
        check_payloads(graph)?;
        let workgroup_bytes = shader_check::check_shaders(graph).map_err(invalid)?;
        let signature = input_signature(graph)?;
        let mut stats = LoadStats { checks: clock.seconds(), ..LoadStats::default() };
        let gpu = device::open(&adapter, graph, options, workgroup_bytes).await?;
        let device = gpu.device;
        stats.device = clock.seconds() - stats.checks;
        let validation = device.push_error_scope(wgpu::ErrorFilter::Validation);
        let oom = device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);

        let (keys, pipeline_of) = pipelines::distinct(graph);
        stats.shaders = {
            let mut shaders: Vec<u32> = keys.iter().map(|k| k.0).collect();
            shaders.sort_unstable();
            shaders.dedup();
            shaders.len()
        };
        stats.distinct_pipelines = keys.len();
        let mut warnings = Vec::new();
        let cache_dir = options.pipeline_cache.as_deref().filter(|_| gpu.pipeline_cache);
        stats.pipeline_cache = match (&options.pipeline_cache, cache_dir) {
            (None, _) => PipelineCacheState::Off,
            (Some(_), None) => PipelineCacheState::Unsupported,
            (Some(_), Some(_)) => PipelineCacheState::Cold,
        };
        let cache_start = sync::Clock::start();
        let mut file = cache_dir.and_then(|dir| {
            let name = cache::file_name(&gpu.info, options.trusted_shaders, graph, &keys)?;
            Some(cache::read(&dir.join(name)))
        });
        let mut cache = None;
        if let Some(f) = file.as_mut() {
            let create = |data: Option<&[u8]>| {
                // SAFETY: the data is what `PipelineCache::get_data` returned for this adapter class, as the file's
                // checksum (checked by `cache::read`) shows; wgpu checks its own header on top (driver, adapter)
                // and, with `fallback`, starts empty where that is stale.
                unsafe {
                    device.create_pipeline_cache(&wgpu::PipelineCacheDescriptor {
                        label: Some("wdnn pipelines"),
                        data,
                        fallback: true,
                    })
                }
            };
            // wgpu refuses data made for another device even with `fallback`: then the cache starts empty.
            let scope = device.push_error_scope(wgpu::ErrorFilter::Validation);
            let made = create(f.data.as_deref());
            cache = Some(match scope.pop().await {
                None => made,
                Some(e) => {
                    f.warning =
                        Some(format!("pipeline cache {} is ignored: {e}; compiling without it", f.path.display()));
                    f.state = PipelineCacheState::Rejected;
                    f.data = None;
                    create(None)
                }
            });
        }
        let cache_seconds = cache_start.seconds();
        // The weights are uploaded while the pipelines compile (natively: two threads).
        let (uploaded, compiled) = sync::join(
            || {
                let upload = sync::Clock::start();
                let decoded;
                let (weights, decode_seconds) = match weights {
                    WeightSource::Decoded(w) => (w, 0.0),
                    WeightSource::Decode(decode) => match decode() {
                        Ok(w) => {
                            decoded = w;
                            (&decoded, upload.seconds())
                        }
                        Err(e) => return (Err(e), upload.seconds(), 0.0),
                    },
                };
                (Buffers::upload(&device, graph, weights), decode_seconds, upload.seconds() - decode_seconds)
            },
            || {
                let pipes = sync::Clock::start();
                let created =
                    Pipelines::create(&device, graph, (&keys, pipeline_of), options.trusted_shaders, cache.as_ref());
                (created, pipes.seconds())
            },
        );
        let (buffers, decode_seconds, upload_seconds) = uploaded;
        let (pipelines, pipeline_seconds) =
            compiled.ok_or_else(|| unavailable("creating the compute pipelines failed".into()))?;
        let (buffers, pipelines) = (buffers?, pipelines?);
        stats.decode = decode_seconds;
        stats.upload = upload_seconds;
        stats.pipelines = cache_seconds + pipeline_seconds;

        let bind = sync::Clock::start();
        let steps = dispatch::bind(&device, graph, &pipelines, &buffers)?;
        let io = Io::plan(&device, graph, &buffers)?;
        let timestamps = gpu.timestamps.then(|| Timestamps::create(&device, &gpu.queue, steps.len(), gpu.per_dispatch));
        let failure = oom.pop().await.or(validation.pop().await);
        if let Some(e) = failure {
            return Err(unavailable(format!("creating the model's GPU resources failed: {e}")));
        }
        if let Some(e) = gpu.errors.lock().ok().and_then(|mut v| v.drain(..).next()) {
            return Err(unavailable(format!("creating the model's GPU resources failed: {e}")));
        }
        stats.bind = bind.seconds();
        if let (Some(file), Some(cache)) = (file, cache) {
            let write = sync::Clock::start();
            stats.pipeline_cache = file.state;
            warnings.extend(file.warning);
            let had = file.data.as_ref().map_or(0, |d| d.len());
            stats.cache_bytes = had as u64;
            // Written unless the load started from data that already held every pipeline (wgpu starts from
            // nothing where a driver update made the file stale: the data it returns then differs in size).
            if let Some(data) = cache.get_data()
                && (file.state != PipelineCacheState::Warm || data.len() != had)
            {
                if file.state == PipelineCacheState::Warm {
                    stats.pipeline_cache = PipelineCacheState::Stale;
                }
                stats.cache_bytes = data.len() as u64;
                if let Err(e) = cache::write(&file.path, &data) {
                    warnings.push(e);
                }
            }
            stats.cache_write = write.seconds();
        }
        stats.total = clock.seconds();
        let mut exe = WebGpuExecutable {
            device,
            queue: gpu.queue,
            buffers,
            pipelines: pipelines.pipelines,
            steps,
            signature,
            io,
            timestamps,
            errors: gpu.errors,
            stats,
            last_gpu_seconds: None,
            last_profile: Vec::new(),
            adapter_info: gpu.adapter_info,
            next: None,
            timing: true,
            upload_mapped: true,
            blocking_wait: options.blocking_wait,
            last_run: RunStats::default(),
            warnings,
        };
        exe.next = Some(exe.encode());
        Ok(exe)
    }

    /// Destroys the device, as a driver reset or a browser reclaiming the GPU would: every later run fails with an
    /// error (a fault-injection hook for tests; a real loss looks the same to the runner).
    pub fn destroy_device(&self) {
        self.device.destroy();
    }

    /// Bytes the device's memory allocator holds for this model (allocated, reserved), where the backend reports
    /// them (Vulkan, DX12): how a soak test sees GPU memory grow.
    pub fn device_memory(&self) -> Option<(u64, u64)> {
        self.device.generate_allocator_report().map(|r| (r.total_allocated_bytes, r.total_reserved_bytes))
    }

    /// Seconds spent loading.
    pub fn stats(&self) -> LoadStats {
        self.stats
    }

    /// What the load did without, for the caller to show: a pipeline cache file ignored (damaged, unreadable) or not
    /// written. None of these fails a load or changes a result.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
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

    /// Where each part of the last run's wall time went.
    pub fn last_run(&self) -> RunStats {
        self.last_run
    }

    /// Turns the timestamps of the following runs off or back on (where the device has them): they cost a resolve,
    /// a copy and a second mapping per run, which a caller timing wall time may not want.
    pub fn set_timestamps(&mut self, on: bool) {
        if self.timing != on {
            self.timing = on;
            self.last_gpu_seconds = None;
            self.next = Some(self.encode());
        }
    }

    fn stamps(&self) -> Option<&Timestamps> {
        self.timestamps.as_ref().filter(|_| self.timing)
    }

    fn encode(&self) -> wgpu::CommandBuffer {
        dispatch::encode(
            &self.device,
            Program {
                steps: &self.steps,
                pipelines: &self.pipelines,
                buffers: &self.buffers,
                io: &self.io,
                timestamps: self.stamps(),
            },
        )
    }

    /// Runs the model: `inputs` in the graph's input order, checked for count, dtype and shape by runner-core's
    /// [`check_inputs`] (the rules a `Session` applies).
    ///
    /// The inputs go straight into the upload buffer (mapped since the previous run), the command buffer recorded
    /// during the previous run is submitted, the next one is recorded while the GPU works, and the outputs are read
    /// from the readback buffer once it maps. Natively the wait polls the fence for a while before it blocks
    /// (unless [`WebGpuOptions::blocking_wait`]): a blocked thread wakes up well after the GPU is done.
    pub async fn run_async(&mut self, inputs: &[Tensor]) -> Result<Vec<Tensor>> {
        let clock = sync::Clock::start();
        let mut stats = RunStats::default();
        check_inputs(&self.signature, inputs)?;
        let fail = |what: &str| RunnerError::Kernel {
            kernel: "(run)".into(),
            op: "-".into(),
            detail: format!("mapping the {what} failed"),
        };
        if !self.upload_mapped {
            let again = sync::map(&self.device, &self.io.upload, wgpu::MapMode::Write);
            sync::wait_for(&self.device, &[&again], false);
            again.await.map_err(|_| fail("input buffer"))?;
            self.upload_mapped = true;
        }
        {
            let mut view = self.io.upload.get_mapped_range_mut(..).map_err(|e| fail(&e.to_string()))?;
            for (i, t) in self.io.inputs.iter().zip(inputs) {
                let bytes = t.bytes();
                let at = i.staged_at as usize;
                view.slice(at..at + bytes.len()).copy_from_slice(bytes);
            }
        }
        self.io.upload.unmap();
        self.upload_mapped = false;
        stats.write = clock.seconds();
        let commands = match self.next.take() {
            Some(c) => c,
            None => self.encode(),
        };
        self.queue.submit([commands]);
        stats.submit = clock.seconds();
        let readback = &self.io.readback;
        let mapped = sync::map_read(&self.device, readback);
        let upload = sync::map(&self.device, &self.io.upload, wgpu::MapMode::Write);
        let stamps = self.stamps().map(|t| sync::map_read(&self.device, &t.readback));
        // Recorded while the GPU works: it depends on nothing but the executable.
        self.next = Some(self.encode());
        stats.record = clock.seconds();
        let mut pending = vec![&mapped, &upload];
        pending.extend(stamps.as_ref());
        sync::wait_for(&self.device, &pending, !self.blocking_wait);
        stats.wait = clock.seconds();
        // The upload buffer's state first, so that no early return below leaves it unknown.
        self.upload_mapped = upload.await.is_ok();
        if mapped.await.is_err() {
            // Say why where wgpu said it (a lost device, a validation error), not only that the mapping failed.
            let reason = self.errors.lock().ok().and_then(|mut v| v.drain(..).next());
            return Err(match reason {
                Some(detail) => RunnerError::Kernel { kernel: "(run)".into(), op: "-".into(), detail },
                None => fail("outputs"),
            });
        }
        if let Some(e) = self.errors.lock().ok().and_then(|mut v| v.drain(..).next()) {
            readback.unmap();
            return Err(RunnerError::Kernel { kernel: "(run)".into(), op: "-".into(), detail: e });
        }
        let mut results = Vec::with_capacity(self.io.outputs.len());
        {
            let view = readback.get_mapped_range(..).map_err(|e| fail(&e.to_string()))?;
            for o in &self.io.outputs {
                let bytes = (o.dtype.size() as u64) * o.shape.iter().product::<u64>();
                let start = o.staged_at as usize;
                results.push(Tensor::from_bytes(o.dtype, &o.shape, view[start..start + bytes as usize].to_vec())?);
            }
        }
        readback.unmap();
        if let (Some(stamps), Some(t)) = (stamps, self.timestamps.as_ref().filter(|_| self.timing)) {
            stamps.await.map_err(|_| fail("timestamps"))?;
            {
                let view = t.readback.get_mapped_range(..).map_err(|e| fail(&e.to_string()))?;
                let (total, each) = t.seconds(&view, self.steps.len());
                self.last_gpu_seconds = Some(total);
                if t.per_dispatch {
                    self.last_profile = each;
                }
            }
            t.readback.unmap();
        }
        stats.read = clock.seconds();
        // Cumulative stamps to durations.
        stats.read -= stats.wait;
        stats.wait -= stats.record;
        stats.record -= stats.submit;
        stats.submit -= stats.write;
        self.last_run = stats;
        Ok(results)
    }
}

impl Executable for WebGpuExecutable {
    #[cfg(not(target_arch = "wasm32"))]
    fn run(&mut self, inputs: &[Tensor]) -> Result<Vec<Tensor>> {
        pollster::block_on(WebGpuExecutable::run_async(self, inputs))
    }

    #[cfg(target_arch = "wasm32")]
    fn run(&mut self, _inputs: &[Tensor]) -> Result<Vec<Tensor>> {
        Err(unavailable("a browser cannot wait for the GPU synchronously: use run_async".into()))
    }

    fn run_async<'a>(&'a mut self, inputs: &'a [Tensor]) -> LocalFuture<'a, Result<Vec<Tensor>>> {
        Box::pin(WebGpuExecutable::run_async(self, inputs))
    }
}
