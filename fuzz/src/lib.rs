//! wdnn's fuzzer on stable Rust (issue 14): real bundles mutated in process, bytes and structure alike, with every
//! checksum re-sealed, through `Bundle::from_source` → `load_backend` (container framing, manifest, graph
//! descriptor and its validation, weight index, chunk decompression) → each CPU backend's `load` → one run.
//!
//! - `harness`: one execution, and the re-sealing that lets mutations reach past the checksums;
//! - `mutate`: byte-level and structure-aware mutations, deterministic per seed;
//! - `driver`: the outcome-guided loop, crash and memory findings, replay records.
//!
//! `cargo xtask fuzz N` builds the `wdnn-fuzz` worker and supervises it (restarting it after an abort or a hang,
//! which it reports with the input that caused it). Every finding becomes a file in `fuzz/regressions/`, which
//! `tests/regressions.rs` runs with the committed corpus in `fuzz/corpus/`.

pub mod driver;
pub mod harness;
pub mod mutate;
