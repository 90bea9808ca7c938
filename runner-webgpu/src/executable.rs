//! [`WebGpuExecutable`]: a model loaded on a GPU. Loading puts the other modules together in order (checks, device,
//! buffers, pipelines, bind groups, readback, timestamps) inside error scopes, so that anything wgpu rejects is a
//! load error; a run writes the inputs, submits the command buffer recorded ahead, and reads the outputs back.

use std::sync::{Arc, Mutex};

use wdnn_descriptor_spec::{Graph, TensorSignature};
use wdnn_runner_core::{Executable, LocalFuture, Result, RunnerError, Tensor, Weights, check_inputs, input_signature};

use crate::device::{self, request_adapter};
use crate::dispatch::{self, Io, Program, Step};
use crate::payload::check_payloads;
use crate::pipelines::Pipelines;
use crate::timing::{LoadStats, Timestamps};
use crate::upload::Buffers;
use crate::{NAME, WebGpuOptions, invalid, round4, sync, unavailable};

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
}

impl WebGpuExecutable {
    /// Finds an adapter and loads `graph` on it (the browser's entry point; natively too).
    pub async fn load_async(graph: &Graph, weights: &Weights, options: &WebGpuOptions) -> Result<WebGpuExecutable> {
        let adapter = request_adapter().await.map_err(unavailable)?;
        WebGpuExecutable::load_with(adapter, graph, weights, options).await
    }

    pub(crate) async fn load_with(
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
        let signature = input_signature(graph)?;
        let gpu = device::open(&adapter, graph, options).await?;
        let device = gpu.device;
        let mut stats = LoadStats { device: clock.seconds(), ..LoadStats::default() };
        let validation = device.push_error_scope(wgpu::ErrorFilter::Validation);
        let oom = device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);

        let upload = sync::Clock::start();
        let buffers = Buffers::upload(&device, graph, weights)?;
        stats.upload = upload.seconds();

        let pipes = sync::Clock::start();
        let pipelines = Pipelines::create(&device, graph, options.trusted_shaders)?;
        stats.pipelines = pipes.seconds();

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

    fn encode(&self) -> wgpu::CommandBuffer {
        dispatch::encode(
            &self.device,
            Program {
                steps: &self.steps,
                pipelines: &self.pipelines,
                buffers: &self.buffers,
                io: &self.io,
                timestamps: self.timestamps.as_ref(),
            },
        )
    }

    /// Runs the model: `inputs` in the graph's input order, checked for count, dtype and shape by runner-core's
    /// [`check_inputs`] (the rules a `Session` applies).
    pub async fn run_async(&mut self, inputs: &[Tensor]) -> Result<Vec<Tensor>> {
        check_inputs(&self.signature, inputs)?;
        for (offset, t) in self.io.inputs.iter().zip(inputs) {
            let bytes = t.bytes();
            if bytes.len() % 4 == 0 {
                self.queue.write_buffer(&self.buffers.arena, *offset, bytes);
            } else {
                let mut padded = bytes.to_vec();
                padded.resize(round4(bytes.len() as u64) as usize, 0);
                self.queue.write_buffer(&self.buffers.arena, *offset, &padded);
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
        let readback = &self.io.readback;
        let mapped = sync::map_read(&self.device, readback);
        let stamps = self.timestamps.as_ref().map(|t| sync::map_read(&self.device, &t.readback));
        sync::wait(&self.device);
        let fail = |what: &str| RunnerError::Kernel {
            kernel: "(run)".into(),
            op: "-".into(),
            detail: format!("mapping the {what} failed"),
        };
        mapped.await.map_err(|_| fail("outputs"))?;
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
        if let (Some(stamps), Some(t)) = (stamps, &self.timestamps) {
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
