//! One execution: a fuzzed bundle re-sealed (so that mutations reach past the checksums), opened from memory within
//! small load limits, its `fallback` descriptor loaded and, when cheap, run on zeros by every CPU backend.
//!
//! Whoever serves a bundle can re-hash it: a SHA-256 proves integrity in transit, not honesty. So the harness
//! recomputes the heads' checksums, each chunk's checksum and the manifest's file entries of whatever the mutator
//! produced, and the decoders meet contents that lie with checksums that agree. Errors are the expected outcome; a
//! panic, an abort, a hang or an allocation past the bound is a finding.

use sha2::Digest;
use wdnn_descriptor_spec::container::{self, FileKind, HEADER_LEN};
use wdnn_descriptor_spec::manifest::MANIFEST_FILE;
use wdnn_descriptor_spec::weights::WeightIndex;
use wdnn_descriptor_spec::{Graph, LoadLimits, Manifest, Op};
use wdnn_runner_core::{Backend, Bundle, MemorySource, Tensor};

/// The backend whose descriptor the fuzzer loads; every CPU backend runs it.
pub const DESCRIPTOR: &str = "fallback";

/// Limits for fuzzing: small enough that no input can make a run take long or allocate much.
pub fn limits() -> LoadLimits {
    LoadLimits {
        max_manifest_size: 1 << 20,
        max_file_size: 64 << 20,
        max_arena_size: 64 << 20,
        max_weight_stream: 64 << 20,
        max_tensors: 1 << 14,
        max_kernels: 1 << 14,
        max_rank: 8,
    }
}

/// A bundle's three files as one fuzz input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Input {
    /// `manifest.wdnn`.
    pub manifest: Vec<u8>,
    /// The `fallback` graph descriptor.
    pub graph: Vec<u8>,
    /// Its weights file.
    pub weights: Vec<u8>,
}

impl Input {
    /// Reads the manifest and the `fallback` files of a bundle directory.
    pub fn from_dir(dir: &std::path::Path) -> std::io::Result<Input> {
        let manifest = std::fs::read(dir.join(MANIFEST_FILE))?;
        let m = Manifest::from_bytes(&manifest, MANIFEST_FILE).map_err(std::io::Error::other)?;
        let entry = m
            .backends
            .iter()
            .find(|b| b.backend == DESCRIPTOR)
            .ok_or_else(|| std::io::Error::other(format!("{}: no fallback descriptor", dir.display())))?;
        Ok(Input {
            graph: std::fs::read(dir.join(&entry.graph.file))?,
            weights: std::fs::read(dir.join(&entry.weights.file))?,
            manifest,
        })
    }

    /// The corpus file format: two little-endian u32 lengths (manifest, graph), then the three files back to back.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(8 + self.manifest.len() + self.graph.len() + self.weights.len());
        out.extend_from_slice(&(self.manifest.len() as u32).to_le_bytes());
        out.extend_from_slice(&(self.graph.len() as u32).to_le_bytes());
        out.extend_from_slice(&self.manifest);
        out.extend_from_slice(&self.graph);
        out.extend_from_slice(&self.weights);
        out
    }

    /// The inverse of [`Input::to_bytes`]; None when the lengths do not fit.
    pub fn from_bytes(data: &[u8]) -> Option<Input> {
        let len =
            |at: usize| -> Option<usize> { Some(u32::from_le_bytes(data.get(at..at + 4)?.try_into().ok()?) as usize) };
        let (m, g) = (len(0)?, len(4)?);
        let graph_at = 8usize.checked_add(m)?;
        let weights_at = graph_at.checked_add(g)?;
        Some(Input {
            manifest: data.get(8..graph_at)?.to_vec(),
            graph: data.get(graph_at..weights_at)?.to_vec(),
            weights: data.get(weights_at..)?.to_vec(),
        })
    }

    /// Total bytes.
    pub fn len(&self) -> usize {
        self.manifest.len() + self.graph.len() + self.weights.len()
    }

    /// Whether all three files are empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Recomputes the head checksum of a container, if its header and head length are intact.
