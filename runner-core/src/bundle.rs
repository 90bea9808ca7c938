//! Reading a bundle: the manifest, then a backend's graph and weights, each verified before use.

use std::path::{Path, PathBuf};

use wdnn_descriptor_spec::manifest::MANIFEST_FILE;
use wdnn_descriptor_spec::weights::WeightsFile;
use wdnn_descriptor_spec::{DescriptorError, Graph, LoadLimits, Manifest, Storage, WeightEntry, WeightIndex};

use crate::{LocalFuture, Result, RunnerError, Tensor};

/// Where a bundle's files come from: a directory, memory (a browser's fetched bytes), …
///
/// [`Bundle`] only ever asks for plain file names (SPEC §3.2: the manifest's names are checked before use) and says
/// how many bytes it will accept, so a source never needs to read more than that.
/// Natively a source is `Send + Sync`, so a [`Bundle`] can be shared by threads that each load a session.
pub trait BundleSource: crate::backend::MaybeSendSync {
    /// Reads a whole file of the bundle.
    fn read(&self, file: &str) -> std::io::Result<Vec<u8>>;
    /// Names the source in messages.
    fn describe(&self) -> String;
    /// Makes `files` (one backend's graph and weights) ready to [`read`](BundleSource::read), without blocking. A
    /// source that downloads (a browser's) fetches a backend's files only here, once that backend is chosen, so a
    /// bundle's other descriptors never cross the network. The default has every file at hand already.
    fn fetch_async<'a>(&'a self, files: &'a [String]) -> LocalFuture<'a, Result<()>> {
        let _ = files;
        Box::pin(std::future::ready(Ok(())))
    }

    /// Reads a whole file of at most `max_len` bytes; a longer file is an error (`FileTooLarge`) before it is read
    /// whole. The default reads, then checks; sources that can stat or stream override it.
    fn read_bounded(&self, file: &str, max_len: u64) -> std::io::Result<Vec<u8>> {
        let bytes = self.read(file)?;
        if bytes.len() as u64 > max_len {
            return Err(too_large(bytes.len() as u64, max_len));
        }
        Ok(bytes)
    }
}

fn too_large(len: u64, max_len: u64) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::FileTooLarge,
        format!("the file has {len} bytes or more, more than the {max_len} expected"),
    )
}

/// A bundle directory on disk.
pub struct DirSource(pub PathBuf);

impl BundleSource for DirSource {
    fn read(&self, file: &str) -> std::io::Result<Vec<u8>> {
        self.read_bounded(file, u64::MAX)
    }
    fn describe(&self) -> String {
        format!("`{}`", self.0.display())
    }
    /// Only regular files are read (no symlinks, devices or pipes: `/dev/zero` never ends), and at most `max_len`
    /// bytes plus one, whatever the file claims to be.
    fn read_bounded(&self, file: &str, max_len: u64) -> std::io::Result<Vec<u8>> {
        use std::io::Read;
        let path = self.0.join(file);
        let meta = std::fs::symlink_metadata(&path)?;
        if !meta.file_type().is_file() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "not a regular file (symlinks, devices, pipes and directories are refused)",
            ));
        }
        if meta.len() > max_len {
            return Err(too_large(meta.len(), max_len));
        }
        let mut bytes = Vec::with_capacity(meta.len() as usize);
        std::fs::File::open(&path)?.take(max_len.saturating_add(1)).read_to_end(&mut bytes)?;
        if bytes.len() as u64 > max_len {
            return Err(too_large(bytes.len() as u64, max_len));
        }
        Ok(bytes)
    }
}

/// A bundle held in memory as (file name, bytes) pairs.
pub struct MemorySource(pub Vec<(String, Vec<u8>)>);

impl BundleSource for MemorySource {
    fn read(&self, file: &str) -> std::io::Result<Vec<u8>> {
        self.0
            .iter()
            .find(|(name, _)| name == file)
            .map(|(_, bytes)| bytes.clone())
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "no such file in the bundle"))
    }
    fn describe(&self) -> String {
        "memory".to_string()
    }
}

