//! `cargo xtask web-test`: the npm package on the fixture models, in Node, against the native reference.
//!
//! Every fixture model — the nine zoo graphs with seeded random weights, MobileNetV2 on five photos, the style
//! network on three styles — is converted once with a descriptor for `fallback` and for every other backend
//! compiled into the package (`wasm`), run natively on the reference backend (the oracle), and run in Node on each
//! backend of the package's wasm32 module (the wasm backend on each module build, SIMD128 and relaxed SIMD); every
//! output must be within rel. L2 1e-4 of the oracle's. Then the
//! package's command line must name "Egyptian cat" first for chelsea.png on MobileNetV2 on the package's best
//! backend, and the JavaScript tests (`node --test web/test/`) run against the package. The run ends with
//! `web-test: N passed, N failed`.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use wdnn_runner_core::{Backend, Bundle, Tensor};
use wdnn_transpiler::ConvertOptions;

use crate::node::{NodeWorker, node, package};
use crate::web::target_dir;
use crate::{image_input, npy, repo_root};

/// The tolerance of every backend against the reference (rel. L2).
const TOLERANCE: f64 = 1e-4;

/// The module builds a package may hold (`cargo xtask web`), each a folder of it.
const FLAVORS: [&str; 3] = ["simd128", "relaxed-simd", "simd128-threads"];

/// Threads the threaded build is checked on: its kernels split across a worker and the caller.
const THREADS: usize = 2;

const ZOO: [&str; 9] = [
    "bvlc_alexnet",
    "densenet121",
    "inception_v1",
    "inception_v2",
    "resnet50",
    "shufflenet",
    "squeezenet",
    "vgg19",
    "zfnet512",
];
const PHOTOS: [&str; 5] = ["chelsea", "coffee", "camera", "china", "motorcycle_left"];

/// A fixture model with its input shapes and its named input sets.
struct Model {
    name: String,
    onnx: PathBuf,
    input_shapes: Vec<(String, Vec<u64>)>,
    /// (label, [(input name or "" for the first input, .npy file)]).
    sets: Vec<(String, Vec<(String, PathBuf)>)>,
}

fn cache() -> PathBuf {
    std::env::var_os("WDNN_CACHE").map(PathBuf::from).unwrap_or_else(|| repo_root().join(".cache"))
}

fn models() -> Vec<Model> {
    let fixtures = repo_root().join("fixtures");
    let mut models: Vec<Model> = ZOO
        .iter()
        .map(|name| Model {
            name: format!("zoo/{name}"),
            onnx: cache().join(format!("zoo-random/{name}.onnx")),
            input_shapes: vec![],
            sets: vec![("random".into(), vec![(String::new(), cache().join(format!("zoo-random/{name}.input.npy")))])],
        })
        .collect();
    let expected = fixtures.join("expected/mobilenetv2");
    models.push(Model {
        name: "mobilenetv2".into(),
        onnx: fixtures.join("models/mobilenetv2-imagenet.onnx"),
        input_shapes: vec![],
        sets: PHOTOS
            .iter()
            .map(|p| (p.to_string(), vec![("input".to_string(), expected.join(format!("{p}.input.npy")))]))
            .collect(),
    });
    let style = fixtures.join("expected/multistyle26");
    models.push(Model {
        name: "multistyle26".into(),
        onnx: fixtures.join("models/multistyle26.onnx"),
        input_shapes: vec![("image".into(), vec![1, 3, 256, 256]), ("style_weights".into(), vec![26])],
        sets: [0, 9, 21]
            .iter()
            .map(|s| {
                let inputs = vec![
                    ("image".to_string(), style.join("content.input.npy")),
                    ("style_weights".to_string(), style.join(format!("style{s}.style_weights.npy"))),
                ];
                (format!("style {s}"), inputs)
            })
            .collect(),
    });
    models
}

/// ‖a − e‖₂ / ‖e‖₂ of two f32 tensors of the same shape.
fn rel_l2(a: &Tensor, e: &Tensor) -> Result<f64> {
    if a.shape() != e.shape() {
        bail!("shape {:?}, the reference has {:?}", a.shape(), e.shape());
    }
    let (a, e) = (a.to_vec::<f32>()?, e.to_vec::<f32>()?);
    let (mut diff, mut norm) = (0f64, 0f64);
    for (x, y) in a.iter().zip(&e) {
        diff += (*x as f64 - *y as f64).powi(2);
        norm += (*y as f64).powi(2);
    }
    Ok(if norm == 0.0 { diff.sqrt() } else { (diff / norm).sqrt() })
}

