//! One kernel's tiles split across threads.
//!
//! Every kernel counts its work items (`tiles()`) and computes any sub-range of them, writing only the output values
//! of those tiles, so a kernel call becomes [`for_tiles`]`(threads, n, |tiles, thread| kernel.run(…, tiles))`. The
//! range is cut into chunks that the threads claim in turn from one counter; each output value is still computed by
//! one thread, in the order one thread would compute it, so results are bit-identical whatever the thread count.
//! The `thread` index (`0..threads`) selects per-thread scratch.
//!
//! Where the threads come from:
//! - **wasm32 with `+atomics`** (the package's threaded module): a pool of Web Workers (browsers) or `worker_threads`
//!   (Node), started by the JavaScript wrapper over the module's shared memory. Each worker calls [`worker_loop`]
//!   and sleeps in `memory.atomic.wait32` between kernels; the calling thread takes chunks itself and then spins
//!   until the workers are done (a browser's main thread may not block).
//! - **native**: scoped threads per call, so that `cargo test` checks the split; native hosts are served by the
//!   other backends, and one thread is the default.
//! - **wasm32 without atomics** (the default modules): one thread.

use std::ops::Range;
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};

/// A kernel over one tile range, on thread `thread` of the call.
pub type TileFn<'a> = dyn Fn(Range<usize>, usize) -> Result<(), String> + Sync + 'a;

/// Chunks per thread: enough to even out tiles of unequal cost, few enough to keep the counter cold.
const CHUNKS_PER_THREAD: usize = 4;

/// The threads this build can run a kernel on: 1, the workers that joined the pool plus the caller (wasm32 with
/// atomics), or any number (native: scoped threads are started per call).
pub fn available() -> usize {
    #[cfg(all(target_arch = "wasm32", target_feature = "atomics"))]
    {
        pool::workers() + 1
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        usize::MAX
    }
    #[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
    {
        1
    }
}

/// Runs `f` over the tiles `0..n` on up to `threads` threads (the caller's among them); the first error wins.
pub fn for_tiles(threads: usize, n: usize, f: &TileFn) -> Result<(), String> {
    let threads = threads.clamp(1, available()).min(n);
    if threads <= 1 {
        return if n == 0 { Ok(()) } else { f(0..n, 0) };
    }
    let job = Job {
        f,
        n,
        chunk: n.div_ceil(threads * CHUNKS_PER_THREAD).max(1),
        next: AtomicUsize::new(0),
        error: AtomicPtr::new(core::ptr::null_mut()),
    };
    run_job(&job, threads);
    let error = job.error.swap(core::ptr::null_mut(), Ordering::Acquire);
    if error.is_null() {
        Ok(())
    } else {
        // SAFETY: a non-null pointer is the one `Job::work` leaked from a Box and nobody else took.
        Err(*unsafe { Box::from_raw(error) })
    }
}

/// One [`for_tiles`] call as the threads share it.
struct Job<'a> {
    f: &'a TileFn<'a>,
    n: usize,
    chunk: usize,
    next: AtomicUsize,
    /// The first error, boxed (a lock could block, which a browser's main thread may not do).
    error: AtomicPtr<String>,
}