/// An opened bundle: its verified manifest and where to read the rest.
pub struct Bundle {
    /// The manifest.
    pub manifest: Manifest,
    source: Box<dyn BundleSource>,
    limits: LoadLimits,
}

/// A backend's decoded weights: the index and the logical stream, verified chunk by chunk.
pub struct Weights {
    /// The index from the weights file.
    pub index: WeightIndex,
    /// The decoded stream.
    pub stream: Vec<u8>,
}

impl Weights {
    /// The entry of weight `id`, checked: the id is in the index and its bytes lie inside the stream, so
    /// `entry.bytes(&self.stream)` cannot go out of bounds.
    pub fn entry(&self, id: u32) -> Result<&WeightEntry> {
        let invalid =
            |detail: String| RunnerError::Descriptor(DescriptorError::Invalid { what: "weights".into(), detail });
        let entry =
            self.index.tensors.get(id as usize).ok_or_else(|| invalid(format!("weight id {id} out of range")))?;
        if entry.offset.checked_add(entry.length).is_none_or(|end| end > self.stream.len() as u64) {
            return Err(invalid(format!("weight `{}` lies outside the stream", entry.name)));
        }
        Ok(entry)
    }

    /// Weight `id` decoded to its graph dtype (f16 and int8 encodings become f32).
    pub fn tensor(&self, id: u32) -> Result<Tensor> {
        let entry = self.entry(id)?;
        match entry.encoding {
            wdnn_descriptor_spec::Encoding::Raw => {
                Tensor::from_bytes(entry.dtype, &entry.shape, entry.bytes(&self.stream).to_vec())
            }
            _ => Tensor::new(&entry.shape, &entry.to_f32(&self.stream)?),
        }
    }
}

impl Bundle {
    /// Opens a bundle directory.
    pub fn open(dir: impl AsRef<Path>) -> Result<Bundle> {
        Bundle::from_source(Box::new(DirSource(dir.as_ref().to_path_buf())))
    }

    /// Opens a bundle from any source, within the default [`LoadLimits`].
    pub fn from_source(source: Box<dyn BundleSource>) -> Result<Bundle> {
        Bundle::from_source_with(source, LoadLimits::default())
    }

    /// Opens a bundle from any source; every later read and decode stays within `limits`.
    pub fn from_source_with(source: Box<dyn BundleSource>, limits: LoadLimits) -> Result<Bundle> {
        let bytes = read(source.as_ref(), MANIFEST_FILE, limits.max_manifest_size)?;
        let manifest = Manifest::from_bytes_with(&bytes, MANIFEST_FILE, &limits)?;
        Ok(Bundle { manifest, source, limits })
    }

    /// The limits this bundle is read within.
    pub fn limits(&self) -> &LoadLimits {
        &self.limits
    }

    /// Has the source fetch the graph and weights files of `backend` (see [`BundleSource::fetch_async`]); the async
    /// load path calls it once the backend's probe has passed.
    pub async fn fetch_backend_async(&self, backend: &str) -> Result<()> {
        match self.manifest.backend(backend) {
            Some(entry) => {
                let mut files = vec![entry.graph.file.clone()];
                if entry.weights.file != entry.graph.file {
                    files.push(entry.weights.file.clone());
                }
                self.source.fetch_async(&files).await
            }
            None => Ok(()),
        }
    }

    /// Reads, verifies and decodes the graph and weights of `backend`, calling `progress(done, total)` while the
    /// weight chunks are decoded.
    pub fn load_backend(&self, backend: &str, progress: impl FnMut(u64, u64)) -> Result<(Graph, Weights)> {
        let graph = self.load_graph(backend)?;
        let weights = self.load_weights(backend, &graph, progress)?;
        Ok((graph, weights))
    }

