//! Running bundles in the wasm32 package under Node, from Rust: a long-lived `node web/tools/worker.mjs` process
//! (see that file for the line protocol) that serves many loads and runs, so Node's start-up and the module's
//! compilation are paid once per worker rather than once per case.
//!
//! Tensors cross as `.npy` files in a scratch folder. A reply that reports a WebAssembly trap (a Rust panic inside
//! the module) leaves the module's state undefined, so the worker is replaced before the next request.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use wdnn_runner_core::Tensor;

use crate::{npy, repo_root};

/// The Node executable (`WDNN_NODE`, else `node` on the PATH).
pub fn node() -> String {
    std::env::var("WDNN_NODE").unwrap_or_else(|_| "node".to_string())
}

/// Node's flags for running a module build: Node 20 validates relaxed-SIMD instructions only behind a flag
/// (browsers ship them), so the package's own choice there is SIMD128 and the relaxed build is run with it.
pub fn node_flags(flavor: &str) -> &'static [&'static str] {
    if flavor == "relaxed-simd" { &["--experimental-wasm-relaxed-simd"] } else { &[] }
}

struct Process {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

/// One Node process holding at most one loaded model.
pub struct NodeWorker {
    package: PathBuf,
    scratch: PathBuf,
    /// The module build asked for (`WDNN_FLAVOR`); `None`: the package's choice.
    flavor: Option<String>,
    /// The wasm backend's threads (`WDNN_THREADS`, `env.wasm.numThreads`); `None`: the package's default.
    threads: Option<usize>,
    process: Option<Process>,
}

/// What a load reports.
pub struct Loaded {
    /// The backend chosen.
    pub backend: String,
    /// The model's input names, in order.
    pub inputs: Vec<String>,
    /// The module build that runs it (`simd128`, `relaxed-simd`, `simd128-threads`).
    pub flavor: String,
    /// The threads the wasm backend's kernels use in it.
    pub threads: usize,
}

impl NodeWorker {
    /// A worker over the package in `package` (see `cargo xtask web`), exchanging tensors through `scratch`.
    pub fn new(package: &Path, scratch: &Path) -> NodeWorker {
        NodeWorker {
            package: package.to_path_buf(),
            scratch: scratch.to_path_buf(),
            flavor: None,
            threads: None,
            process: None,
        }
    }

    /// The same, on the module build `flavor` (`simd128`, `relaxed-simd`, `simd128-threads`) rather than the
    /// package's choice; the threaded build runs on `threads` threads.
    pub fn with_flavor(package: &Path, scratch: &Path, flavor: &str, threads: usize) -> NodeWorker {
        let mut worker = NodeWorker::new(package, scratch);
        worker.flavor = Some(flavor.to_string());
        worker.threads = Some(threads);
        worker
    }

    fn spawn(&self) -> Result<Process> {
        let script = repo_root().join("web/tools/worker.mjs");
        let mut command = Command::new(node());
        if let Some(flavor) = &self.flavor {
            command.env("WDNN_FLAVOR", flavor).args(node_flags(flavor));
        }
        if let Some(threads) = self.threads {
            command.env("WDNN_THREADS", threads.to_string());
        }
        let mut child = command
            .arg(&script)
            .arg(&self.package)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("starting `{} {}` (is Node 20 installed?)", node(), script.display()))?;
        let stdin = child.stdin.take().context("the worker's stdin")?;
        let stdout = BufReader::new(child.stdout.take().context("the worker's stdout")?);
        Ok(Process { child, stdin, stdout })
    }

