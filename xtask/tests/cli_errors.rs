//! Every bad input to `convert` and `run` is a clear error that names the file, the node or the input, with a
//! failing exit status and no panic or backtrace text (issue 14), even under `RUST_BACKTRACE=1`.

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path)
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("wdnn-cli-errors-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch folder");
    dir
}

/// Runs `cargo xtask ARGS`, expects it to fail, and returns what it printed (stdout and stderr).
fn fails(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .env("RUST_BACKTRACE", "1")
        .env("WDNN_WEBGPU_DISABLE", "1")
        .output()
        .expect("runs xtask");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!out.status.success(), "xtask {args:?} succeeded:\n{text}");
    assert_eq!(out.status.code(), Some(1), "xtask {args:?} did not exit with status 1 (a crash?):\n{text}");
    for bad in ["panicked", "backtrace", "RUST_BACKTRACE", "unwrap()", "src/"] {
        assert!(!text.contains(bad), "xtask {args:?} printed `{bad}`:\n{text}");
    }
    text
}

fn says(text: &str, words: &[&str]) {
    for w in words {
        assert!(text.contains(w), "the message lacks `{w}`:\n{text}");
    }
}

/// A little-endian `.npy` file of `descr` (`<f4`, `<f8`, `<i8`) with `shape` and raw `data`.
fn npy(path: &Path, descr: &str, shape: &[usize], data: &[u8]) {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let shape = if dims.len() == 1 { format!("({},)", dims[0]) } else { format!("({})", dims.join(", ")) };
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend_from_slice(data);
    std::fs::write(path, bytes).expect("writes the npy file");
}

fn f32s(n: usize) -> Vec<u8> {
    (0..n).flat_map(|i| (i as f32 * 0.5).to_le_bytes()).collect()
}

fn convert(model: &Path, out: &Path) -> String {
    fails(&["convert", &model.to_string_lossy(), "--out", &out.to_string_lossy()])
}

#[test]
fn convert_names_the_file_for_empty_truncated_garbage_and_missing_models() {
    let out = scratch("convert-files");
    let errors = repo("fixtures/models/errors");
    for name in ["empty.onnx", "truncated.onnx"] {
        let text = convert(&errors.join(name), &out.join(name));
        says(&text, &[name]);
    }
    let garbage = out.join("garbage.onnx");
    std::fs::write(&garbage, (0..4096u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect::<Vec<_>>())
        .unwrap();
    says(&convert(&garbage, &out.join("g")), &["garbage.onnx"]);
    says(&convert(&out.join("absent.onnx"), &out.join("a")), &["absent.onnx"]);
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn convert_names_the_node_for_unknown_domains_unsupported_ops_and_inconsistent_shapes() {
    let out = scratch("convert-nodes");
    let errors = repo("fixtures/models/errors");
    says(&convert(&errors.join("unknown_domain.onnx"), &out.join("d")), &["org.nowhere", "relu_elsewhere"]);
    says(&convert(&errors.join("unsupported_ops.onnx"), &out.join("u")), &["FancyOp", "fancy_1", "missing_1"]);
    says(&convert(&errors.join("inconsistent_shapes.onnx"), &out.join("s")), &["mm"]);
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn run_names_the_input_for_wrong_names_dtypes_shapes_and_missing_inputs() {
    let dir = scratch("run-inputs");
    let bundle = repo("fixtures/bundles/tiny-gemm");
    let bundle = bundle.to_string_lossy();
    let good = dir.join("good.npy");
    npy(&good, "<f4", &[2, 4], &f32s(8));
    let arg = |name: &str, path: &Path| format!("{name}={}", path.display());
    let base = ["run", &*bundle, "--backend", "fallback"];
    let run = |extra: &[&str]| fails(&[&base[..], extra].concat());

    says(&run(&["--input", &arg("z", &good)]), &["`z`", "`x`"]);
    let f64s = dir.join("f64.npy");
    npy(&f64s, "<f8", &[2, 4], &[0u8; 64]);
    says(&run(&["--input", &arg("x", &f64s)]), &["`x`", "f64"]);
    let wide = dir.join("wide.npy");
    npy(&wide, "<f4", &[3, 4], &f32s(12));
    says(&run(&["--input", &arg("x", &wide)]), &["`x`", "[3, 4]"]);
    says(&run(&[]), &["`x`"]);
    says(&run(&["--input", &arg("x", &good), "--input", &arg("x", &good)]), &["`x`"]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn run_names_the_file_for_bad_npy_files_bundles_and_backends() {
    let dir = scratch("run-files");
    let bundle = repo("fixtures/bundles/tiny-gemm");
    let b = bundle.to_string_lossy();
    let absent = dir.join("absent.npy");
    says(&fails(&["run", &b, "--input", &format!("x={}", absent.display())]), &["absent.npy"]);
    let broken = dir.join("broken.npy");
    std::fs::write(&broken, b"\x93NUMPY\x01\x00\x10\x00{'descr': '<f4'").unwrap();
    says(&fails(&["run", &b, "--input", &format!("x={}", broken.display())]), &["broken.npy"]);
    let short = dir.join("short.npy");
    npy(&short, "<f4", &[2, 4], &f32s(3));
    says(&fails(&["run", &b, "--input", &format!("x={}", short.display())]), &["short.npy"]);

    says(&fails(&["run", &dir.join("no-bundle").to_string_lossy()]), &["no-bundle"]);
    says(&fails(&["run", &b, "--backend", "quantum"]), &["`quantum`"]);

    // A bundle whose graph file was damaged on the way: the file is named.
    let damaged = dir.join("damaged");
    std::fs::create_dir_all(&damaged).unwrap();
    for e in std::fs::read_dir(&bundle).unwrap() {
        let path = e.unwrap().path();
        std::fs::copy(&path, damaged.join(path.file_name().unwrap())).unwrap();
    }
    let graph = damaged.join("fallback.graph.wdnn");
    let mut bytes = std::fs::read(&graph).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x55;
    std::fs::write(&graph, bytes).unwrap();
    says(&fails(&["run", &damaged.to_string_lossy(), "--backend", "fallback"]), &["fallback.graph.wdnn"]);
    let _ = std::fs::remove_dir_all(&dir);
}
