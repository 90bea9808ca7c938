//! wdnn's command line: `cargo xtask convert | run | inspect | fixtures | test | conformance`.

mod bench;
mod bench_gpu;
mod cli;
mod conformance;
mod image_input;
mod npy;

use anyhow::Result;
use clap::Parser;

fn main() -> Result<()> {
    match cli::Command::parse() {
        cli::Command::Convert(args) => cli::convert(args),
        cli::Command::Run(args) => cli::run(args),
        cli::Command::Inspect(args) => cli::inspect(args),
        cli::Command::Fixtures => cli::fixtures(),
        cli::Command::Bench(args) => cli::bench(args),
        cli::Command::Test(args) => cli::test(args),
        cli::Command::Conformance(args) => conformance::conformance(args),
        cli::Command::BenchGpu(args) => bench_gpu::bench_gpu(args),
    }
}
