//! The fuzzing loop: pick a corpus entry, mutate it, execute it, keep it when its outcome is new.
//!
//! Feedback is the outcome's signature ([`crate::harness::Outcome::signature`]: which check refused it, or what the
//! runs returned, numbers and names stripped): an input that reaches a check no earlier input reached joins the
//! corpus, so mutations build on inputs that got further. A panic is caught, its input saved under
//! `<work>/crashes/`; an allocation peak above the bound is saved likewise. What kills the process (an abort, a
//! stack overflow) or stalls it is left to the supervisor (`cargo xtask fuzz`): before each execution the worker
//! writes which corpus entry and which seed it is mutating to `<work>/current`, and [`replay`] rebuilds that input.

use std::collections::HashSet;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use sha2::Digest;
use wdnn_runner_core::hostile::CountingAllocator;

use crate::harness::{Input, execute};
use crate::mutate::{Rng, mutate};

/// What a run is asked to do.
#[derive(Debug, Clone)]
pub struct Options {
    /// Executions to make (the loop also stops after `seconds`).
    pub executions: u64,
    /// Wall-clock limit.
    pub seconds: u64,
    /// The first seed of the random stream (each execution's seed derives from it and the count).
    pub seed: u64,
    /// Seed inputs: bundle directories and corpus files (`*.bin`, [`Input::to_bytes`]), or folders of them.
    pub seeds: Vec<PathBuf>,
    /// Working folder: the queue of new inputs, crashes, the current record.
    pub work: PathBuf,
    /// The most corpus entries kept.
    pub max_corpus: usize,
    /// The most bytes one execution may have live at its peak beyond what was live before it.
    pub memory_bound: usize,
}

/// What a run did.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Executions made.
    pub executions: u64,
    /// Seconds taken.
    pub seconds: f64,
    /// Corpus entries at the end (seeds included).
    pub corpus: usize,
    /// Distinct outcome signatures seen.
    pub signatures: usize,
    /// Inputs that panicked or allocated past the bound, saved under `<work>/crashes/`.
    pub findings: Vec<String>,
    /// The largest allocation peak of one execution.
    pub peak_bytes: usize,
    /// The slowest execution, in seconds.
    pub slowest: f64,
}

/// Loads the seed inputs: each bundle directory (a folder with `manifest.wdnn`), each `*.bin` file, recursively.
pub fn load_seeds(paths: &[PathBuf]) -> std::io::Result<Vec<Input>> {
    let mut out = Vec::new();
    for path in paths {
        if path.join(wdnn_descriptor_spec::manifest::MANIFEST_FILE).is_file() {
            out.push(Input::from_dir(path)?);
        } else if path.is_dir() {
            let mut entries: Vec<PathBuf> =
                std::fs::read_dir(path)?.map(|e| e.map(|e| e.path())).collect::<Result<_, _>>()?;
            entries.sort();
            out.extend(load_seeds(&entries)?);
        } else if path.extension().is_some_and(|e| e == "bin") {
            let bytes = std::fs::read(path)?;
            if let Some(input) = Input::from_bytes(&bytes) {
                out.push(input);
            }
        }
    }
    Ok(out)
}

/// The corpus a worker starts from: the seeds, then what earlier runs in `work` queued, in queue order.
pub fn corpus(options: &Options) -> std::io::Result<Vec<Input>> {
    let mut corpus = load_seeds(&options.seeds)?;
    let queue = options.work.join("queue");
    if queue.is_dir() {
        corpus.extend(load_seeds(&[queue])?);
    }
    Ok(corpus)
}

/// The input a record of `<work>/current` names: entry `index` of the corpus mutated with `seed`.
pub fn replay(corpus: &[Input], index: usize, seed: u64) -> Option<Input> {
    let base = corpus.get(index)?;
    Some(mutate(base, corpus, &mut Rng::new(seed)))
}

