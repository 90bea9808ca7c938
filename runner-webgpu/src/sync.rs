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

#[cfg(not(target_arch = "wasm32"))]
impl Mapped {
    /// Whether the callback has run.
    pub fn is_ready(&self) -> bool {
        self.0.lock().map_or(true, |s| s.0.is_some())
    }
}

/// Maps all of `buffer` for reading.
pub fn map_read(device: &wgpu::Device, buffer: &wgpu::Buffer) -> Mapped {
    map(device, buffer, wgpu::MapMode::Read)
}

/// Maps all of `buffer` in `mode`.
pub fn map(_device: &wgpu::Device, buffer: &wgpu::Buffer, mode: wgpu::MapMode) -> Mapped {
    let slot: Slot = Arc::default();
    let sink = slot.clone();
    buffer.map_async(mode, .., move |result| {
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
#[cfg(not(target_arch = "wasm32"))]
pub fn wait(_device: &wgpu::Device) {
    #[cfg(not(target_arch = "wasm32"))]
    let _ = _device.poll(wgpu::PollType::wait_indefinitely());
}

/// Longest a run spins on the fence before it blocks.
#[cfg(not(target_arch = "wasm32"))]
const SPIN: std::time::Duration = std::time::Duration::from_millis(50);

/// Natively, waits until every one of `pending` has mapped: by polling the device in a loop for up to [`SPIN`]
/// (what CUDA's default synchronization does: a blocking wait on a fence returns tens of microseconds after the GPU
/// finished), then by blocking. `spin: false` blocks at once. In a browser the event loop does this.
pub fn wait_for(_device: &wgpu::Device, _pending: &[&Mapped], _spin: bool) {
    #[cfg(not(target_arch = "wasm32"))]
    {
        if _spin {
            let start = std::time::Instant::now();
            while start.elapsed() < SPIN {
                let _ = _device.poll(wgpu::PollType::Poll);
                if _pending.iter().all(|m| m.is_ready()) {
                    return;
                }
                std::hint::spin_loop();
            }
        }
        wait(_device);
    }
}

/// `f` of every item, in order, in up to 16 parallel threads, each taking the next item not yet taken (costs vary a
/// lot: one shader compiles ten times longer than another, one weight is a hundred times larger). An item whose
/// thread panicked is missing from the result (the caller compares the lengths).
#[cfg(not(target_arch = "wasm32"))]
pub fn parallel_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 16);
    if threads == 1 || items.len() < 2 {
        return items.iter().map(f).collect();
    }
    let (f, next) = (&f, &AtomicUsize::new(0));
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads.min(items.len()))
            .map(|_| {
                s.spawn(move || {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(x) = items.get(i) else { break done };
                        done.push((i, f(x)));
                    }
                })
            })
            .collect();
        let mut all: Vec<(usize, R)> =
            handles.into_iter().flat_map(|h| h.join().unwrap_or_else(|_| Vec::new())).collect();
        all.sort_by_key(|(i, _)| *i);
        all.into_iter().map(|(_, r)| r).collect()
    })
}

/// `f` of every item, in order (a browser compiles asynchronously itself).
#[cfg(target_arch = "wasm32")]
pub fn parallel_map<T, R>(items: &[T], f: impl Fn(&T) -> R) -> Vec<R> {
    items.iter().map(f).collect()
}

/// Runs `a` and `b` and returns both results: natively `b` in another thread while `a` runs here (uploading weights
/// while the pipelines compile), one after the other in a browser.
#[cfg(not(target_arch = "wasm32"))]
pub fn join<RA, RB: Send>(a: impl FnOnce() -> RA, b: impl FnOnce() -> RB + Send) -> (RA, Option<RB>) {
    std::thread::scope(|s| {
        let handle = s.spawn(b);
        let ra = a();
        (ra, handle.join().ok())
    })
}

/// Runs `a` and `b` and returns both results: natively `b` in another thread while `a` runs here (uploading weights
/// while the pipelines compile), one after the other in a browser.
#[cfg(target_arch = "wasm32")]
pub fn join<RA, RB>(a: impl FnOnce() -> RA, b: impl FnOnce() -> RB) -> (RA, Option<RB>) {
    let ra = a();
    (ra, Some(b()))
}
