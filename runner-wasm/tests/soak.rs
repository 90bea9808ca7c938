#![cfg(not(target_arch = "wasm32"))]
//! Soak tests on the SIMD backend (natively): a thousand runs in one process with flat memory, two hundred loads and
//! drops, sessions on several threads at once (issue 14). Memory is measured two ways: live heap bytes (a counting
//! allocator, exact) and the process's resident set (`/proc/self/statm`, what the OS sees).

use std::path::Path;

use wdnn_descriptor_spec::Graph;
use wdnn_descriptor_spec::manifest::{BackendEntry, FileRef, MANIFEST_FILE, Manifest};

use wdnn_runner_core::hostile::CountingAllocator;
use wdnn_runner_core::{Backend, Bundle, MemorySource, Session, Tensor, load};
use wdnn_runner_wasm::backend::WasmBackend;

#[global_allocator]
static ALLOC: CountingAllocator = CountingAllocator;

/// The tiny-gemm fixture with a `wasm` entry: its fallback descriptor relabelled (the portable kernels of SPEC §5,
/// which this backend runs with its fast kernels where it has them).
fn wasm_bundle() -> Bundle {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/bundles/tiny-gemm");
    let read = |name: &str| std::fs::read(dir.join(name)).expect("reads the fixture");
    let mut manifest = Manifest::from_bytes(&read(MANIFEST_FILE), MANIFEST_FILE).expect("manifest");
    let mut graph = Graph::from_bytes(&read("fallback.graph.wdnn"), "graph").expect("graph");
    graph.backend = "wasm".into();
    let graph = graph.to_bytes().expect("encodes");
    let weights = read("fallback.weights.wdnn");
    manifest.backends = vec![BackendEntry {
        backend: "wasm".into(),
        graph: FileRef::describe("wasm.graph.wdnn", &graph),
        weights: FileRef::describe("wasm.weights.wdnn", &weights),
        features: vec![],
    }];
    let files = vec![
        (MANIFEST_FILE.to_string(), manifest.to_bytes().expect("encodes")),
        ("wasm.graph.wdnn".to_string(), graph),
        ("wasm.weights.wdnn".to_string(), weights),
    ];
    Bundle::from_source(Box::new(MemorySource(files))).expect("opens")
}

fn session() -> Session {
    let s = load(&wasm_bundle(), &[&WasmBackend as &dyn Backend], |_, _| {}).expect("loads");
    assert_eq!(s.backend(), "wasm");
    s
}

fn input(seed: f32) -> Tensor {
    Tensor::new(&[2, 4], &(0..8).map(|i| seed + i as f32 * 0.25).collect::<Vec<f32>>()).expect("input")
}

/// Resident set size in bytes (Linux; 0 elsewhere).
fn rss() -> usize {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1).and_then(|p| p.parse::<usize>().ok()))
        .map_or(0, |pages| pages * 4096)
}

fn a_thousand_runs_keep_memory_flat() {
    let mut s = session();
    let x = input(0.5);
    let first = s.run(&[("x", x.clone())]).expect("runs");
    for _ in 0..10 {
        s.run(&[("x", x.clone())]).expect("runs");
    }
    let (heap0, rss0) = (CountingAllocator::live(), rss());
    for i in 0..1000 {
        let out = s.run(&[("x", x.clone())]).expect("runs");
        assert_eq!(out, first, "run {i} differs");
    }
    let (heap1, rss1) = (CountingAllocator::live(), rss());
    println!("wasm 1000 runs: heap {heap0} -> {heap1} bytes, RSS {rss0} -> {rss1} bytes");
    assert!(heap1 <= heap0 + 4096, "the heap grew from {heap0} to {heap1} bytes over 1000 runs");
    assert!(rss1 <= rss0 + (4 << 20), "RSS grew from {rss0} to {rss1} bytes over 1000 runs");
}

fn loading_and_dropping_200_times_frees_everything() {
    // Warm up: whatever is created once per process (the executor's kernel table, std's thread bookkeeping for the
    // parallel chunk decoding) is created here.
    for _ in 0..5 {
        session().run(&[("x", input(1.0))]).expect("runs");
    }
    let (heap0, rss0) = (CountingAllocator::live(), rss());
    for _ in 0..200 {
        let mut s = session();
        s.run(&[("x", input(1.0))]).expect("runs");
    }
    let (heap1, rss1) = (CountingAllocator::live(), rss());
    println!("wasm 200 loads: heap {heap0} -> {heap1} bytes, RSS {rss0} -> {rss1} bytes");
    assert!(heap1 <= heap0 + 4096, "the heap grew from {heap0} to {heap1} bytes over 200 loads");
    assert!(rss1 <= rss0 + (4 << 20), "RSS grew from {rss0} to {rss1} bytes over 200 loads");
}

fn sessions_run_on_several_threads_at_once() {
    // A Session is Send (natively): it moves to the thread that runs it. It is not Sync (a run takes `&mut`), so
    // threads that share a model each hold a session; a Bundle is Send and Sync and may be shared to load them.
    fn send<T: Send>() {}
    fn send_sync<T: Send + Sync>() {}
    send::<Session>();
    send_sync::<Bundle>();
    let expected: Vec<_> = (0..4).map(|t| session().run(&[("x", input(t as f32))]).expect("runs")).collect();
    let bundle = wasm_bundle();
    // A session made here moves to another thread and runs there.
    let mut moved = session();
    let out = std::thread::spawn(move || moved.run(&[("x", input(0.0))]).expect("runs")).join().expect("joins");
    assert_eq!(out, expected[0]);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|t| {
                let bundle = &bundle;
                let expected = &expected[t];
                scope.spawn(move || {
                    // Each thread loads its own session from the shared bundle, and runs it alongside the others.
                    let mut s = load(bundle, &[&WasmBackend as &dyn Backend], |_, _| {}).expect("loads");
                    for _ in 0..100 {
                        assert_eq!(&s.run(&[("x", input(t as f32))]).expect("runs"), expected);
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().expect("a thread panicked");
        }
    });
}

/// One test, so that the heap counts (process-wide) see no other test's allocations, nor the test harness recording
/// a finished test meanwhile.
#[test]
fn soak() {
    a_thousand_runs_keep_memory_flat();
    loading_and_dropping_200_times_frees_everything();
    sessions_run_on_several_threads_at_once();
}
