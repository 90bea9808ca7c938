//! Bundles are a pure function of the ONNX file and the options: converting the fixture models gives byte-identical
//! files to the ones recorded in `fixtures/golden/bundles.txt` (the SHA-256 of every file, per case).
//!
//! A refactor that must not change what the converter writes keeps this test green. A change that alters bundles on
//! purpose re-records them with `WDNN_BLESS=1 cargo test --workspace --test golden` and says why in its commit.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::*;
use wdnn_descriptor_spec::sha256_hex;
use wdnn_transpiler::{ConvertOptions, WeightFormat};

/// The recorded hashes: `case file sha256` per line.
fn golden_file() -> std::path::PathBuf {
    fixtures().join("golden/bundles.txt")
}

/// Every file of the bundle in `dir` with its SHA-256, by name.
fn hashes(dir: &Path) -> BTreeMap<String, String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let bytes = std::fs::read(e.path()).unwrap();
            (e.file_name().to_string_lossy().to_string(), sha256_hex(&bytes))
        })
        .collect()
}

fn cases() -> Vec<(&'static str, std::path::PathBuf, ConvertOptions)> {
    // Every backend the converter has, so that a move in any backend's codegen or passes is caught.
    let backends: Vec<String> = wdnn_transpiler::codegen::BACKENDS.iter().map(|b| b.to_string()).collect();
    let f32 = ConvertOptions { backends: backends.clone(), ..ConvertOptions::default() };
    let int8 = ConvertOptions { backends, weights: WeightFormat::Int8, ..ConvertOptions::default() };
    let mobilenet = fixtures().join("models/mobilenetv2-imagenet.onnx");
    let resnet = fixtures().join("models/light/light_resnet50.onnx");
    vec![
        ("mobilenetv2-f32", mobilenet.clone(), f32.clone()),
        ("mobilenetv2-int8", mobilenet, int8),
        ("resnet50-f32", resnet, f32),
    ]
}

#[test]
fn fixture_bundles_are_byte_identical_to_the_recorded_ones() {
    let mut actual: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for (case, model, options) in cases() {
        let (dir, _) = convert(&model, &options);
        actual.insert(case.to_string(), hashes(&dir));
    }
    let text: String = actual
        .iter()
        .flat_map(|(case, files)| files.iter().map(move |(file, hash)| format!("{case} {file} {hash}\n")))
        .collect();
    if std::env::var_os("WDNN_BLESS").is_some() {
        std::fs::create_dir_all(golden_file().parent().unwrap()).unwrap();
        std::fs::write(golden_file(), &text).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(golden_file())
        .unwrap_or_else(|e| panic!("{}: {e} (record it with WDNN_BLESS=1)", golden_file().display()));
    if expected != text {
        let diff: Vec<String> = text
            .lines()
            .filter(|l| !expected.lines().any(|e| e == *l))
            .map(|l| format!("now:      {l}"))
            .chain(expected.lines().filter(|e| !text.lines().any(|l| l == *e)).map(|l| format!("recorded: {l}")))
            .collect();
        panic!("bundles differ from {}:\n{}", golden_file().display(), diff.join("\n"));
    }
}
