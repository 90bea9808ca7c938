//! The independent Python reader of the descriptor format (`descriptor-spec/python`), as a step of `cargo xtask
//! test`: its unit tests, `run_vectors.py` (every conformance vector of `descriptor-spec/vectors`), then
//! `run_checks.py`, which converts the fixture models, runs each bundle on the Rust
//! fallback (through this very binary) and on the reader, and fails when they differ by more than 1e-5 rel. L2 or
//! when the reader does not refuse a damaged bundle with the class SPEC.md prescribes.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

/// The reader's venv, made by `fixtures/scripts/setup_cache.sh` (section 4).
fn python(root: &Path) -> PathBuf {
    let cache = std::env::var_os("WDNN_CACHE").map(PathBuf::from).unwrap_or_else(|| root.join(".cache"));
    cache.join("reader-venv/bin/python")
}

/// Runs the reader's unit tests, `run_vectors.py` and `run_checks.py`; `xtask` is the binary that runs the Rust
/// side (see [`snapshot_self`]).
pub fn check(root: &Path, xtask: &Path) -> Result<()> {
    let python = python(root);
    if !python.exists() {
        bail!("{} is missing: run `cargo xtask fixtures` first", python.display());
    }
    let dir = root.join("descriptor-spec/python");
    let run = |what: &str, args: &[&std::ffi::OsStr]| -> Result<()> {
        println!("reader: {what}");
        let status = Command::new(&python)
            .current_dir(&dir)
            .args(args)
            .status()
            .with_context(|| format!("running {}", python.display()))?;
        if !status.success() {
            bail!("the independent reader's {what} failed ({status})");
        }
        Ok(())
    };
    run("unit tests", &["-m".as_ref(), "unittest".as_ref(), "discover".as_ref(), "-s".as_ref(), "tests".as_ref()])?;
    run("conformance vectors", &["run_vectors.py".as_ref()])?;
    run("checks against the Rust fallback", &["run_checks.py".as_ref(), "--xtask".as_ref(), xtask.as_os_str()])
}

/// A copy of this xtask binary that later steps can run. `cargo xtask test` runs `cargo test --workspace`, which
/// builds the xtask binary again with the whole workspace's features and replaces the file this process was started
/// from, so its own path no longer names a runnable program (Linux reports it as "… (deleted)").
pub fn snapshot_self() -> Result<PathBuf> {
    let exe = std::env::current_exe().context("locating the xtask binary")?;
    let dir = std::env::temp_dir().join(format!("wdnn-xtask-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let copy = dir.join(exe.file_name().unwrap_or("xtask".as_ref()));
    std::fs::copy(&exe, &copy).with_context(|| format!("copying {} to {}", exe.display(), copy.display()))?;
    Ok(copy)
}
