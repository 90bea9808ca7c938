//! Hostile, checksum-consistent bundles (issue 14) on the WebGPU backend (lavapipe in CI): each is refused with its
//! own error before any shader runs, within a bounded amount of memory. Skipped, saying so, where no adapter exists.

use std::path::Path;

use wdnn_runner_core::hostile::{self, CountingAllocator};
use wdnn_runner_core::{Backend, Bundle, MemorySource, Result, Tensor};
use wdnn_runner_webgpu::WebGpuBackend;

#[global_allocator]
static ALLOC: CountingAllocator = CountingAllocator;

/// The most a refused case may allocate beyond the bundle sizes (host side; the driver's own heap is included).
const BOUND: usize = 256 << 20;

fn seed() -> hostile::Files {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/bundles/squeezenet-light");
    std::fs::read_dir(&dir)
        .expect("fixtures/bundles/squeezenet-light")
        .map(|e| {
            let path = e.expect("entry").path();
            (path.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&path).expect("read"))
        })
        .collect()
}

fn load(backend: &WebGpuBackend, bundle: Result<Bundle>) -> Result<()> {
    let (graph, weights) = bundle?.load_backend("webgpu", |_, _| {})?;
    let mut exe = backend.load(&graph, &weights)?;
    let inputs: Vec<Tensor> = graph
        .inputs
        .iter()
        .map(|io| {
            let t = &graph.tensors[io.tensor as usize];
            Tensor::zeros(t.dtype, &t.shape)
        })
        .collect();
    exe.run(&inputs).map(|_| ())
}

#[test]
fn every_hostile_case_is_refused_with_its_error_and_bounded_memory() {
    let backend = WebGpuBackend::default();
    if let Err(reason) = backend.probe() {
        eprintln!("skipped: no WebGPU adapter ({reason})");
        return;
    }
    let seed = seed();
    let seed_size: usize = seed.iter().map(|(_, b)| b.len()).sum();
    load(&backend, Bundle::from_source(Box::new(MemorySource(seed.clone())))).expect("the seed itself loads");
    let scratch = std::env::temp_dir().join(format!("wdnn-hostile-webgpu-{}", std::process::id()));
    let mut report = Vec::new();
    for case in hostile::cases(&seed, "webgpu") {
        let case_size: usize = case.files.iter().map(|(_, b)| b.len()).sum();
        let bundle = if case.on_disk {
            std::fs::create_dir_all(&scratch).unwrap();
            for (name, bytes) in &case.files {
                std::fs::write(scratch.join(name), bytes).unwrap();
            }
            Bundle::open(&scratch)
        } else {
            Bundle::from_source(Box::new(MemorySource(case.files.clone())))
        };
        CountingAllocator::reset_peak();
        let before = CountingAllocator::live();
        let result = load(&backend, bundle);
        let peak = CountingAllocator::peak().saturating_sub(before);
        let err = result.err().unwrap_or_else(|| panic!("{}: was accepted", case.name)).to_string();
        assert!(case.expected(&err), "{}: error `{err}` lacks `{}`", case.name, case.expect);
        assert!(peak <= BOUND + 4 * (seed_size + case_size), "{}: allocated {peak} bytes", case.name);
        report.push(format!("{:<45} peak {:>9} B  {err}", case.name, peak));
    }
    let _ = std::fs::remove_dir_all(&scratch);
    println!("{}", report.join("\n"));
}