    /// Sends one request; `Err` holds the worker's error message, or why the worker could not answer.
    fn request(&mut self, request: Value) -> Result<Value, String> {
        if self.process.is_none() {
            self.process = Some(self.spawn().map_err(|e| format!("{e:#}"))?);
        }
        let Some(p) = self.process.as_mut() else { unreachable!("spawned above") };
        let mut line = String::new();
        let sent = writeln!(p.stdin, "{request}").and_then(|_| p.stdin.flush());
        let answered = sent.is_ok() && p.stdout.read_line(&mut line).is_ok_and(|n| n > 0);
        if !answered {
            self.stop();
            return Err("the Node worker died".to_string());
        }
        let reply: Value = serde_json::from_str(&line).map_err(|e| format!("bad reply from the Node worker: {e}"))?;
        if reply["ok"].as_bool() == Some(true) {
            return Ok(reply);
        }
        let error = reply["error"].as_str().unwrap_or("the Node worker failed without a message").to_string();
        // A trap (a Rust panic in the module): its memory may be inconsistent, start afresh next time.
        if error.contains("RuntimeError") || error.contains("unreachable") {
            self.stop();
        }
        Err(error)
    }

    fn stop(&mut self) {
        if let Some(mut p) = self.process.take() {
            drop(p.stdin);
            let _ = p.child.kill();
            let _ = p.child.wait();
        }
    }

    /// The module build the package chose (`simd128`, `relaxed-simd`) and the backends compiled into it.
    pub fn info(&mut self) -> Result<(String, Vec<String>), String> {
        let reply = self.request(json!({"op": "info"}))?;
        let backends = reply["backends"]
            .as_array()
            .map(|a| a.iter().filter_map(|b| b.as_str().map(str::to_string)).collect())
            .unwrap_or_default();
        Ok((reply["flavor"].as_str().unwrap_or_default().to_string(), backends))
    }

    /// Loads the bundle at `bundle` on the first of `backends` that works (in the wasm32 module).
    pub fn load(&mut self, bundle: &Path, backends: &[&str]) -> Result<Loaded, String> {
        let reply = self.request(json!({"op": "load", "bundle": bundle, "backends": backends}))?;
        let inputs = reply["inputs"]
            .as_array()
            .map(|a| a.iter().filter_map(|i| i["name"].as_str().map(str::to_string)).collect())
            .unwrap_or_default();
        let text = |key: &str| reply[key].as_str().unwrap_or_default().to_string();
        let threads = reply["threads"].as_u64().unwrap_or(1) as usize;
        Ok(Loaded { backend: text("backend"), inputs, flavor: text("flavor"), threads })
    }

    /// Runs the loaded model; outputs in the model's order.
    pub fn run(&mut self, inputs: &[(&str, Tensor)]) -> Result<Vec<(String, Tensor)>, String> {
        let dir = self.scratch.join("io");
        std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        let mut files = Vec::new();
        for (i, (name, tensor)) in inputs.iter().enumerate() {
            let file = dir.join(format!("input_{i}.npy"));
            npy::write(tensor, &file).map_err(|e| format!("{e:#}"))?;
            files.push(json!({"name": name, "file": file}));
        }
        let reply = self.request(json!({"op": "run", "inputs": files, "out_dir": dir}))?;
        let mut outputs = Vec::new();
        for o in reply["outputs"].as_array().map(Vec::as_slice).unwrap_or_default() {
            let (Some(name), Some(file)) = (o["name"].as_str(), o["file"].as_str()) else {
                return Err(format!("bad output entry from the Node worker: {o}"));
            };
            outputs.push((name.to_string(), npy::read(Path::new(file)).map_err(|e| format!("{e:#}"))?));
        }
        Ok(outputs)
    }
}

impl Drop for NodeWorker {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The package for the Node runs: built (or brought up to date) by `cargo xtask web` once per process.
pub fn package() -> Result<PathBuf> {
    static BUILT: std::sync::OnceLock<std::result::Result<PathBuf, String>> = std::sync::OnceLock::new();
    let built = BUILT.get_or_init(|| {
        crate::web::web(crate::web::WebArgs { out: None, no_relaxed: false, no_opt: false, no_threads: false })
            .map_err(|e| format!("{e:#}"))
    });
    match built {
        Ok(dir) => Ok(dir.clone()),
        Err(e) => bail!("building the wdnn package for Node: {e}"),
    }
}
