//! Shared helpers of the transpiler's tests: paths, conversion into a scratch bundle, running on the fallback
//! backend. The end-to-end suites, with their own helpers, are in the `test-suite` crate.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use wdnn_runner_core::{Backend, Bundle, Session};
use wdnn_transpiler::{ConvertOptions, ConvertSummary};

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

pub fn fixtures() -> PathBuf {
    repo().join("fixtures")
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