impl Job<'_> {
    /// Claims and runs chunks until none is left.
    fn work(&self, thread: usize) {
        loop {
            let start = self.next.fetch_add(self.chunk, Ordering::Relaxed);
            if start >= self.n {
                return;
            }
            if let Err(e) = (self.f)(start..(start + self.chunk).min(self.n), thread) {
                let boxed = Box::into_raw(Box::new(e));
                let null = core::ptr::null_mut();
                if self.error.compare_exchange(null, boxed, Ordering::AcqRel, Ordering::Relaxed).is_err() {
                    // SAFETY: not published: this thread still owns it.
                    drop(unsafe { Box::from_raw(boxed) });
                }
                // Nothing after a failed kernel is used: stop handing out chunks.
                self.next.store(self.n, Ordering::Relaxed);
            }
        }
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn run_job(job: &Job, threads: usize) {
    std::thread::scope(|s| {
        for thread in 1..threads {
            s.spawn(move || job.work(thread));
        }
        job.work(0);
    });
}

#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
fn run_job(job: &Job, _threads: usize) {
    job.work(0);
}

#[cfg(all(target_arch = "wasm32", target_feature = "atomics"))]
fn run_job(job: &Job, threads: usize) {
    pool::run(job, threads - 1);
}

#[cfg(all(target_arch = "wasm32", target_feature = "atomics"))]
pub use pool::{start_pool, worker_failed, worker_loop};

/// The worker pool of the threaded wasm32 module.
///
/// State is a few atomics in the shared memory. `STATE` packs a job counter with the number of workers asked to take
/// part (the low [`PARTICIPANT_BITS`] bits), so that a worker reads both in one load: a worker that wakes late
/// cannot mistake a later job's count for the one it woke for. The workers asked (indices `1..=participants`) each
/// decrement `PENDING` once; the caller waits for zero before its job, which lives on its stack, goes away.
#[cfg(all(target_arch = "wasm32", target_feature = "atomics"))]
mod pool {
    use core::arch::wasm32::{memory_atomic_notify, memory_atomic_wait32};
    use std::sync::atomic::{AtomicBool, AtomicI32, AtomicPtr, AtomicUsize, Ordering};

    use super::Job;

    const PARTICIPANT_BITS: u32 = 6;
    /// The most workers a pool can hold.
    pub const MAX_WORKERS: usize = (1 << PARTICIPANT_BITS) - 1;

    static WORKERS: AtomicUsize = AtomicUsize::new(0);
    static STATE: AtomicI32 = AtomicI32::new(0);
    static PENDING: AtomicI32 = AtomicI32::new(0);
    static JOB: AtomicPtr<()> = AtomicPtr::new(core::ptr::null_mut());
    static FAILED: AtomicBool = AtomicBool::new(false);

    /// Workers that joined.
    pub fn workers() -> usize {
        WORKERS.load(Ordering::Acquire)
    }

    /// Makes `count` workers, indices `1..=count`, available to kernels. The wrapper calls it once every worker has
    /// instantiated the module and is about to enter [`worker_loop`]; until then kernels run on the caller alone.
    pub fn start_pool(count: usize) {
        WORKERS.store(count.min(MAX_WORKERS), Ordering::Release);
    }

    /// A worker's life: sleep until a job asks for this worker, take chunks of it, report, sleep again. Never
    /// returns; `index` is the worker's number, `1..=count` of [`start_pool`].
    pub fn worker_loop(index: usize) -> ! {
        let mut seen = 0;
        loop {
            let state = STATE.load(Ordering::Acquire);
            if state == seen {
                // SAFETY: the address is a valid, aligned i32 in the shared memory; wait32 returns on a notify,
                // or at once when the value already differs.
                unsafe { memory_atomic_wait32(STATE.as_ptr(), seen, -1) };
                continue;
            }
            seen = state;
            let participants = (state & ((1 << PARTICIPANT_BITS) - 1)) as usize;
            if index > participants {
                continue;
            }
            // SAFETY: the caller published its job before STATE and keeps it alive until PENDING reaches zero,
            // which needs this worker's decrement below.
            let job = unsafe { &*JOB.load(Ordering::Acquire).cast::<Job<'static>>() };
            job.work(index);
            if PENDING.fetch_sub(1, Ordering::AcqRel) == 1 {
                // SAFETY: as above, for PENDING.
                unsafe { memory_atomic_notify(PENDING.as_ptr(), 1) };
            }
        }
    }

    /// Called by the wrapper when a worker's loop ended in a trap (a panic aborts its thread): the kernel it was
    /// running cannot finish, so the caller stops waiting and fails too rather than spinning forever.
    pub fn worker_failed() {
        FAILED.store(true, Ordering::Release);
    }

    /// Runs `job` on the caller and up to `helpers` workers.
    pub fn run(job: &Job, helpers: usize) {
        let participants = helpers.min(workers());
        if participants == 0 {
            job.work(0);
            return;
        }
        JOB.store((job as *const Job).cast_mut().cast(), Ordering::Release);
        PENDING.store(participants as i32, Ordering::Release);
        let counter = (STATE.load(Ordering::Relaxed) >> PARTICIPANT_BITS).wrapping_add(1);
        let mut state = (counter << PARTICIPANT_BITS) | participants as i32;
        if state == 0 {
            // Zero is the workers' initial `seen`: never publish it.
            state = (1 << PARTICIPANT_BITS) | participants as i32;
        }
        STATE.store(state, Ordering::Release);
        // SAFETY: a valid, aligned i32 in the shared memory.
        unsafe { memory_atomic_notify(STATE.as_ptr(), u32::MAX) };
        job.work(0);
        while PENDING.load(Ordering::Acquire) != 0 {
            if FAILED.load(Ordering::Acquire) {
                panic!("a worker thread of the wasm backend failed (its error is on the console)");
            }
            core::hint::spin_loop();
        }
        JOB.store(core::ptr::null_mut(), Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tile_runs_once_whatever_the_thread_count() {
        for threads in [1, 2, 3, 8] {
            for n in [0, 1, 5, 64, 1000] {
                let hits: Vec<AtomicUsize> = (0..n).map(|_| AtomicUsize::new(0)).collect();
                for_tiles(threads, n, &|tiles, thread| {
                    assert!(thread < threads.max(1));
                    for t in tiles {
                        hits[t].fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(())
                })
                .unwrap();
                assert!(hits.iter().all(|h| h.load(Ordering::Relaxed) == 1), "{threads} threads, {n} tiles");
            }
        }
    }

    #[test]
    fn an_error_in_any_chunk_is_returned() {
        let result = for_tiles(4, 100, &|tiles, _| if tiles.contains(&57) { Err("tile 57".into()) } else { Ok(()) });
        assert_eq!(result, Err("tile 57".to_string()));
    }
}
