//! Tidy checks of the crate map (ARCHITECTURE.md's invariants), read from Cargo's resolution of the workspace:
//! `cargo tree` for one package resolves its features alone, as building that package would.

use std::process::Command;

/// The packages `package` pulls in for `target` (normal dependencies, plus build dependencies when `build`).
fn dependencies(package: &str, target: Option<&str>, build: bool) -> Vec<String> {
    let mut cmd = Command::new(env!("CARGO"));
    cmd.args(["tree", "--offline", "--prefix", "none", "--format", "{p}", "-p", package]);
    cmd.args(["-e", if build { "normal,build" } else { "normal" }]);
    if let Some(t) = target {
        cmd.args(["--target", t]);
    }
    let out = cmd.output().expect("running cargo tree");
    assert!(out.status.success(), "cargo tree -p {package}: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).expect("utf-8");
    let mut names: Vec<String> = text.lines().filter_map(|l| l.split_whitespace().next()).map(str::to_string).collect();
    names.sort();
    names.dedup();
    names
}

#[test]
fn no_runner_depends_on_the_transpiler_or_tract() {
    for runner in ["wdnn-runner-core", "wdnn-runner-fallback", "wdnn-runner-webgpu", "wdnn-runner-wasm"] {
        let deps = dependencies(runner, None, false);
        assert!(deps.iter().any(|d| d == runner), "{runner} is not in its own tree: {deps:?}");
        let bad: Vec<&String> = deps.iter().filter(|d| *d == "wdnn-transpiler" || d.starts_with("tract")).collect();
        assert!(bad.is_empty(), "{runner} depends on {bad:?}");
    }
}

#[test]
fn descriptor_spec_builds_for_wasm32_without_a_c_compiler() {
    let deps = dependencies("wdnn-descriptor-spec", Some("wasm32-unknown-unknown"), true);
    assert!(deps.iter().any(|d| d == "ruzstd"), "the pure-Rust zstd decoder is gone: {deps:?}");
    // The build itself, with every C compiler `cc` could find replaced by `false`: a C build step anywhere in the
    // tree fails it. Its own target directory keeps this one-crate build (few dependencies) apart from the
    // workspace's, whose feature resolution it would otherwise change.
    let target_dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("descriptor-spec-wasm32-no-cc");
    let out = Command::new(env!("CARGO"))
        .args(["check", "--offline", "--quiet", "-p", "wdnn-descriptor-spec", "--target", "wasm32-unknown-unknown"])
        .arg("--target-dir")
        .arg(&target_dir)
        .env("CC", "false")
        .env("CC_wasm32_unknown_unknown", "false")
        .env("TARGET_CC", "false")
        .env("HOST_CC", "false")
        .env_remove("RUSTFLAGS")
        .output()
        .expect("running cargo check");
    assert!(
        out.status.success(),
        "descriptor-spec does not build for wasm32 without a C compiler:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_reference_runner_builds_for_wasm32_without_a_c_compiler() {
    let deps = dependencies("wdnn-runner-fallback", Some("wasm32-unknown-unknown"), true);
    let c: Vec<&String> = deps.iter().filter(|d| *d == "cc" || d.ends_with("-sys")).collect();
    assert!(c.is_empty(), "runner-fallback needs C code for wasm32: {c:?}");
}
