//! What differs between native and browser: clocks, waiting for the GPU, mapping futures, and pipeline creation
//! (in parallel threads natively; sequential in a browser, where the browser compiles asynchronously itself).

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

/// A stopwatch (always 0 on wasm32, which has no monotonic clock without JavaScript).
pub struct Clock {
    #[cfg(not(target_arch = "wasm32"))]
    start: std::time::Instant,
}

impl Clock {
    pub fn start() -> Clock {
        Clock {
            #[cfg(not(target_arch = "wasm32"))]
            start: std::time::Instant::now(),
        }
    }

    pub fn seconds(&self) -> f64 {
        #[cfg(not(target_arch = "wasm32"))]
        return self.start.elapsed().as_secs_f64();
        #[cfg(target_arch = "wasm32")]
        0.0
    }
}

type Slot = Arc<Mutex<(Option<Result<(), wgpu::BufferAsyncError>>, Option<Waker>)>>;

/// Resolves when a `map_async` callback has run.
pub struct Mapped(Slot);

impl Future for Mapped {
    type Output = Result<(), wgpu::BufferAsyncError>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let Ok(mut slot) = self.0.lock() else {
            return Poll::Ready(Err(wgpu::BufferAsyncError));
        };
        match slot.0.take() {
            Some(result) => Poll::Ready(result),
            None => {
                slot.1 = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

/// Maps all of `buffer` for reading.
pub fn map_read(_device: &wgpu::Device, buffer: &wgpu::Buffer) -> Mapped {
    let slot: Slot = Arc::default();
    let sink = slot.clone();
    buffer.map_async(wgpu::MapMode::Read, .., move |result| {
        if let Ok(mut s) = sink.lock() {
            s.0 = Some(result);
            if let Some(w) = s.1.take() {
                w.wake();
            }
        }
    });
    Mapped(slot)
}

/// Natively, blocks until the GPU has finished the submitted work and the map callbacks have run; in a browser the
/// event loop does this.
pub fn wait(_device: &wgpu::Device) {
    #[cfg(not(target_arch = "wasm32"))]
    let _ = _device.poll(wgpu::PollType::wait_indefinitely());
}

/// Creates the compute pipelines.
pub fn create_pipelines(
    device: &wgpu::Device,
    jobs: &[(&wgpu::ShaderModule, &str, wgpu::PipelineLayout)],
) -> Vec<wgpu::ComputePipeline> {
    let one = |(module, entry, layout): &(&wgpu::ShaderModule, &str, wgpu::PipelineLayout)| {
        device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: None,
            layout: Some(layout),
            module,
            entry_point: Some(entry),
            compilation_options: Default::default(),
            cache: None,
        })
    };
    #[cfg(not(target_arch = "wasm32"))]
    {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 16);
        if threads > 1 && jobs.len() > 1 {
            let chunk = jobs.len().div_ceil(threads);
            return std::thread::scope(|s| {
                let handles: Vec<_> =
                    jobs.chunks(chunk).map(|c| s.spawn(move || c.iter().map(one).collect::<Vec<_>>())).collect();
                handles.into_iter().flat_map(|h| h.join().unwrap_or_default()).collect()
            });
        }
    }
    jobs.iter().map(one).collect()
}