/// Parses `<work>/current`: `index seed`.
pub fn read_current(work: &Path) -> Option<(usize, u64)> {
    let text = std::fs::read_to_string(work.join("current")).ok()?;
    let mut parts = text.split_whitespace();
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

fn save(dir: &Path, input: &Input, note: &str) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let bytes = input.to_bytes();
    let hash = sha2::Sha256::digest(&bytes);
    let name: String = hash[..8].iter().map(|b| format!("{b:02x}")).collect();
    let path = dir.join(format!("{name}.bin"));
    std::fs::write(&path, &bytes)?;
    if !note.is_empty() {
        std::fs::write(dir.join(format!("{name}.txt")), note)?;
    }
    Ok(path)
}

/// The message of the last panic, recorded by the quiet hook the loop installs.
static LAST_PANIC: std::sync::Mutex<String> = std::sync::Mutex::new(String::new());

/// Runs the loop; prints `progress <executions> <corpus> <signatures> <findings>` lines every two seconds.
pub fn run(options: &Options) -> std::io::Result<Report> {
    let started = Instant::now();
    let mut corpus = corpus(options)?;
    if corpus.is_empty() {
        return Err(std::io::Error::other("no seed inputs"));
    }
    let queue = options.work.join("queue");
    let crashes = options.work.join("crashes");
    std::fs::create_dir_all(&options.work)?;
    let current = std::fs::File::create(options.work.join("current"))?;
    std::panic::set_hook(Box::new(|info| {
        let location = info.location().map(|l| format!("{}:{}", l.file(), l.line())).unwrap_or_default();
        let payload = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        if let Ok(mut last) = LAST_PANIC.lock() {
            *last = format!("{payload} at {location}");
        }
    }));
    let mut signatures: HashSet<String> = HashSet::new();
    let mut crash_kinds: HashSet<String> = HashSet::new();
    let mut report = Report::default();
    // The seeds' own outcomes first.
    for input in &corpus {
        signatures.insert(execute(input).signature());
    }
    let mut last_print = Instant::now();
    let mut stream = Rng::new(options.seed);
    let stdout = std::io::stdout();
    while report.executions < options.executions && started.elapsed().as_secs() < options.seconds {
        let index = stream.below(corpus.len());
        let seed = stream.next_u64();
        let record = format!("{index} {seed}\n");
        current.write_at(format!("{record:<48}").as_bytes(), 0)?;
        let input = mutate(&corpus[index], &corpus, &mut Rng::new(seed));
        CountingAllocator::reset_peak();
        let before = CountingAllocator::live();
        let clock = Instant::now();
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| execute(&input)));
        let elapsed = clock.elapsed().as_secs_f64();
        let peak = CountingAllocator::peak().saturating_sub(before);
        report.executions += 1;
        report.peak_bytes = report.peak_bytes.max(peak);
        report.slowest = report.slowest.max(elapsed);
        match outcome {
            Err(_) => {
                let message = LAST_PANIC.lock().map(|m| m.clone()).unwrap_or_default();
                if crash_kinds.insert(crate::harness::normalize(&message)) {
                    let path = save(&crashes, &input, &format!("panic: {message}\n"))?;
                    report.findings.push(format!("panic: {message} ({})", path.display()));
                }
            }
            Ok(outcome) => {
                if peak > options.memory_bound.saturating_add(4 * input.len()) {
                    let note = format!("allocated {peak} bytes at once: {outcome:?}\n");
                    let path = save(&crashes, &input, &note)?;
                    report.findings.push(format!("memory: {peak} bytes ({})", path.display()));
                }
                if signatures.insert(outcome.signature()) && corpus.len() < options.max_corpus {
                    let path = queue.join(format!("{:06}.bin", corpus.len()));
                    std::fs::create_dir_all(&queue)?;
                    std::fs::write(path, input.to_bytes())?;
                    corpus.push(input);
                }
            }
        }
        if last_print.elapsed().as_secs() >= 2 {
            last_print = Instant::now();
            let mut out = stdout.lock();
            writeln!(
                out,
                "progress {} {} {} {}",
                report.executions,
                corpus.len(),
                signatures.len(),
                report.findings.len()
            )?;
            out.flush()?;
        }
    }
    let _ = std::panic::take_hook();
    report.seconds = started.elapsed().as_secs_f64();
    report.corpus = corpus.len();
    report.signatures = signatures.len();
    Ok(report)
}
