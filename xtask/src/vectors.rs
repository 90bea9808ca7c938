//! `cargo xtask vectors [--check]`: the conformance vectors of the descriptor format (`descriptor-spec/vectors/`).
//!
//! Good vectors are small IR graphs ([`good`]) converted to a fallback bundle, with their inputs and the outputs
//! the reference runner computes; bad vectors are a tiny bundle damaged in the ways SPEC §8 lists ([`bad`]), each
//! with the error class a runner must report. `--check` regenerates everything into a scratch folder and fails
//! when a committed file differs, so that the vectors always match what the writer and the reference produce.

mod bad;
mod coverage;
mod good;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Args;
use serde_json::json;
use wdnn_runner_core::{Backend, Bundle, Tensor};
use wdnn_transpiler::ConvertOptions;

use crate::{npy, repo_root};

#[derive(Args)]
pub struct VectorsArgs {
    /// Regenerate into a scratch folder and fail if the committed vectors differ.
    #[arg(long)]
    check: bool,
    /// Write the vectors here instead of descriptor-spec/vectors.
    #[arg(long)]
    out: Option<PathBuf>,
}

impl VectorsArgs {
    /// `--check` on the committed vectors (a step of `cargo xtask test`).
    pub fn check() -> VectorsArgs {
        VectorsArgs { check: true, out: None }
    }
}

/// The vectors' folder in the repository.
pub fn committed() -> PathBuf {
    repo_root().join("descriptor-spec/vectors")
}

pub fn vectors(args: VectorsArgs) -> Result<()> {
    if args.check {
        let scratch = repo_root().join("target/vectors-check");
        let _ = std::fs::remove_dir_all(&scratch);
        generate(&scratch)?;
        let differences = compare(&committed(), &scratch)?;
        if !differences.is_empty() {
            bail!(
                "descriptor-spec/vectors is out of date ({} files differ; run `cargo xtask vectors`):\n  {}",
                differences.len(),
                differences.join("\n  ")
            );
        }
        println!("descriptor-spec/vectors matches what `cargo xtask vectors` writes");
        return Ok(());
    }
    let out = args.out.unwrap_or_else(committed);
    for sub in ["good", "bad"] {
        let _ = std::fs::remove_dir_all(out.join(sub));
    }
    generate(&out)
}

/// Writes `good/`, `bad/` and `index.json` into `out`.
fn generate(out: &Path) -> Result<()> {
    let mut index_good = Vec::new();
    let mut coverage = coverage::Coverage::default();
    let mut total = 0usize;
    for spec in good::all() {
        let dir = out.join("good").join(spec.name);
        let files = convert(&spec)?;
        write_files(&dir, &files)?;
        let (ops, size) = coverage.add(&dir).with_context(|| format!("vector {}", spec.name))?;
        write_io(&dir, &spec.inputs).with_context(|| format!("vector {}", spec.name))?;
        total += size;
        index_good.push(json!({"name": spec.name, "about": spec.about, "kernels": ops}));
    }
    // The base of the bad vectors, and the damaged bundles a runner must still accept.
    let tiny = good::tiny();
    let tiny_files = convert(&tiny)?;
    for (name, about, files) in bad::accepted(&tiny_files)? {
        let dir = out.join("good").join(name);
        write_files(&dir, &files)?;
        let (ops, size) = coverage.add(&dir)?;
        write_io(&dir, &tiny.inputs)?;
        total += size;
        index_good.push(json!({"name": name, "about": about, "kernels": ops}));
    }
    let mut index_bad = Vec::new();
    for case in bad::cases(&tiny_files, &tiny.inputs)? {
        let dir = out.join("bad").join(&case.name);
        write_files(&dir, &case.files)?;
        let expect = json!({
            "about": case.about,
            "backend": case.backend,
            "class": case.class,
            "names": case.names,
        });
        std::fs::write(dir.join("expect.json"), format!("{}\n", serde_json::to_string_pretty(&expect)?))?;
        if let Some(inputs) = &case.inputs {
            write_inputs(&dir, inputs)?;
        }
        total += case.files.iter().map(|(_, b)| b.len()).sum::<usize>();
        index_bad.push(json!({"name": case.name, "about": case.about, "class": case.class}));
    }
    coverage.require_complete()?;
    let index = json!({
        "tolerance": {"rel_l2": 1e-5},
        "good": index_good,
        "bad": index_bad,
        "coverage": coverage.to_json(),
    });
    std::fs::write(out.join("index.json"), format!("{}\n", serde_json::to_string_pretty(&index)?))?;
    println!(
        "{} good and {} bad vectors in {} ({} KiB of bundles)",
        index_good.len(),
        index_bad.len(),
        out.display(),
        total / 1024
    );
    println!("{}", coverage.summary());
    Ok(())
}

