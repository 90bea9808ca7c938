//! Hostile bundles for tests (feature `hostile`): a real bundle rewritten so that its checksums all agree and only its
//! contents lie, one case per way a descriptor can lie (issue 14's acceptance list), each with the words its error
//! must contain. Every backend's test suite loads each case and checks that it is refused, with that error, within
//! a bounded amount of memory ([`CountingAllocator`]).
//!
//! Whoever serves a bundle can re-hash it, so the checksums are no defence: these cases are what a server that does
//! not mean well can send.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use wdnn_descriptor_spec::container::{self, FileKind};
use wdnn_descriptor_spec::manifest::MANIFEST_FILE;
use wdnn_descriptor_spec::weights::{ChunkDesc, WeightIndex};
use wdnn_descriptor_spec::{Encoding, FileRef, Graph, Kernel, KernelPayload, Manifest, Storage, TensorDesc};

/// A bundle as (file name, bytes) pairs, as [`crate::MemorySource`] holds it.
pub type Files = Vec<(String, Vec<u8>)>;

/// One hostile bundle.
pub struct Case {
    /// What the case does.
    pub name: &'static str,
    /// The bundle's files, checksums consistent.
    pub files: Files,
    /// Words the error message must contain (lowercase comparison); `a|b` accepts either.
    pub expect: &'static str,
    /// Whether the case needs the manifest to refer to files as given (file-name cases: read from a directory).
    pub on_disk: bool,
}

/// A global allocator that tracks the live and the peak number of bytes, to bound what a hostile case allocates.
pub struct CountingAllocator;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator; only counts.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract is forwarded unchanged.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as above.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            if new_size >= layout.size() {
                let live = LIVE.fetch_add(new_size - layout.size(), Ordering::Relaxed) + new_size - layout.size();
                PEAK.fetch_max(live, Ordering::Relaxed);
            } else {
                LIVE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
            }
        }
        p
    }
}

impl CountingAllocator {
    /// Bytes allocated now.
    pub fn live() -> usize {
        LIVE.load(Ordering::Relaxed)
    }

    /// Starts a measurement: the peak becomes the live count.
    pub fn reset_peak() {
        PEAK.store(LIVE.load(Ordering::Relaxed), Ordering::Relaxed);
    }

    /// The most bytes live at once since [`CountingAllocator::reset_peak`].
    pub fn peak() -> usize {
        PEAK.load(Ordering::Relaxed)
    }
}

fn file<'a>(files: &'a Files, name: &str) -> &'a [u8] {
    files.iter().find(|(n, _)| n == name).map(|(_, b)| b.as_slice()).unwrap_or(&[])
}

fn put(files: &mut Files, name: &str, bytes: Vec<u8>) {
    match files.iter_mut().find(|(n, _)| n == name) {
        Some(entry) => entry.1 = bytes,
        None => files.push((name.to_string(), bytes)),
    }
}

/// The pieces of a bundle a case edits, decoded.
struct Parts {
    files: Files,
    manifest: Manifest,
    backend: usize,
    graph: Graph,
    index: WeightIndex,
    body: Vec<u8>,
}

impl Parts {
    fn new(files: &Files, backend: &str) -> Parts {
        let manifest = Manifest::from_bytes(file(files, MANIFEST_FILE), MANIFEST_FILE).expect("the seed manifest");
        let at = manifest.backends.iter().position(|b| b.backend == backend).expect("the seed has the backend");
        let entry = &manifest.backends[at];
        let graph = Graph::from_bytes(file(files, &entry.graph.file), "seed graph").expect("the seed graph");
        let (index, body): (WeightIndex, &[u8]) =
            container::read(FileKind::Weights, file(files, &entry.weights.file), "seed weights").expect("seed weights");
        let body = body.to_vec();
        Parts { files: files.clone(), manifest, backend: at, graph, index, body }
    }

