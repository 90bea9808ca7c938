//! Soak and fault tests on the WebGPU backend (lavapipe in CI; skipped, saying so, where no adapter exists): a
//! thousand runs with flat memory, two hundred loads and drops, sessions on several threads, a device lost mid-run,
//! and an adapter whose limits are too small for the model (issue 14).

use std::path::Path;

use wdnn_runner_core::hostile::CountingAllocator;
use wdnn_runner_core::{Backend, Bundle, Session, Tensor, load};
use wdnn_runner_fallback::FallbackBackend;
use wdnn_runner_webgpu::{WebGpuBackend, WebGpuOptions};

#[global_allocator]
static ALLOC: CountingAllocator = CountingAllocator;

fn bundle() -> Bundle {
    Bundle::open(Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/bundles/tiny-gemm")).expect("opens")
}

fn adapter() -> Option<WebGpuBackend> {
    let backend = WebGpuBackend::default();
    match backend.probe() {
        Ok(()) => Some(backend),
        Err(reason) => {
            eprintln!("skipped: no WebGPU adapter ({reason})");
            None
        }
    }
}

fn session(backend: &WebGpuBackend) -> Session {
    let s = load(&bundle(), &[backend as &dyn Backend], |_, _| {}).expect("loads on webgpu");
    assert_eq!(s.backend(), "webgpu");
    s
}

fn input(seed: f32) -> Tensor {
    Tensor::new(&[2, 4], &(0..8).map(|i| seed + i as f32 * 0.25).collect::<Vec<f32>>()).expect("input")
}

fn rss() -> usize {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1).and_then(|p| p.parse::<usize>().ok()))
        .map_or(0, |pages| pages * 4096)
}

fn reference(seed: f32) -> Vec<f32> {
    let mut s = load(&bundle(), &[&FallbackBackend as &dyn Backend], |_, _| {}).expect("loads");
    s.run(&[("x", input(seed))]).expect("runs")[0].1.to_vec::<f32>().expect("f32")
}

fn close(a: &[f32], b: &[f32]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() <= 1e-5 * (1.0 + y.abs()))
}

fn a_thousand_runs_keep_memory_flat(backend: &WebGpuBackend) {
    use wdnn_runner_core::Executable;
    let (graph, weights) = bundle().load_backend("webgpu", |_, _| {}).expect("reads");
    let mut exe = backend.load_webgpu(&graph, &weights).expect("loads");
    let expected = reference(0.5);
    for _ in 0..20 {
        exe.run(&[input(0.5)]).expect("runs");
    }
    let (heap0, rss0, gpu0) = (CountingAllocator::live(), rss(), exe.device_memory());
    for i in 0..1000 {
        let out = exe.run(&[input(0.5)]).expect("runs");
        assert!(close(&out[0].to_vec::<f32>().unwrap(), &expected), "run {i} differs");
    }
    let (heap1, rss1, gpu1) = (CountingAllocator::live(), rss(), exe.device_memory());
    println!(
        "webgpu 1000 runs: heap {heap0} -> {heap1} bytes, RSS {rss0} -> {rss1} bytes, device allocations \
         (allocated, reserved) {gpu0:?} -> {gpu1:?} bytes"
    );
    assert!(heap1 <= heap0 + (64 << 10), "the heap grew from {heap0} to {heap1} bytes over 1000 runs");
    assert!(rss1 <= rss0 + (16 << 20), "RSS grew from {rss0} to {rss1} bytes over 1000 runs");
    assert_eq!(gpu0, gpu1, "the device's allocations changed over 1000 runs");
}

fn loading_and_dropping_200_times_frees_everything(backend: &WebGpuBackend) {
    for _ in 0..5 {
        session(backend).run(&[("x", input(1.0))]).expect("runs");
    }
    let (heap0, rss0) = (CountingAllocator::live(), rss());
    for _ in 0..200 {
        session(backend).run(&[("x", input(1.0))]).expect("runs");
    }
    let (heap1, rss1) = (CountingAllocator::live(), rss());
    println!("webgpu 200 loads: heap {heap0} -> {heap1} bytes, RSS {rss0} -> {rss1} bytes");
    assert!(heap1 <= heap0 + (256 << 10), "the heap grew from {heap0} to {heap1} bytes over 200 loads");
    assert!(rss1 <= rss0 + (32 << 20), "RSS grew from {rss0} to {rss1} bytes over 200 loads");
}

fn sessions_run_on_several_threads_at_once(backend: &WebGpuBackend) {
    let expected: Vec<Vec<f32>> = (0..3).map(|t| reference(t as f32)).collect();
    let sessions: Vec<Session> = (0..3).map(|_| session(backend)).collect();
    std::thread::scope(|scope| {
        let handles: Vec<_> = sessions
            .into_iter()
            .enumerate()
            .map(|(t, mut s)| {
                let expected = &expected[t];
                scope.spawn(move || {
                    for _ in 0..50 {
                        let out = s.run(&[("x", input(t as f32))]).expect("runs");
                        assert!(close(&out[0].1.to_vec::<f32>().unwrap(), expected));
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().expect("a thread panicked");
        }
    });
}

fn a_lost_device_gives_an_error_and_a_later_load_works(backend: &WebGpuBackend) {
    let (graph, weights) = bundle().load_backend("webgpu", |_, _| {}).expect("reads");
    let mut exe = backend.load_webgpu(&graph, &weights).expect("loads");
    use wdnn_runner_core::Executable;
    exe.run(&[input(0.0)]).expect("runs before the loss");
    exe.destroy_device();
    let err = exe.run(&[input(0.0)]).expect_err("a run on a lost device fails");
    println!("after the device was destroyed: {err}");
    assert!(err.to_string().contains("device was lost"), "{err}");
    drop(exe);
    let mut again = session(backend);
    let out = again.run(&[("x", input(0.0))]).expect("a new load runs");
    assert!(close(&out[0].1.to_vec::<f32>().unwrap(), &reference(0.0)));
}

fn an_adapter_too_small_for_the_model_falls_through_with_the_reason() {
    let small = WebGpuBackend::new(WebGpuOptions {
        max_limits: Some(wgpu::Limits { max_storage_buffer_binding_size: 16, ..wgpu::Limits::default() }),
        ..WebGpuOptions::default()
    });
    let s = load(&bundle(), &[&small as &dyn Backend, &FallbackBackend], |_, _| {}).expect("falls through");
    assert_eq!(s.backend(), "fallback");
    let reason = &s.skipped()[0].reason;
    assert!(reason.contains("maxStorageBufferBindingSize is 16"), "{reason}");
}

/// One test, so that the heap counts (process-wide) see no other test's allocations, nor the test harness recording
/// a finished test meanwhile.
#[test]
fn soak_and_faults() {
    let Some(backend) = adapter() else { return };
    a_thousand_runs_keep_memory_flat(&backend);
    loading_and_dropping_200_times_frees_everything(&backend);
    sessions_run_on_several_threads_at_once(&backend);
    a_lost_device_gives_an_error_and_a_later_load_works(&backend);
    an_adapter_too_small_for_the_model_falls_through_with_the_reason();
}