/// The vector's fallback bundle files.
fn convert(spec: &good::Spec) -> Result<Vec<(String, Vec<u8>)>> {
    let options = ConvertOptions {
        backends: vec!["fallback".to_string()],
        weights: spec.weights,
        layout: spec.layout,
        ..ConvertOptions::default()
    };
    let (files, _) = wdnn_transpiler::convert_ir(spec.graph.clone(), spec.name.as_bytes(), &options, |_| {})
        .with_context(|| format!("converting vector {}", spec.name))?;
    Ok(files.files)
}

fn write_files(dir: &Path, files: &[(String, Vec<u8>)]) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    for (name, bytes) in files {
        std::fs::write(dir.join(name), bytes).with_context(|| format!("writing {}", dir.join(name).display()))?;
    }
    Ok(())
}

/// `inputs/<name>.npy` in the manifest's input order.
fn write_inputs(dir: &Path, inputs: &[(String, Tensor)]) -> Result<()> {
    std::fs::create_dir_all(dir.join("inputs"))?;
    for (name, t) in inputs {
        npy::write(t, &dir.join("inputs").join(format!("{name}.npy")))?;
    }
    Ok(())
}

/// Runs the bundle in `dir` on the reference backend and writes `inputs/` and `expected/`.
fn write_io(dir: &Path, inputs: &[Tensor]) -> Result<()> {
    let bundle = Bundle::open(dir)?;
    let named: Vec<(String, Tensor)> =
        bundle.manifest.inputs.iter().map(|s| s.name.clone()).zip(inputs.iter().cloned()).collect();
    write_inputs(dir, &named)?;
    let outputs = run_reference(&bundle, &named)?;
    std::fs::create_dir_all(dir.join("expected"))?;
    for (name, t) in outputs {
        npy::write(&t, &dir.join("expected").join(format!("{name}.npy")))?;
    }
    Ok(())
}

fn run_reference(bundle: &Bundle, inputs: &[(String, Tensor)]) -> Result<Vec<(String, Tensor)>> {
    let backend = wdnn_runner_fallback::FallbackBackend;
    let order: [&dyn Backend; 1] = [&backend];
    let mut session = wdnn_runner_core::load(bundle, &order, |_, _| {})?;
    let named: Vec<(&str, Tensor)> = inputs.iter().map(|(n, t)| (n.as_str(), t.clone())).collect();
    Ok(session.run(&named)?)
}

/// Every file under `dir`, by relative path.
fn tree(dir: &Path) -> Result<BTreeMap<String, Vec<u8>>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) -> Result<()> {
        for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
            let path = entry?.path();
            if path.is_dir() {
                walk(root, &path, out)?;
            } else {
                let rel = path.strip_prefix(root)?.to_string_lossy().replace('\\', "/");
                out.insert(rel, std::fs::read(&path)?);
            }
        }
        Ok(())
    }
    let mut out = BTreeMap::new();
    if dir.exists() {
        walk(dir, dir, &mut out)?;
    }
    Ok(out)
}

/// The files that differ between the committed vectors and freshly generated ones (README.md is not generated).
fn compare(committed: &Path, fresh: &Path) -> Result<Vec<String>> {
    let mut a = tree(committed)?;
    a.remove("README.md");
    let b = tree(fresh)?;
    let mut out = Vec::new();
    for (path, bytes) in &a {
        match b.get(path) {
            None => out.push(format!("{path}: committed but no longer generated")),
            Some(other) if other != bytes => out.push(format!("{path}: differs")),
            _ => {}
        }
    }
    out.extend(b.keys().filter(|p| !a.contains_key(*p)).map(|p| format!("{p}: generated but not committed")));
    Ok(out)
}