    /// Encodes the edited parts and re-seals everything: chunk checksums, heads, and the manifest's file entries.
    fn seal(mut self) -> Files {
        let mut at = 0usize;
        for chunk in &mut self.index.chunks {
            let end = (at as u64).saturating_add(chunk.compressed_size).min(self.body.len() as u64) as usize;
            chunk.sha256 = sha256(&self.body[at..end]);
            at = end;
        }
        let graph = self.graph.to_bytes().expect("encodes");
        let weights = container::write(FileKind::Weights, 0, &self.index, &self.body).expect("encodes");
        let entry = &mut self.manifest.backends[self.backend];
        let (gname, wname) = (entry.graph.file.clone(), entry.weights.file.clone());
        entry.graph = FileRef::describe(&gname, &graph);
        entry.weights = FileRef::describe(&wname, &weights);
        put(&mut self.files, &gname, graph);
        put(&mut self.files, &wname, weights);
        put(&mut self.files, MANIFEST_FILE, self.manifest.to_bytes().expect("encodes"));
        self.files
    }
}

fn sha256(bytes: &[u8]) -> Vec<u8> {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).to_vec()
}

/// A zstd frame of RLE blocks that decompresses to `len` bytes of 0x5a: a few bytes per 128 KiB.
pub fn zstd_bomb(len: u64) -> Vec<u8> {
    const BLOCK: u64 = 128 << 10;
    let mut out = vec![0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x38]; // magic, no content size, window 128 KiB
    let mut left = len;
    while left > 0 {
        let n = left.min(BLOCK);
        left -= n;
        let header = (u32::from(left == 0)) | (1 << 1) | ((n as u32) << 3); // last?, RLE, size
        out.extend_from_slice(&header.to_le_bytes()[..3]);
        out.push(0x5a);
    }
    out
}

/// Makes kernel `k` read `new` where it read `old` at input `slot`, in its payload's bindings too (a shader binds each
/// tensor it reads), so that only the graph lies and the payload agrees with it.
fn set_input(k: &mut Kernel, slot: usize, new: u32) {
    let old = k.inputs[slot];
    k.inputs[slot] = new;
    if let Some(KernelPayload::Wgsl { bindings, .. }) = &mut k.payload {
        if !k.inputs.contains(&old) && !k.outputs.contains(&old) {
            bindings.retain(|b| b.tensor != old);
        }
        if !bindings.iter().any(|b| b.tensor == new) {
            bindings.push(wdnn_descriptor_spec::Binding { binding: 0, tensor: new, writable: true });
        }
        for (i, b) in bindings.iter_mut().enumerate() {
            b.binding = i as u32;
        }
    }
}

fn arena_tensors(g: &Graph) -> impl Iterator<Item = usize> + '_ {
    g.tensors.iter().enumerate().filter(|(_, t)| matches!(t.storage, Storage::Arena { .. })).map(|(i, _)| i)
}

/// The first kernel whose output is read by a later kernel: (producer, consumer, tensor).
fn dependency(g: &Graph) -> (usize, usize, u32) {
    for (i, k) in g.kernels.iter().enumerate() {
        for &o in &k.outputs {
            if let Some(j) = g.kernels.iter().skip(i + 1).position(|l| l.inputs.contains(&o)) {
                return (i, i + 1 + j, o);
            }
        }
    }
    panic!("the seed graph needs two dependent kernels");
}

impl Case {
    /// Whether `error` (a message) is the refusal this case expects.
    pub fn expected(&self, error: &str) -> bool {
        let error = error.to_lowercase();
        self.expect.split('|').any(|e| error.contains(e))
    }
}