pub fn web_test() -> Result<()> {
    let package = package()?;
    let scratch = target_dir().join("web-test");
    std::fs::create_dir_all(&scratch).with_context(|| format!("creating {}", scratch.display()))?;
    let mut worker = NodeWorker::new(&package, &scratch.join("io"));
    let (flavor, compiled) = worker.info().map_err(anyhow::Error::msg).context("asking the package what it has")?;
    println!("web-test: package {} ({flavor} module, backends {})", package.display(), compiled.join(", "));
    // Node has no WebGPU: the package's webgpu backend is checked in Chromium (`cargo xtask browser-test`).
    let compiled: Vec<String> = compiled.into_iter().filter(|b| b != "webgpu").collect();
    let mut descriptors = vec!["fallback".to_string()];
    descriptors.extend(compiled.iter().filter(|b| *b != "fallback").cloned());
    // The wasm backend's kernels differ per module build (relaxed SIMD fuses multiply-adds): each build in the
    // package is checked, with a worker of its own; the other backends on the package's choice.
    let builds: Vec<&str> = FLAVORS.iter().copied().filter(|f| package.join(f).is_dir()).collect();
    let mut workers: Vec<(String, Option<&str>, NodeWorker)> = Vec::new();
    for backend in &compiled {
        if backend == "wasm" {
            for build in &builds {
                let io = scratch.join(format!("io-{build}"));
                let threads = if build.ends_with("-threads") { THREADS } else { 1 };
                workers.push((backend.clone(), Some(*build), NodeWorker::with_flavor(&package, &io, build, threads)));
            }
        } else {
            workers.push((backend.clone(), None, NodeWorker::new(&package, &scratch.join("io"))));
        }
    }
    drop(worker);
    let (mut passed, mut failed) = (0usize, Vec::<String>::new());
    for model in models() {
        let bundle = scratch.join(model.name.replace('/', "_"));
        let options = ConvertOptions {
            input_shapes: model.input_shapes.clone(),
            backends: descriptors.clone(),
            zstd_level: 3,
            ..ConvertOptions::default()
        };
        let _ = std::fs::remove_dir_all(&bundle);
        if let Err(e) = wdnn_transpiler::convert(&model.onnx, &bundle, &options, |_| {}) {
            failed.push(format!("{}: converting: {e}", model.name));
            continue;
        }
        let oracle = Bundle::open(&bundle).and_then(|b| {
            let reference: &dyn Backend = &wdnn_runner_fallback::FallbackBackend;
            wdnn_runner_core::load(&b, &[reference], |_, _| {})
        });
        let mut oracle = match oracle {
            Ok(s) => s,
            Err(e) => {
                failed.push(format!("{}: native reference: {e}", model.name));
                continue;
            }
        };
        let first = oracle.inputs().first().map(|s| s.name.clone()).unwrap_or_default();
        let mut sets = Vec::new();
        for (label, files) in &model.sets {
            let mut inputs = Vec::new();
            for (name, file) in files {
                let name = if name.is_empty() { first.clone() } else { name.clone() };
                inputs.push((name, npy::read(file)?));
            }
            let named: Vec<(&str, Tensor)> = inputs.iter().map(|(n, t)| (n.as_str(), t.clone())).collect();
            let expected = oracle.run(&named).with_context(|| format!("{} {label}: native reference", model.name))?;
            sets.push((label, inputs, expected));
        }
        for (backend, build, worker) in &mut workers {
            let case = match build {
                Some(build) => format!("{} on {backend} ({build})", model.name),
                None => format!("{} on {backend}", model.name),
            };
            match worker.load(&bundle, &[backend.as_str()]) {
                Ok(loaded) if loaded.backend != *backend => {
                    failed.push(format!("{case}: loaded on `{}` instead", loaded.backend));
                    continue;
                }
                Ok(loaded) if build.is_some_and(|b| b != loaded.flavor) => {
                    failed.push(format!("{case}: ran on the {} module instead", loaded.flavor));
                    continue;
                }
                Ok(loaded) if build.is_some_and(|b| b.ends_with("-threads")) && loaded.threads != THREADS => {
                    failed.push(format!("{case}: ran on {} threads, not {THREADS}", loaded.threads));
                    continue;
                }
                Ok(_) => {}
                Err(e) => {
                    failed.push(format!("{case}: loading in Node: {e}"));
                    continue;
                }
            }
            for (label, inputs, expected) in &sets {
                let named: Vec<(&str, Tensor)> = inputs.iter().map(|(n, t)| (n.as_str(), t.clone())).collect();
                let result = worker.run(&named).map_err(anyhow::Error::msg).and_then(|actual| {
                    if actual.len() != expected.len() {
                        bail!("{} outputs, the reference has {}", actual.len(), expected.len());
                    }
                    let mut worst = 0f64;
                    for ((name, a), (_, e)) in actual.iter().zip(expected) {
                        let err = rel_l2(a, e).with_context(|| format!("output `{name}`"))?;
                        if err.is_nan() || err > TOLERANCE {
                            bail!("output `{name}`: rel. L2 {err:.3e} > {TOLERANCE:.0e}");
                        }
                        worst = worst.max(err);
                    }
                    Ok(worst)
                });
                match result {
                    Ok(err) => {
                        passed += 1;
                        println!("web-test: {case}, {label}: rel. L2 {err:.2e}");
                    }
                    Err(e) => failed.push(format!("{case}, {label}: {e:#}")),
                }
            }
        }
        let _ = std::fs::remove_dir_all(&bundle);
    }
    drop(workers);
    let best = compiled.first().cloned().unwrap_or_else(|| "fallback".into());
    match classify_chelsea(&package, &scratch, &descriptors, &best) {
        Ok(()) => passed += 1,
        Err(e) => failed.push(format!("cli: MobileNetV2 on chelsea.png ({best}): {e:#}")),
    }
    match js_tests(&package, &scratch, &descriptors) {
        Ok(()) => passed += 1,
        Err(e) => failed.push(format!("node --test web/test: {e:#}")),
    }
    for f in &failed {
        println!("web-test: FAILED {f}");
    }
    println!("web-test: {passed} passed, {} failed", failed.len());
    if !failed.is_empty() {
        bail!("{} web-test check(s) failed", failed.len());
    }
    Ok(())
}

