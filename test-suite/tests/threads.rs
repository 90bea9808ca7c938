//! Sessions on several threads at once (issue 14), on every native backend: MobileNetV2 converted for fallback, wasm
//! (runner-wasm built natively) and webgpu (lavapipe), four threads at a time, each on its own photo. Every result
//! must equal, bit for bit, what the same backend computed for that photo on one thread before any other thread ran:
//! a kernel that kept state in something threads share (a static scratch buffer, a cache, one GPU queue's
//! submissions mixed up) gives another photo's numbers or a torn mixture of two.
//!
//! What is shared across threads is what ARCHITECTURE's "Threads" paragraph promises: one [`Bundle`] (`Sync`) and
//! one backend value (`Sync`) load every thread's session; a [`Session`] (`Send`, not `Sync`) moves into the thread
//! that runs it, or is shared behind a `Mutex`. The `const` block below makes the compiler check those promises.

mod common;

use std::sync::{Arc, Mutex};

use common::*;
use wdnn_runner_core::{Backend, Bundle, Session, Tensor};
use wdnn_runner_fallback::FallbackBackend;
use wdnn_runner_wasm::backend::WasmBackend;
use wdnn_runner_webgpu::WebGpuBackend;
use wdnn_transpiler::ConvertOptions;

const PHOTOS: [&str; 4] = ["chelsea", "coffee", "camera", "china"];
/// Runs per thread while the others run.
const RUNS: usize = 2;

const _: () = {
    const fn send<T: Send>() {}
    const fn send_sync<T: Send + Sync>() {}
    send::<Session>();
    send_sync::<Bundle>();
    send_sync::<Tensor>();
    send_sync::<FallbackBackend>();
    send_sync::<WasmBackend>();
    send_sync::<WebGpuBackend>();
};

/// The bundle and its directory, which must outlive it (a `Bundle` reads each backend's files when it loads).
fn bundle() -> (ScratchDir, Bundle) {
    let options = ConvertOptions {
        backends: vec!["fallback".into(), "wasm".into(), "webgpu".into()],
        zstd_level: 3,
        ..ConvertOptions::default()
    };
    let (dir, _) = convert(&fixtures().join("models/mobilenetv2-imagenet.onnx"), &options);
    let bundle = Bundle::open(&dir).expect("opens the bundle");
    (dir, bundle)
}

fn photo(name: &str) -> Tensor {
    read_npy(&fixtures().join(format!("expected/mobilenetv2/{name}.input.npy")))
}

fn load(bundle: &Bundle, backend: &dyn Backend) -> Session {
    let s = wdnn_runner_core::load(bundle, &[backend], |_, _| {})
        .unwrap_or_else(|e| panic!("loading on {}: {e}", backend.name()));
    assert_eq!(s.backend(), backend.name());
    s
}

fn run(session: &mut Session, input: &Tensor) -> Vec<(String, Tensor)> {
    session.run(&[("input", input.clone())]).unwrap_or_else(|e| panic!("running on {}: {e}", session.backend()))
}

/// The check on one backend: single-threaded references, then four sessions at once, then one shared session.
fn four_threads(bundle: &Bundle, backend: &(dyn Backend + Sync)) {
    let name = backend.name().to_string();
    let photos: Vec<Tensor> = PHOTOS.iter().map(|p| photo(p)).collect();
    let mut alone = load(bundle, backend);
    let expected: Vec<_> = photos.iter().map(|x| run(&mut alone, x)).collect();
    drop(alone);
    for (i, e) in expected.iter().enumerate().skip(1) {
        assert_ne!(
            e, &expected[0],
            "{name}: photos 0 and {i} give the same output: the check could not tell them apart"
        );
    }
    // One session per thread, each loaded on its own thread from the shared bundle and backend.
    std::thread::scope(|scope| {
        let handles: Vec<_> = photos
            .iter()
            .zip(&expected)
            .enumerate()
            .map(|(t, (x, e))| {
                let name = &name;
                scope.spawn(move || {
                    let mut s = load(bundle, backend);
                    for r in 0..RUNS {
                        assert!(run(&mut s, x) == *e, "{name}: thread {t} run {r} differs from the one-thread result");
                    }
                })
            })
            .collect();
        handles.into_iter().for_each(|h| h.join().expect("a thread panicked"));
    });
    // Sessions loaded here and moved into the threads that run them.
    let sessions: Vec<Session> = (0..PHOTOS.len()).map(|_| load(bundle, backend)).collect();
    std::thread::scope(|scope| {
        let handles: Vec<_> = sessions
            .into_iter()
            .zip(photos.iter().zip(&expected))
            .map(|(mut s, (x, e))| scope.spawn(move || run(&mut s, x) == *e))
            .collect();
        for (t, h) in handles.into_iter().enumerate() {
            assert!(
                h.join().expect("a thread panicked"),
                "{name}: moved session {t} differs from the one-thread result"
            );
        }
    });
    // One session shared by the four threads: not `Sync`, so behind a mutex, one run at a time.
    let shared = Arc::new(Mutex::new(load(bundle, backend)));
    std::thread::scope(|scope| {
        let handles: Vec<_> = photos
            .iter()
            .zip(&expected)
            .map(|(x, e)| {
                let shared = Arc::clone(&shared);
                scope.spawn(move || run(&mut shared.lock().expect("not poisoned"), x) == *e)
            })
            .collect();
        for (t, h) in handles.into_iter().enumerate() {
            assert!(h.join().expect("a thread panicked"), "{name}: shared session, thread {t} differs");
        }
    });
    eprintln!(
        "{name}: {} threads x {RUNS} runs, moved and shared sessions: equal to the one-thread results",
        PHOTOS.len()
    );
}

#[test]
fn sessions_on_four_threads_match_one_thread_on_every_backend() {
    let (_dir, bundle) = bundle();
    four_threads(&bundle, &FallbackBackend);
    four_threads(&bundle, &WasmBackend);
    let webgpu = WebGpuBackend::default();
    webgpu.probe().unwrap_or_else(|e| panic!("no WebGPU adapter (install mesa-vulkan-drivers): {e}"));
    four_threads(&bundle, &webgpu);
}
