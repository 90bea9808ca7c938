//! The fuzz worker that `cargo xtask fuzz` supervises.
//!
//! `wdnn-fuzz run WORK EXECUTIONS SECONDS SEED SEEDS...` runs the loop ([`wdnn_fuzz::driver::run`]) and ends with
//! a `done <executions> <seconds> <corpus> <signatures> <peak bytes> <slowest s>` line and one `finding …` line
//! each; `wdnn-fuzz replay WORK OUT SEEDS...` writes the input named by `WORK/current` to `OUT` (after an abort).

use std::path::PathBuf;
use std::process::ExitCode;

use wdnn_fuzz::driver::{self, Options};
use wdnn_runner_core::hostile::CountingAllocator;

#[global_allocator]
static ALLOC: CountingAllocator = CountingAllocator;

/// The most one execution may allocate at once beyond four times its input (the fuzz limits allow a 64 MiB arena
/// and weight stream; ruzstd's window adds a few MiB).
const MEMORY_BOUND: usize = 192 << 20;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let number = |i: usize| args.get(i).and_then(|a| a.parse::<u64>().ok());
    match args.first().map(String::as_str) {
        Some("run") if args.len() >= 6 => {
            let (Some(executions), Some(seconds), Some(seed)) = (number(2), number(3), number(4)) else {
                eprintln!("wdnn-fuzz run: EXECUTIONS, SECONDS and SEED are numbers");
                return ExitCode::FAILURE;
            };
            let options = Options {
                executions,
                seconds,
                seed,
                seeds: args[5..].iter().map(PathBuf::from).collect(),
                work: PathBuf::from(&args[1]),
                max_corpus: 500,
                memory_bound: MEMORY_BOUND,
            };
            match driver::run(&options) {
                Ok(r) => {
                    println!(
                        "done {} {:.1} {} {} {} {:.3}",
                        r.executions, r.seconds, r.corpus, r.signatures, r.peak_bytes, r.slowest
                    );
                    for f in &r.findings {
                        println!("finding {f}");
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("wdnn-fuzz: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Some("replay") if args.len() >= 4 => {
            let work = PathBuf::from(&args[1]);
            let options = Options {
                executions: 0,
                seconds: 0,
                seed: 0,
                seeds: args[3..].iter().map(PathBuf::from).collect(),
                work: work.clone(),
                max_corpus: 0,
                memory_bound: MEMORY_BOUND,
            };
            let input = driver::corpus(&options)
                .ok()
                .zip(driver::read_current(&work))
                .and_then(|(corpus, (index, seed))| driver::replay(&corpus, index, seed));
            match input {
                Some(input) => match std::fs::write(&args[2], input.to_bytes()) {
                    Ok(()) => ExitCode::SUCCESS,
                    Err(e) => {
                        eprintln!("wdnn-fuzz replay: writing {}: {e}", args[2]);
                        ExitCode::FAILURE
                    }
                },
                None => {
                    eprintln!("wdnn-fuzz replay: no record in {}/current matches the corpus", work.display());
                    ExitCode::FAILURE
                }
            }
        }
        _ => {
            eprintln!(
                "usage: wdnn-fuzz run WORK EXECUTIONS SECONDS SEED SEEDS... | wdnn-fuzz replay WORK OUT SEEDS..."
            );
            ExitCode::FAILURE
        }
    }
}