/// Every hostile case for `backend` made from the real bundle `seed` (whose manifest has an entry for it).
pub fn cases(seed: &Files, backend: &str) -> Vec<Case> {
    let mut cases = Vec::new();
    let mut case = |name: &'static str, expect: &'static str, edit: &dyn Fn(&mut Parts)| {
        let mut parts = Parts::new(seed, backend);
        edit(&mut parts);
        cases.push(Case { name, files: parts.seal(), expect, on_disk: false });
    };
    let first_arena = |p: &Parts| arena_tensors(&p.graph).next().expect("an arena tensor");
    case("tensor shape [2^31, 2^31, 2, 2]", "overflows", &|p| {
        let t = first_arena(p);
        p.graph.tensors[t].shape = vec![1 << 31, 1 << 31, 2, 2];
    });
    case("tensor shape [2^64-1]", "overflows", &|p| {
        let t = first_arena(p);
        p.graph.tensors[t].shape = vec![u64::MAX];
    });
    case("arena size 2^64-1", "exceeds the load limit", &|p| p.graph.arena_size = u64::MAX);
    case("arena size 2^63-16", "exceeds the load limit", &|p| p.graph.arena_size = (1 << 63) - 16);
    case("arena size 10^11", "exceeds the load limit", &|p| p.graph.arena_size = 100_000_000_000);
    case("offset past the arena", "lies outside the arena", &|p| {
        let t = first_arena(p);
        p.graph.tensors[t].storage = Storage::Arena { offset: p.graph.arena_size + p.graph.alignment as u64 };
    });
    case("offset near 2^64", "lies outside the arena", &|p| {
        let t = first_arena(p);
        p.graph.tensors[t].storage = Storage::Arena { offset: u64::MAX - 15 };
    });
    case("overlapping live tensors", "overwritten|overlaps the input", &|p| {
        // A tensor written while an earlier one is still to be read moves onto that one's bytes.
        let g = &p.graph;
        let (live, victim) = (0..g.kernels.len())
            .flat_map(|i| g.kernels[i].outputs.iter().map(move |&o| (i, o)))
            .filter_map(|(i, o)| g.kernels.iter().rposition(|k| k.inputs.contains(&o)).map(|last| (i, last, o)))
            .find_map(|(producer, consumer, live)| {
                let size = g.tensors[live as usize].byte_size();
                // Prefer a kernel that does not read the live tensor (then a later read finds it overwritten); else
                // one that does (then its output overlaps its input outside an in-place op).
                let candidates =
                    || (producer + 1..=consumer).flat_map(|k| g.kernels[k].outputs.iter().map(move |&o| (k, o)));
                let fits = |o: u32| (1..=size).contains(&g.tensors[o as usize].byte_size());
                let victim = candidates()
                    .find(|&(k, o)| k < consumer && !g.kernels[k].inputs.contains(&live) && fits(o))
                    .or_else(|| candidates().find(|&(_, o)| fits(o)))?
                    .1;
                Some((live, victim))
            })
            .expect("a tensor produced while another is live");
        let Storage::Arena { offset } = g.tensors[live as usize].storage else { unreachable!() };
        p.graph.tensors[victim as usize].storage = Storage::Arena { offset };
    });
    case("a kernel reads a tensor never written", "no kernel or input produces it", &|p| {
        let (_, consumer, t) = dependency(&p.graph);
        let mut ghost: TensorDesc = p.graph.tensors[t as usize].clone();
        ghost.name = "ghost".into();
        let align = p.graph.alignment as u64;
        let offset = p.graph.arena_size.div_ceil(align) * align;
        ghost.storage = Storage::Arena { offset };
        p.graph.arena_size = offset + ghost.byte_size();
        p.graph.tensors.push(ghost);
        let id = p.graph.tensors.len() as u32 - 1;
        let k = &mut p.graph.kernels[consumer];
        let j = k.inputs.iter().position(|&i| i == t).expect("the consumer reads it");
        set_input(k, j, id);
    });
    case("a cycle", "is read before kernel", &|p| {
        // Kernel i feeds kernel j; make i also read j's output (a tensor of the same type it already reads).
        let g = &p.graph;
        let (i, j, slot) = (0..g.kernels.len())
            .flat_map(|i| (i + 1..g.kernels.len()).map(move |j| (i, j)))
            .filter(|&(i, j)| g.kernels[i].outputs.iter().any(|o| g.kernels[j].inputs.contains(o)))
            .find_map(|(i, j)| {
                let out = &g.tensors[g.kernels[j].outputs[0] as usize];
                let slot = g.kernels[i].inputs.iter().position(|&x| {
                    let t = &g.tensors[x as usize];
                    t.dtype == out.dtype && t.shape == out.shape
                })?;
                Some((i, j, slot))
            })
            .expect("two dependent kernels of one tensor type");
        let y = p.graph.kernels[j].outputs[0];
        set_input(&mut p.graph.kernels[i], slot, y);
    });
    case("kernels in reverse order", "is read before kernel", &|p| p.graph.kernels.reverse());
    case("a kernel reads its own output", "reads its own output", &|p| {
        let (producer, _, _) = dependency(&p.graph);
        let k = &mut p.graph.kernels[producer];
        let out = k.outputs[0];
        set_input(k, 0, out);
    });
    case("a duplicated kernel reads its own output", "already produces", &|p| {
        let (producer, _, _) = dependency(&p.graph);
        let mut dup = p.graph.kernels[producer].clone();
        let out = dup.outputs[0];
        set_input(&mut dup, 0, out);
        p.graph.kernels.insert(producer + 1, dup);
    });
    case("no kernels", "model output", &|p| p.graph.kernels.clear());
    case("a weight id out of range", "missing weight", &|p| {
        let t = p.graph.tensors.iter().position(|t| matches!(t.storage, Storage::Weight { .. })).expect("a weight");
        p.graph.tensors[t].storage = Storage::Weight { id: 1_000_000 };
    });
    case("a chunk declaring 100 GB", "chunk limit", &|p| {
        let extra = 100_000_000_000 - p.index.chunks[0].size;
        p.index.chunks[0].size += extra;
        p.index.stream_size += extra;
    });
    case("an honest chunk of 2 GiB", "chunk limit", &|p| {
        let bomb = zstd_bomb(2 << 30);
        p.index = WeightIndex {
            stream_size: 2 << 30,
            chunks: vec![ChunkDesc { compressed_size: bomb.len() as u64, size: 2 << 30, sha256: vec![] }],
            tensors: p.index.tensors.clone(),
        };
        p.body = bomb;
    });
    case("a 16-byte chunk that decompresses to 3 GiB", "more than", &|p| {
        let bomb = zstd_bomb(3 << 30);
        p.index.chunks.push(ChunkDesc { compressed_size: bomb.len() as u64, size: 16, sha256: vec![] });
        p.index.stream_size += 16;
        p.body.extend_from_slice(&bomb);
    });
    case("a weight stream of 2^63 bytes", "exceeds the load limit", &|p| {
        p.index.stream_size = 1 << 63;
    });
    case("chunk sizes whose sum overflows", "chunk limit", &|p| {
        let n = p.index.chunks.len();
        p.index.chunks[n - 1].size = u64::MAX - 1;
    });
    case("an int8 weight of shape [2^62]", "inconsistent", &|p| {
        let w = &mut p.index.tensors[0];
        w.shape = vec![1 << 62];
        w.dtype = wdnn_descriptor_spec::DType::F32;
        w.encoding = Encoding::Int8 { axis: 0, scales_offset: 0 };
    });
    if backend == "webgpu" {
        case("a shader binding larger than its tensor", "needs", &|p| {
            let k = p
                .graph
                .kernels
                .iter()
                .find(|k| matches!(&k.payload, Some(KernelPayload::Wgsl { .. })))
                .expect("a wgsl kernel");
            let Some(KernelPayload::Wgsl { shader, .. }) = &k.payload else { unreachable!() };
            let src = &mut p.graph.shaders[*shader as usize];
            *src =
                src.replacen("array<u32>", "array<u32, 16777216>", 1).replacen("array<f32>", "array<f32, 16777216>", 1);
        });
    }
    for (name, file, expect) in [
        ("the manifest names /etc/passwd", "/etc/passwd", "not a plain file name"),
        ("the manifest names ../x", "../x", "not a plain file name"),
        ("the manifest names /dev/zero", "/dev/zero", "not a plain file name"),
        ("the manifest names ../../../../etc/hostname", "../../../../etc/hostname", "not a plain file name"),
    ] {
        let mut parts = Parts::new(seed, backend);
        parts.manifest.backends[parts.backend].weights.file = file.to_string();
        let mut files = parts.files.clone();
        put(&mut files, MANIFEST_FILE, parts.manifest.to_bytes().expect("encodes"));
        cases.push(Case { name, files, expect, on_disk: true });
    }
    cases
}
