//! Shared helpers of the end-to-end tests: paths, conversion into a scratch bundle, running on the fallback
//! backend, `.npy` reading and the error measure.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use ndarray::ArrayD;
use ndarray_npy::ReadNpyExt;
use wdnn_runner_core::{Backend, Bundle, Session, Tensor};
use wdnn_transpiler::{ConvertOptions, ConvertSummary};

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

pub fn fixtures() -> PathBuf {
    repo().join("fixtures")
}

/// The generated-data cache (`cargo xtask fixtures` fills it); a missing file is a test failure that says so.
pub fn cache_file(rel: &str) -> PathBuf {
    let root = std::env::var_os("WDNN_CACHE").map(PathBuf::from).unwrap_or_else(|| repo().join(".cache"));
    let path = root.join(rel);
    assert!(path.exists(), "{} is missing: run `cargo xtask fixtures` first", path.display());
    path
}

/// A scratch directory under the target directory, removed when dropped: a full test run converts gigabytes of
/// bundles (VGG-19 alone is 0.5 GB per backend), which once filled CI's disk. `WDNN_KEEP_SCRATCH=1` keeps them.
#[derive(Debug)]
pub struct ScratchDir(PathBuf);

impl std::ops::Deref for ScratchDir {
    type Target = Path;

    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for ScratchDir {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        if std::env::var_os("WDNN_KEEP_SCRATCH").is_none() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// A fresh scratch directory under the target directory.
pub fn scratch(name: &str) -> ScratchDir {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let dir = repo().join("target").join("test-bundles").join(format!("{name}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    ScratchDir(dir)
}

/// Converts `model` with `options` into a scratch bundle (removed when the returned directory is dropped).
pub fn convert(model: &Path, options: &ConvertOptions) -> (ScratchDir, ConvertSummary) {
    let name = model.file_stem().unwrap().to_string_lossy().to_string();
    let out = scratch(&name);
    let summary = wdnn_transpiler::convert(model, &out, options, |_| {})
        .unwrap_or_else(|e| panic!("converting {}: {e}", model.display()));
    (out, summary)
}

/// Loads a bundle on the fallback backend.
pub fn fallback_session(bundle: &Path) -> Session {
    let bundle = Bundle::open(bundle).unwrap();
    let backend = wdnn_runner_fallback::FallbackBackend;
    let order: [&dyn Backend; 1] = [&backend];
    wdnn_runner_core::load(&bundle, &order, |_, _| {}).unwrap()
}

pub fn read_npy(path: &Path) -> Tensor {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let array = ArrayD::<f32>::read_npy(file).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let shape: Vec<u64> = array.shape().iter().map(|&d| d as u64).collect();
    Tensor::new(&shape, &array.iter().copied().collect::<Vec<_>>()).unwrap()
}

/// ‖actual − expected‖₂ / ‖expected‖₂.
pub fn rel_l2(actual: &[f32], expected: &[f32]) -> f64 {
    assert_eq!(actual.len(), expected.len(), "different lengths");
    let (mut diff, mut norm) = (0f64, 0f64);
    for (a, e) in actual.iter().zip(expected) {
        diff += (*a as f64 - *e as f64).powi(2);
        norm += (*e as f64).powi(2);
    }
    (diff / norm.max(1e-30)).sqrt()
}

pub fn argmax(values: &[f32]) -> usize {
    values.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map(|(i, _)| i).unwrap()
}

/// Asserts rel L2 ≤ `tolerance` and returns the error.
pub fn assert_close(what: &str, actual: &Tensor, expected: &Tensor, tolerance: f64) -> f64 {
    let (a, e) = (actual.to_vec::<f32>().unwrap(), expected.to_vec::<f32>().unwrap());
    assert_eq!(actual.numel(), expected.numel(), "{what}: element counts differ");
    let err = rel_l2(&a, &e);
    eprintln!("{what}: rel L2 {err:.3e}");
    assert!(err <= tolerance, "{what}: rel L2 {err:.3e} > {tolerance:.0e}");
    err
}