pub fn reseal_head(bytes: &mut [u8]) {
    if bytes.len() < HEADER_LEN {
        return;
    }
    let head_len = u64::from_le_bytes(bytes[16..24].try_into().unwrap_or([0; 8]));
    let Some(end) = (HEADER_LEN as u64).checked_add(head_len).filter(|&e| e <= bytes.len() as u64) else {
        return;
    };
    let sum: [u8; 32] = sha2::Sha256::digest(&bytes[HEADER_LEN..end as usize]).into();
    bytes[24..56].copy_from_slice(&sum);
}

/// Re-seals a weights file: each chunk's checksum from the body as it is, then the head (the version the mutator
/// chose is kept).
pub fn reseal_weights(bytes: &mut Vec<u8>) {
    reseal_head(bytes);
    let Ok((mut index, body)) = container::read::<WeightIndex>(FileKind::Weights, bytes, "w") else {
        return;
    };
    let mut at = 0u64;
    for chunk in &mut index.chunks {
        let Some(end) = at.checked_add(chunk.compressed_size).filter(|&e| e <= body.len() as u64) else {
            break;
        };
        chunk.sha256 = sha2::Sha256::digest(&body[at as usize..end as usize]).to_vec();
        at = end;
    }
    let minor = u16::from_le_bytes([bytes[10], bytes[11]]);
    if let Ok(mut out) = container::write(FileKind::Weights, minor, &index, body) {
        out[8..16].copy_from_slice(&bytes[8..16]);
        *bytes = out;
    }
}

/// The re-sealed bundle as files: heads and chunks re-hashed, every manifest entry pointing at the two files with
/// their real sizes and hashes.
pub fn seal(input: &Input) -> Vec<(String, Vec<u8>)> {
    let (mut manifest, mut graph, mut weights) = (input.manifest.clone(), input.graph.clone(), input.weights.clone());
    reseal_head(&mut manifest);
    reseal_head(&mut graph);
    reseal_weights(&mut weights);
    let mut files = Vec::new();
    if let Ok(mut m) = Manifest::from_bytes_with(&manifest, MANIFEST_FILE, &limits()) {
        for entry in &mut m.backends {
            entry.graph.size = graph.len() as u64;
            entry.graph.sha256 = wdnn_descriptor_spec::sha256_hex(&graph);
            entry.weights.size = weights.len() as u64;
            entry.weights.sha256 = wdnn_descriptor_spec::sha256_hex(&weights);
            if !files.iter().any(|(n, _)| *n == entry.graph.file) {
                files.push((entry.graph.file.clone(), graph.clone()));
            }
            if !files.iter().any(|(n, _)| *n == entry.weights.file) {
                files.push((entry.weights.file.clone(), weights.clone()));
            }
        }
        if let Ok(bytes) = m.to_bytes() {
            manifest = bytes;
        }
    }
    files.push((MANIFEST_FILE.to_string(), manifest));
    files
}

/// A rough count of the scalar operations a run of `graph` takes, so that only graphs that finish fast are run.
pub fn run_cost(graph: &Graph) -> u64 {
    let numel = |id: u32| graph.tensors.get(id as usize).map_or(0, |t| t.numel());
    let mut cost = 0u64;
    for k in &graph.kernels {
        let outs: u64 = k.outputs.iter().map(|&o| numel(o)).fold(0, u64::saturating_add);
        let ins: u64 = k.inputs.iter().map(|&i| numel(i)).fold(0, u64::saturating_add);
        // A product's inner loop is at most the size of its second operand; a pool's its window.
        let inner = match &k.op {
            Op::Conv { .. } | Op::ConvTranspose { .. } | Op::MatMul { .. } => k.inputs.get(1).map_or(1, |&w| numel(w)),
            Op::MaxPool { kernel_shape, .. } | Op::AveragePool { kernel_shape, .. } => {
                kernel_shape.iter().fold(1u64, |a, &k| a.saturating_mul(k as u64))
            }
            _ => 16,
        };
        cost = cost.saturating_add(outs.saturating_mul(inner.max(1))).saturating_add(ins);
    }
    cost
}