/// The MobileNetV2 bundle with ImageNet preprocessing, converted into `scratch/mobilenetv2-cli`.
fn mobilenet_bundle(scratch: &Path, descriptors: &[String]) -> Result<PathBuf> {
    let bundle = scratch.join("mobilenetv2-cli");
    let options = ConvertOptions {
        backends: descriptors.to_vec(),
        preprocessing: Some(wdnn_runner_core::spec::Preprocessing::imagenet()),
        ..ConvertOptions::default()
    };
    let _ = std::fs::remove_dir_all(&bundle);
    let model = repo_root().join("fixtures/models/mobilenetv2-imagenet.onnx");
    wdnn_transpiler::convert(&model, &bundle, &options, |_| {})?;
    Ok(bundle)
}

/// `node cli.mjs run` on chelsea.png (preprocessed here as `cargo xtask run --image` does) names "Egyptian cat".
fn classify_chelsea(package: &Path, scratch: &Path, descriptors: &[String], backend: &str) -> Result<()> {
    let bundle = mobilenet_bundle(scratch, descriptors)?;
    let input = image_input::load(
        &repo_root().join("fixtures/images/chelsea.png"),
        &wdnn_runner_core::spec::Preprocessing::imagenet(),
    )?;
    let input_file = scratch.join("chelsea.input.npy");
    npy::write(&input, &input_file)?;
    let out_dir = scratch.join("chelsea-out");
    let output = Command::new(node())
        .arg(package.join("cli.mjs"))
        .arg("run")
        .arg(&bundle)
        .args(["--backend", backend, "--input"])
        .arg(format!("input={}", input_file.display()))
        .arg("--labels")
        .arg(repo_root().join("fixtures/labels/imagenet1k_label_to_names.json"))
        .arg("--out-dir")
        .arg(&out_dir)
        .args(["--runs", "2"])
        .output()
        .context("running node cli.mjs")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    print!("{stdout}");
    if !output.status.success() {
        bail!("exit {}: {}", output.status, String::from_utf8_lossy(&output.stderr));
    }
    let top1 = stdout.lines().find(|l| l.trim_start().starts_with("1. ")).unwrap_or("");
    if !top1.contains("Egyptian cat") {
        bail!("top-1 is `{}`, not Egyptian cat", top1.trim());
    }
    if !stdout.contains(&format!("backend: {backend} ")) {
        bail!("the CLI did not run on {backend}");
    }
    let written = std::fs::read_dir(&out_dir)?.filter_map(|e| e.ok()).count();
    if written == 0 {
        bail!("no output .npy written to {}", out_dir.display());
    }
    Ok(())
}

/// The browser's tests, which need the served site and Chromium: `cargo xtask browser-test` runs them.
pub(crate) const BROWSER_TESTS: &str = "browser.test.mjs";

/// The package's Node tests (`web/test/*.test.mjs` but [`BROWSER_TESTS`]), on the MobileNetV2 bundle and, for the
/// soak (`soak.test.mjs`), the tiny-gemm model.
fn js_tests(package: &Path, scratch: &Path, descriptors: &[String]) -> Result<()> {
    let bundle = scratch.join("mobilenetv2-cli");
    let bundle = if bundle.exists() { bundle } else { mobilenet_bundle(scratch, descriptors)? };
    let soak = scratch.join("soak-tiny-gemm");
    let _ = std::fs::remove_dir_all(&soak);
    let options = ConvertOptions { backends: descriptors.to_vec(), ..ConvertOptions::default() };
    wdnn_transpiler::convert(&repo_root().join("fixtures/models/errors/tiny_gemm.onnx"), &soak, &options, |_| {})
        .context("converting the soak bundle")?;
    let tests = repo_root().join("web/test");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&tests)
        .with_context(|| format!("listing {}", tests.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            name.ends_with(".test.mjs") && name != BROWSER_TESTS
        })
        .collect();
    files.sort();
    let status = Command::new(node())
        .arg("--test")
        .args(&files)
        .env("WDNN_PACKAGE", package)
        .env("WDNN_TEST_BUNDLE", &bundle)
        .env("WDNN_SOAK_BUNDLE", &soak)
        .env("WDNN_TEST_INPUT", repo_root().join("fixtures/expected/mobilenetv2/chelsea.input.npy"))
        .env("WDNN_TEST_LOGITS", repo_root().join("fixtures/expected/mobilenetv2/chelsea.logits.npy"))
        .status()
        .context("running node --test")?;
    if !status.success() {
        bail!("exit {status}");
    }
    Ok(())
}