    /// The first half of [`Bundle::load_backend`]: reads, verifies and decodes the graph of `backend` (a backend can
    /// start on it while the weights are decoded).
    pub fn load_graph(&self, backend: &str) -> Result<Graph> {
        let entry = self.entry(backend)?;
        // A feature this runner lacks is named before any of the entry's files is read (SPEC §2.3, §8.2).
        entry.check_features()?;
        // The manifest's names are plain names and its sizes within the limits (checked when it was decoded): read
        // no more than the entry declares, then check size and hash.
        let graph_bytes = read(self.source.as_ref(), &entry.graph.file, entry.graph.size)?;
        entry.graph.verify(&graph_bytes)?;
        let graph = Graph::from_bytes_with(&graph_bytes, &entry.graph.file, &self.limits)?;
        if graph.backend != entry.backend {
            return Err(DescriptorError::Invalid {
                what: entry.graph.file.clone(),
                detail: format!(
                    "the descriptor is for backend `{}`, the manifest entry for `{}`",
                    graph.backend, entry.backend
                ),
            }
            .into());
        }
        Ok(graph)
    }

    /// The second half of [`Bundle::load_backend`]: reads, verifies and decodes the weights of `backend` and checks
    /// them against its `graph` (from [`Bundle::load_graph`]), calling `progress(done, total)` while the chunks are
    /// decoded.
    pub fn load_weights(&self, backend: &str, graph: &Graph, progress: impl FnMut(u64, u64)) -> Result<Weights> {
        let entry = self.entry(backend)?;
        let weight_bytes = read(self.source.as_ref(), &entry.weights.file, entry.weights.size)?;
        entry.weights.verify(&weight_bytes)?;
        let file = WeightsFile::parse_with(&weight_bytes, &entry.weights.file, &self.limits)?;
        let stream = file.decode_stream(progress)?;
        let weights = Weights { index: file.index, stream };
        check_graph_against(graph, &weights, &self.manifest, &entry.graph.file)?;
        Ok(weights)
    }

    fn entry(&self, backend: &str) -> Result<&wdnn_descriptor_spec::manifest::BackendEntry> {
        self.manifest.backend(backend).ok_or_else(|| RunnerError::MissingDescriptor {
            backend: backend.to_string(),
            available: self.manifest.backends.iter().map(|b| b.backend.as_str()).collect::<Vec<_>>().join(", "),
        })
    }
}

fn read(source: &dyn BundleSource, file: &str, max_len: u64) -> Result<Vec<u8>> {
    source.read_bounded(file, max_len).map_err(|error| RunnerError::Io {
        file: file.to_string(),
        source_name: source.describe(),
        error,
    })
}

/// Cross-file consistency: weight references resolve with matching dtype and shape, and the graph's inputs and
/// outputs are the manifest's signature.
fn check_graph_against(graph: &Graph, weights: &Weights, manifest: &Manifest, what: &str) -> Result<()> {
    let invalid = |detail: String| DescriptorError::Invalid { what: what.to_string(), detail };
    for t in &graph.tensors {
        if let Storage::Weight { id } = t.storage {
            let entry = weights
                .index
                .tensors
                .get(id as usize)
                .ok_or_else(|| invalid(format!("tensor `{}` refers to missing weight {id}", t.name)))?;
            if entry.dtype != t.dtype || entry.shape != t.shape {
                return Err(invalid(format!(
                    "tensor `{}` is {} {:?} but weight {id} is {} {:?}",
                    t.name, t.dtype, t.shape, entry.dtype, entry.shape
                ))
                .into());
            }
        }
    }
    let same = |bindings: &[wdnn_descriptor_spec::IoBinding], sig: &[wdnn_descriptor_spec::TensorSignature]| {
        bindings.len() == sig.len()
            && bindings.iter().zip(sig).all(|(b, s)| {
                let t = &graph.tensors[b.tensor as usize];
                b.name == s.name && t.dtype == s.dtype && t.shape == s.shape
            })
    };
    if !same(&graph.inputs, &manifest.inputs) || !same(&graph.outputs, &manifest.outputs) {
        return Err(invalid("inputs or outputs differ from the manifest's signature".to_string()).into());
    }
    Ok(())
}