/// The largest [`run_cost`] the harness runs.
pub const MAX_RUN_COST: u64 = 4_000_000;

/// How far an input got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Refused while the bundle was opened or a descriptor read (the message).
    Refused(String),
    /// A backend refused to load it (backend, message).
    LoadRefused(String, String),
    /// Loaded on every backend, not run (too costly).
    Loaded,
    /// Ran on every backend: each one's result or error.
    Ran(Vec<String>),
}

impl Outcome {
    /// A coarse class of the outcome for the driver's feedback: numbers and quoted names stripped, so that two
    /// inputs refused by the same check at different places count once.
    pub fn signature(&self) -> String {
        let text = match self {
            Outcome::Refused(m) => format!("refused: {m}"),
            Outcome::LoadRefused(b, m) => format!("{b} refused: {m}"),
            Outcome::Loaded => "loaded".to_string(),
            Outcome::Ran(r) => format!("ran: {}", r.join(" | ")),
        };
        // Words that held a number (hashes, sizes with units) become one `#`; the class is in the first words.
        let text = normalize(&text);
        let words: Vec<&str> =
            text.split_whitespace().map(|w| if w.contains('#') { "#" } else { w }).take(16).collect();
        words.join(" ")
    }
}

/// Replaces digit runs by `#` and backticked names by `` `_` ``.
pub fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut quoted = false;
    let mut last_digit = false;
    for c in text.chars() {
        if c == '`' || c == '"' {
            quoted = !quoted;
            if quoted {
                out.push_str("`_");
            } else {
                out.push('`');
            }
            last_digit = false;
            continue;
        }
        if quoted {
            continue;
        }
        if c.is_ascii_digit() {
            if !last_digit {
                out.push('#');
            }
            last_digit = true;
            continue;
        }
        last_digit = false;
        out.push(c);
    }
    out
}

/// The CPU backends every loaded descriptor goes through.
pub fn backends() -> [&'static dyn Backend; 2] {
    [&wdnn_runner_fallback::FallbackBackend, &wdnn_runner_wasm::backend::WasmBackend]
}

/// Runs one input through the whole path.
pub fn execute(input: &Input) -> Outcome {
    let files = seal(input);
    let bundle = match Bundle::from_source_with(Box::new(MemorySource(files)), limits()) {
        Ok(b) => b,
        Err(e) => return Outcome::Refused(e.to_string()),
    };
    let (graph, weights) = match bundle.load_backend(DESCRIPTOR, |_, _| {}) {
        Ok(gw) => gw,
        Err(e) => return Outcome::Refused(e.to_string()),
    };
    let mut loaded = Vec::new();
    for backend in backends() {
        match backend.load(&graph, &weights) {
            Ok(exe) => loaded.push(exe),
            Err(e) => return Outcome::LoadRefused(backend.name().to_string(), e.to_string()),
        }
    }
    if run_cost(&graph) > MAX_RUN_COST {
        return Outcome::Loaded;
    }
    let inputs: Vec<Tensor> = graph
        .inputs
        .iter()
        .map(|io| {
            let t = &graph.tensors[io.tensor as usize];
            Tensor::zeros(t.dtype, &t.shape)
        })
        .collect();
    let results = loaded
        .iter_mut()
        .map(|exe| match exe.run(&inputs) {
            Ok(outputs) => format!("{} outputs", outputs.len()),
            Err(e) => e.to_string(),
        })
        .collect();
    Outcome::Ran(results)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_round_trip_and_signatures_drop_numbers_and_names() {
        let input = Input { manifest: vec![1, 2], graph: vec![3], weights: vec![4, 5, 6] };
        assert_eq!(Input::from_bytes(&input.to_bytes()), Some(input));
        assert_eq!(Input::from_bytes(&[9, 0, 0, 0, 0, 0, 0, 0]), None);
        assert_eq!(normalize("kernel 12 `conv_3` reads 4096 bytes"), "kernel # `_` reads # bytes");
    }
}
