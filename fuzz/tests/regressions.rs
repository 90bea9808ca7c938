//! Every input the fuzzer found a fault with (`fuzz/regressions/`) and the committed corpus (`fuzz/corpus/`) goes
//! through the whole path without a panic and within the memory bound; then a short fuzz run from the fixture
//! bundles finds nothing.

use std::path::{Path, PathBuf};

use wdnn_fuzz::driver::{self, Options, load_seeds};
use wdnn_fuzz::harness::execute;
use wdnn_runner_core::hostile::CountingAllocator;

#[global_allocator]
static ALLOC: CountingAllocator = CountingAllocator;

const BOUND: usize = 192 << 20;

fn here(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn fixture_seeds() -> Vec<PathBuf> {
    vec![here("../fixtures/bundles/tiny-gemm"), here("../fixtures/bundles/squeezenet-light")]
}

#[test]
fn regressions_and_corpus_are_handled_within_the_bound() {
    let inputs = load_seeds(&[here("regressions"), here("corpus")]).expect("reads fuzz/regressions and fuzz/corpus");
    assert!(!inputs.is_empty(), "the committed corpus is empty");
    for (i, input) in inputs.iter().enumerate() {
        CountingAllocator::reset_peak();
        let before = CountingAllocator::live();
        let outcome = execute(input);
        let peak = CountingAllocator::peak().saturating_sub(before);
        assert!(peak <= BOUND + 4 * input.len(), "input {i}: {peak} bytes at once ({outcome:?})");
    }
}

#[test]
fn a_short_fuzz_run_finds_nothing() {
    let work = std::env::temp_dir().join(format!("wdnn-fuzz-test-{}", std::process::id()));
    let options = Options {
        executions: 300,
        seconds: 120,
        seed: 1,
        seeds: fixture_seeds(),
        work: work.clone(),
        max_corpus: 100,
        memory_bound: BOUND,
    };
    let report = driver::run(&options).expect("runs");
    let _ = std::fs::remove_dir_all(&work);
    assert_eq!(report.executions, 300);
    assert!(report.findings.is_empty(), "{:?}", report.findings);
    assert!(
        report.signatures > 10,
        "only {} distinct outcomes: the mutator does not reach past the decoders",
        report.signatures
    );
}
