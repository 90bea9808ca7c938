//! WGSL snapshots, in naga's style: every `tests/in/<case>.ir` (a small graph in the IR text form, one per WGSL
//! generator family) goes through the webgpu target's normal path, the code that writes bundles: its schedule
//! (`pipeline::run_backend`: its own passes such as split-k, the memory passes) and `emit::emit` (its code
//! generation), and the generated shaders with their dispatch and bindings must equal `tests/out/wgsl/<case>.wgsl`.
//!
//! A change to a generator that alters a shader fails here until the snapshot is refreshed on purpose:
//! `UPDATE_EXPECT=1 cargo test -p wdnn-transpiler --test wgsl_snapshots`, then review and commit the diff (with
//! `CI` set the variable is ignored). The output lists each kernel's shader, workgroup size, dispatch and bindings
//! (by tensor name), then each deduplicated shader.

use std::fmt::Write;
use std::path::{Path, PathBuf};

use wdnn_descriptor_spec::{Graph as Descriptor, KernelPayload};
use wdnn_transpiler::codegen::WebGpu;
use wdnn_transpiler::emit::{self, WeightFormat};
use wdnn_transpiler::ir::{self, text};
use wdnn_transpiler::pipeline::{self, PassSelection};

fn tests_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests")
}

/// The cases: `tests/in/*.ir`, by name.
fn cases() -> Vec<(String, PathBuf)> {
    let mut cases: Vec<(String, PathBuf)> = std::fs::read_dir(tests_dir().join("in"))
        .expect("tests/in")
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "ir"))
        .map(|p| (p.file_stem().unwrap_or_default().to_string_lossy().into_owned(), p))
        .collect();
    cases.sort();
    cases
}

/// What the webgpu target generates for the graph in `source`: per kernel its payload, then every shader.
fn generate(source: &str) -> Result<String, String> {
    let graph = text::parse(source).map_err(|e| e.to_string())?;
    ir::verify(&graph).map_err(|e| format!("{e:?}"))?;
    let target = WebGpu::default();
    let (scheduled, _) =
        pipeline::run_backend(&graph, &target, &PassSelection::default(), None).map_err(|e| e.to_string())?;
    let emitted = emit::emit(&scheduled, &target, WeightFormat::F32, 1).map_err(|e| e.to_string())?;
    let descriptor = Descriptor::from_bytes(&emitted.graph, "snapshot").map_err(|e| e.to_string())?;
    let tensor = |id: u32| descriptor.tensors.get(id as usize).map_or("?", |t| t.name.as_str());
    let mut out = String::new();
    for kernel in &descriptor.kernels {
        let _ = write!(out, "// kernel `{}` ({})", kernel.name, kernel.op.name());
        match &kernel.payload {
            Some(KernelPayload::Wgsl { shader, entry_point, workgroup_size, dispatch, bindings }) => {
                let _ = writeln!(
                    out,
                    ": shader {shader} `{entry_point}`, workgroup_size {workgroup_size:?}, dispatch {dispatch:?}"
                );
                for b in bindings {
                    let access = if b.writable { "read_write" } else { "read" };
                    let _ = writeln!(out, "//   @binding({}) `{}` {access}", b.binding, tensor(b.tensor));
                }
            }
            Some(KernelPayload::Packed { layout, .. }) => out.push_str(&format!(": packed weights {layout:?}\n")),
            Some(KernelPayload::Unknown) => out.push_str(": unknown payload\n"),
            None => out.push_str(": no WGSL kernel\n"),
        }
    }
    for (i, shader) in descriptor.shaders.iter().enumerate() {
        let _ = writeln!(out, "\n// ---- shader {i} ----\n{shader}");
    }
    Ok(out)
}

/// The first line where `a` and `b` differ, for the failure message.
fn first_difference(a: &str, b: &str) -> String {
    let (mut la, mut lb) = (a.lines(), b.lines());
    for n in 1.. {
        match (la.next(), lb.next()) {
            (None, None) => break,
            (x, y) if x == y => continue,
            (x, y) => {
                return format!(
                    "line {n}:\n  snapshot:  {}\n  generated: {}",
                    x.unwrap_or("<end>"),
                    y.unwrap_or("<end>")
                );
            }
        }
    }
    "no line differs (line endings?)".into()
}

#[test]
fn generated_wgsl_matches_the_snapshots() {
    // CI compares and never refreshes, so a stale snapshot always fails there.
    let update = std::env::var_os("UPDATE_EXPECT").is_some() && std::env::var_os("CI").is_none();
    let out_dir = tests_dir().join("out/wgsl");
    let cases = cases();
    assert!(cases.len() >= 10, "expected the WGSL cases under tests/in, found {}", cases.len());
    let mut failures = Vec::new();
    for (name, path) in &cases {
        let source = std::fs::read_to_string(path).expect("case file");
        let generated = match generate(&source) {
            Ok(g) => g,
            Err(e) => {
                failures.push(format!("{name}: {e}"));
                continue;
            }
        };
        let snapshot_path = out_dir.join(format!("{name}.wgsl"));
        let snapshot = std::fs::read_to_string(&snapshot_path).unwrap_or_default();
        if snapshot == generated {
            continue;
        }
        if update {
            std::fs::create_dir_all(&out_dir).expect("tests/out/wgsl");
            std::fs::write(&snapshot_path, &generated).expect("write snapshot");
        } else {
            failures.push(format!(
                "{name}: the generated WGSL differs from {}; {}",
                snapshot_path.display(),
                first_difference(&snapshot, &generated)
            ));
        }
    }
    // A snapshot without its case is stale.
    for entry in std::fs::read_dir(&out_dir).into_iter().flatten().flatten() {
        let stem = entry.path().file_stem().unwrap_or_default().to_string_lossy().into_owned();
        if !cases.iter().any(|(name, _)| *name == stem) {
            failures.push(format!("{} has no case tests/in/{stem}.ir", entry.path().display()));
        }
    }
    assert!(
        failures.is_empty(),
        "{}\n\nIf the change is intended: UPDATE_EXPECT=1 cargo test -p wdnn-transpiler --test wgsl_snapshots",
        failures.join("\n\n")
    );
}

#[test]
fn every_case_has_a_kernel_for_each_node() {
    // A case must exercise its generator: every kernel it keeps gets WGSL.
    for (name, path) in cases() {
        let generated =
            generate(&std::fs::read_to_string(&path).expect("case file")).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!generated.contains("no WGSL kernel"), "{name} has a kernel without WGSL:\n{generated}");
        assert!(generated.contains("// ---- shader 0 ----"), "{name} generates no shader");
    }
}
