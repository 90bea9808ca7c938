//! `cargo xtask fuzz N`: N executions of the stable in-process fuzzer (`fuzz/`, crate `wdnn-fuzz`) over the decode,
//! validate, load and run path, seeded by the fixture bundles and the committed corpus.
//!
//! The command builds the `wdnn-fuzz` worker and supervises `--jobs` of them, each with its own seed and working
//! folder under `target/fuzz/`: a worker that dies (an abort, a stack overflow) or stops reporting progress for a
//! minute (a hang) is reported with the input it was executing, rebuilt from its replay record into
//! `target/fuzz/<job>/crashes/`, and restarted with the executions left. Panics and allocations past the bound are
//! caught inside the worker and saved the same way. Any finding fails the command: copy the input into
//! `fuzz/regressions/` (run by `fuzz/tests/regressions.rs`), fix the cause, run again.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command as Process, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;

use crate::repo_root;

#[derive(Args)]
pub struct FuzzArgs {
    /// Executions in total (shared by the jobs).
    executions: u64,
    /// Stop after this many seconds even if the executions are not done.
    #[arg(long, default_value_t = 86_400)]
    seconds: u64,
    /// Parallel workers.
    #[arg(long, default_value_t = 1)]
    jobs: u64,
    /// The first job's seed (job i uses seed + i; a restart adds 1000).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Working folder (queue, crashes, replay records).
    #[arg(long)]
    work: Option<PathBuf>,
}

/// One worker's totals.
#[derive(Default)]
struct Totals {
    executions: u64,
    corpus: u64,
    signatures: u64,
    peak: u64,
    slowest: f64,
    findings: Vec<String>,
}

pub fn fuzz(args: FuzzArgs) -> Result<()> {
    let root = repo_root();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Process::new(&cargo)
        .current_dir(&root)
        .args(["build", "-p", "wdnn-fuzz", "--bin", "wdnn-fuzz"])
        .status()
        .context("building the fuzz worker")?;
    if !status.success() {
        bail!("building the fuzz worker failed ({status})");
    }
    let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root.join("target"));
    let worker = target.join("debug/wdnn-fuzz");
    let work = args.work.clone().unwrap_or_else(|| target.join("fuzz"));
    let mut seeds: Vec<PathBuf> = std::fs::read_dir(root.join("fixtures/bundles"))
        .context("listing fixtures/bundles")?
        .map(|e| e.map(|e| e.path()))
        .collect::<std::io::Result<_>>()?;
    seeds.sort();
    seeds.push(root.join("fuzz/corpus"));
    let started = Instant::now();
    let jobs = args.jobs.max(1);
    let per_job = args.executions.div_ceil(jobs);
    let totals: Vec<Result<Totals>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..jobs)
            .map(|j| {
                let (worker, seeds) = (&worker, &seeds);
                let dir = work.join(format!("job{j}"));
                let seed = args.seed + j;
                let deadline = started + Duration::from_secs(args.seconds);
                scope.spawn(move || supervise(worker, &dir, seeds, per_job, deadline, seed))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|_| Err(anyhow::anyhow!("a job panicked")))).collect()
    });
    let mut sum = Totals::default();
    for t in totals {
        let t = t?;
        sum.executions += t.executions;
        sum.corpus += t.corpus;
        sum.signatures = sum.signatures.max(t.signatures);
        sum.peak = sum.peak.max(t.peak);
        sum.slowest = sum.slowest.max(t.slowest);
        sum.findings.extend(t.findings);
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "fuzz: {} executions in {seconds:.0} s ({:.0}/s) over {jobs} job(s); corpus {} entries, {} distinct outcomes \
         (most in one job); largest allocation peak of one execution {:.1} MiB; slowest execution {:.3} s; {} findings",
        sum.executions,
        sum.executions as f64 / seconds.max(1e-9),
        sum.corpus,
        sum.signatures,
        sum.peak as f64 / (1 << 20) as f64,
        sum.slowest,
        sum.findings.len()
    );
    if !sum.findings.is_empty() {
        for f in &sum.findings {
            println!("  {f}");
        }
        bail!("the fuzzer found {} faults (inputs under {})", sum.findings.len(), work.display());
    }
    Ok(())
}

/// Runs one job's worker until its executions are done, restarting it after a death or a hang.
fn supervise(
    worker: &Path,
    dir: &Path,
    seeds: &[PathBuf],
    executions: u64,
    deadline: Instant,
    seed: u64,
) -> Result<Totals> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut totals = Totals::default();
    let mut restart = 0u64;
    while totals.executions < executions && Instant::now() < deadline {
        let left = executions - totals.executions;
        let seconds = deadline.saturating_duration_since(Instant::now()).as_secs().max(1);
        let mut child = Process::new(worker)
            .arg("run")
            .arg(dir)
            .args([left.to_string(), seconds.to_string(), (seed + 1000 * restart).to_string()])
            .args(seeds)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("starting {}", worker.display()))?;
        let stdout = child.stdout.take().context("the worker's stdout")?;
        let (tx, rx) = mpsc::channel::<String>();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(|l| l.ok()) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let (mut done, mut hung, mut progress) = (false, false, 0u64);
        loop {
            match rx.recv_timeout(Duration::from_secs(60)) {
                Ok(line) => {
                    let words: Vec<&str> = line.split_whitespace().collect();
                    match words.first().copied() {
                        Some("progress") => progress = words.get(1).and_then(|w| w.parse().ok()).unwrap_or(progress),
                        Some("done") => {
                            let n = |i: usize| words.get(i).and_then(|w| w.parse::<f64>().ok()).unwrap_or(0.0);
                            progress = n(1) as u64;
                            totals.corpus = n(3) as u64;
                            totals.signatures = totals.signatures.max(n(4) as u64);
                            totals.peak = totals.peak.max(n(5) as u64);
                            totals.slowest = totals.slowest.max(n(6));
                            done = true;
                        }
                        Some("finding") => totals.findings.push(line["finding ".len()..].to_string()),
                        _ => println!("{line}"),
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    hung = true;
                    let _ = child.kill();
                    break;
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
        let status = child.wait().context("waiting for the worker")?;
        totals.executions += progress;
        if done && status.success() {
            continue;
        }
        // The worker died or hung: the input it was executing is in its replay record.
        let what = if hung { "hang (no progress for 60 s)".to_string() } else { format!("died ({status})") };
        let crashes = dir.join("crashes");
        std::fs::create_dir_all(&crashes)?;
        let out = crashes.join(format!("restart{restart}.bin"));
        let replayed = Process::new(worker).arg("replay").arg(dir).arg(&out).args(seeds).status();
        let saved = if replayed.is_ok_and(|s| s.success()) { out.display().to_string() } else { "not rebuilt".into() };
        totals.findings.push(format!("{what}: input {saved}"));
        totals.executions += 1;
        restart += 1;
        if restart > 20 {
            bail!("the worker in {} failed 20 times; stopping", dir.display());
        }
    }
    Ok(totals)
}
