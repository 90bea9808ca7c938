//! wdnn's command line: `cargo xtask convert | run | inspect | fixtures | test | conformance | web | demo | fuzz | vectors`.

mod backends;
mod bench;
mod bench_gpu;
mod bench_wasm;
mod cli;
mod conformance;
mod demo;
mod exported;
mod fuzz;
mod image_input;
mod inspect;
mod node;
mod npy;
mod reader;
mod serve;
mod vectors;
mod web;
mod web_check;

use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::Parser;

/// The repository's root directory (fixtures, the cache and CONFORMANCE.md are found from it).
pub(crate) fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_default()
}

/// Errors are printed as their chain of causes, one per line, and never with a backtrace (which anyhow would add
/// under `RUST_BACKTRACE=1`): a user sees what went wrong and where, not the program's internals.
fn main() -> std::process::ExitCode {
    match dispatch() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            for cause in e.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            std::process::ExitCode::FAILURE
        }
    }
}

fn dispatch() -> Result<()> {
    match cli::Command::parse() {
        cli::Command::Convert(args) => cli::convert(args),
        cli::Command::Run(args) => cli::run(args),
        cli::Command::Inspect(args) => cli::inspect(args),
        cli::Command::Fixtures => cli::fixtures(),
        cli::Command::Bench(args) => cli::bench(args),
        cli::Command::Test(args) => cli::test(args),
        cli::Command::Conformance(args) => conformance::conformance(args),
        cli::Command::BenchGpu(args) => bench_gpu::bench_gpu(args),
        cli::Command::Web(args) => web::web(args).map(|_| ()),
        cli::Command::WebTest => web_check::web_test(),
        cli::Command::BenchWasm(args) => bench_wasm::bench_wasm(args),
        cli::Command::Exported(args) => exported::exported(args),
        cli::Command::Fuzz(args) => fuzz::fuzz(args),
        cli::Command::Demo(args) => demo::demo(args),
        cli::Command::BrowserTest => demo::browser_test(),
        cli::Command::BenchBrowser(args) => demo::bench_browser(args),
        cli::Command::Vectors(args) => vectors::vectors(args),
    }
}
