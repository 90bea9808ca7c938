//! The mutator: byte-level edits (biased to the MessagePack heads, where a flipped byte changes a field) and
//! structure-aware edits of the decoded manifest, graph and weight index (a shape, an offset, a kernel's inputs, the
//! kernel order, an op swapped for another kernel's, a chunk's sizes, a weight's encoding…), re-encoded so that the
//! decoders see well-formed files that lie. Deterministic for a given seed, so that any input can be replayed.

use wdnn_descriptor_spec::container::{self, FileKind, HEADER_LEN};
use wdnn_descriptor_spec::manifest::MANIFEST_FILE;
use wdnn_descriptor_spec::weights::WeightIndex;
use wdnn_descriptor_spec::{DType, Encoding, Graph, Manifest, Storage};

use crate::harness::Input;

/// SplitMix64: small, fast, and enough for choosing mutations.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number below `n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 { 0 } else { (self.next_u64() % n as u64) as usize }
    }

    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Values at the edges of what sizes, counts and offsets may be.
const INTERESTING: &[u64] = &[
    0,
    1,
    2,
    3,
    4,
    7,
    8,
    15,
    16,
    31,
    32,
    64,
    127,
    128,
    255,
    256,
    1024,
    4095,
    4096,
    65535,
    65536,
    (4 << 20) - 1,
    4 << 20,
    (4 << 20) + 1,
    (1 << 31) - 1,
    1 << 31,
    (1 << 32) - 1,
    1 << 32,
    1 << 40,
    1 << 62,
    (1 << 63) - 16,
    1 << 63,
    u64::MAX - 15,
    u64::MAX - 1,
    u64::MAX,
];

const DTYPES: &[DType] = &[
    DType::F32,
    DType::F16,
    DType::F64,
    DType::I8,
    DType::I16,
    DType::I32,
    DType::I64,
    DType::U8,
    DType::U16,
    DType::U32,
    DType::U64,
    DType::Bool,
];

const FILE_NAMES: &[&str] = &[
    "../x",
    "/etc/passwd",
    "",
    "a/b",
    ".hidden",
    "fallback.graph.wdnn",
    "fallback.weights.wdnn",
    "manifest.wdnn",
    "CON",
    "webgpu.graph.wdnn",
];

/// A value near `old` or at an edge.
fn number(rng: &mut Rng, old: u64) -> u64 {
    match rng.below(6) {
        0 => old.wrapping_add(1),
        1 => old.wrapping_sub(1),
        2 => old.wrapping_mul(2),
        3 => old ^ (1 << rng.below(64)),
        _ => *rng.pick(INTERESTING),
    }
}

/// Applies one to four mutations to `input`; `others` (the corpus) feed crossovers.
pub fn mutate(input: &Input, others: &[Input], rng: &mut Rng) -> Input {
    let mut out = input.clone();
    for _ in 0..1 + rng.below(4) {
        let file = rng.below(100);
        let structural = rng.chance(55);
        match file {
            0..50 => {
                if !(structural && graph(&mut out.graph, rng)) {
                    bytes(&mut out.graph, others.get(rng.below(others.len())).map(|o| &o.graph[..]), rng);
                }
            }
            50..85 => {
                if !(structural && weights(&mut out.weights, rng)) {
                    bytes(&mut out.weights, others.get(rng.below(others.len())).map(|o| &o.weights[..]), rng);
                }
            }
            _ => {
                if !(structural && manifest(&mut out.manifest, rng)) {
                    bytes(&mut out.manifest, others.get(rng.below(others.len())).map(|o| &o.manifest[..]), rng);
                }
            }
        }
    }
    out
}

/// The range of a container's head, or the whole file when the header is damaged.
fn head_range(file: &[u8]) -> std::ops::Range<usize> {
    if file.len() <= HEADER_LEN {
        return 0..file.len();
    }
    let head_len = u64::from_le_bytes(file[16..24].try_into().unwrap_or([0; 8]));
    let end = (HEADER_LEN as u64).saturating_add(head_len).min(file.len() as u64) as usize;
    HEADER_LEN..end.max(HEADER_LEN + 1).min(file.len())
}

/// One byte-level edit of `file`, mostly inside its head; `other` is the same file of another corpus entry.
fn bytes(file: &mut Vec<u8>, other: Option<&[u8]>, rng: &mut Rng) {
    if file.is_empty() {
        file.extend((0..1 + rng.below(64)).map(|_| rng.next_u64() as u8));
        return;
    }
    let range = if rng.chance(75) { head_range(file) } else { 0..file.len() };
    let at = range.start + rng.below(range.len().max(1));
    let at = at.min(file.len() - 1);
    match rng.below(11) {
        0 => file[at] ^= 1 << rng.below(8),
        1 => file[at] = rng.next_u64() as u8,
        2 => file[at] = *rng.pick(&[0x00, 0x01, 0x7f, 0x80, 0xff, 0xc0, 0xcc, 0xcd, 0xce, 0xcf, 0xd3, 0x90, 0xdc]),
        3 => {
            // A MessagePack unsigned integer (0xcc..=0xcf) takes an edge value of its width.
            let found = (at..file.len()).chain(0..at).find(|&i| (0xcc..=0xcf).contains(&file[i]));
            if let Some(i) = found {
                let width = 1usize << (file[i] - 0xcc);
                let value = rng.pick(INTERESTING).to_be_bytes();
                let end = (i + 1 + width).min(file.len());
                let n = end - (i + 1);
                file[i + 1..end].copy_from_slice(&value[8 - width..8 - width + n]);
            }
        }
        4 => {
            let value = rng.pick(INTERESTING).to_le_bytes();
            let width = *rng.pick(&[2usize, 4, 8]);
            let end = (at + width).min(file.len());
            file[at..end].copy_from_slice(&value[..end - at]);
        }
        5 => {
            let n = 1 + rng.below(16.min(file.len() - at));
            file.drain(at..at + n);
        }
        6 => {
            let n = 1 + rng.below(16);
            let insert: Vec<u8> = (0..n).map(|_| rng.next_u64() as u8).collect();
            file.splice(at..at, insert);
        }
        7 => {
            let n = 1 + rng.below(64.min(file.len() - at));
            let copy = file[at..at + n].to_vec();
            let to = rng.below(file.len());
            file.splice(to..to, copy);
        }
        8 => file.truncate(at),
        9 => {
            if let Some(other) = other.filter(|o| !o.is_empty()) {
                let from = rng.below(other.len());
                file.truncate(at);
                file.extend_from_slice(&other[from..]);
            }
        }
        _ => {
            // The header's version and flags bytes.
            let i = 8 + rng.below(8);
            if i < file.len() {
                file[i] = *rng.pick(&[0, 1, 2, 0xff]);
            }
        }
    }
}

fn minor(file: &[u8]) -> u16 {
    file.get(10..12).map_or(0, |b| u16::from_le_bytes([b[0], b[1]]))
}

/// One structural edit of a graph descriptor; false when it does not decode (then bytes are mutated instead).
fn graph(file: &mut Vec<u8>, rng: &mut Rng) -> bool {
    let Ok((mut g, _)) = container::read::<Graph>(FileKind::Graph, file, "g") else {
        return false;
    };
    let nt = g.tensors.len();
    let nk = g.kernels.len();
    let tensor_id = |rng: &mut Rng| if rng.chance(90) { rng.below(nt) as u32 } else { number(rng, nt as u64) as u32 };
    match rng.below(16) {
        0 | 1 if nt > 0 => {
            let t = rng.below(nt);
            let shape = &mut g.tensors[t].shape;
            if shape.is_empty() {
                shape.push(number(rng, 1));
            } else {
                let d = rng.below(shape.len());
                shape[d] = number(rng, shape[d]);
            }
        }
        2 if nt > 1 => {
            let (a, b) = (rng.below(nt), rng.below(nt));
            g.tensors[a].shape = g.tensors[b].shape.clone();
            if rng.chance(50) {
                g.tensors[a].shape.push(1 + rng.below(3) as u64);
            } else {
                g.tensors[a].shape.pop();
            }
        }
        3 if nt > 0 => {
            let t = rng.below(nt);
            g.tensors[t].dtype = *rng.pick(DTYPES);
        }
        4 | 5 if nt > 0 => {
            let t = rng.below(nt);
            let other = g.tensors[rng.below(nt)].storage;
            g.tensors[t].storage = match (g.tensors[t].storage, rng.below(4)) {
                (Storage::Arena { offset }, 0) => Storage::Arena { offset: number(rng, offset) },
                (Storage::Arena { offset }, 1) => {
                    Storage::Arena { offset: offset.wrapping_add(g.alignment as u64 * (1 + rng.below(4) as u64)) }
                }
                (_, 2) => other,
                (Storage::Weight { id }, _) if rng.chance(50) => Storage::Weight { id: number(rng, id as u64) as u32 },
                (Storage::Weight { .. }, _) => Storage::Arena { offset: 0 },
                (Storage::Arena { .. }, _) => Storage::Weight { id: rng.below(8) as u32 },
            };
        }
        6 | 7 if nk > 0 => {
            let k = &mut g.kernels[rng.below(nk)];
            let list = if rng.chance(60) || k.outputs.is_empty() { &mut k.inputs } else { &mut k.outputs };
            if list.is_empty() || rng.chance(15) {
                list.push(tensor_id(rng));
            } else if rng.chance(15) {
                list.remove(rng.below(list.len()));
            } else {
                let j = rng.below(list.len());
                list[j] = tensor_id(rng);
            }
        }
        8 if nk > 1 => {
            let (a, b) = (rng.below(nk), rng.below(nk));
            g.kernels.swap(a, b);
        }
        9 if nk > 0 => {
            let k = rng.below(nk);
            if rng.chance(50) {
                g.kernels.remove(k);
            } else {
                let copy = g.kernels[k].clone();
                g.kernels.insert(rng.below(nk + 1), copy);
            }
        }
        10 if nk > 0 => {
            if rng.chance(20) {
                g.kernels.reverse();
            } else {
                let op = g.kernels[rng.below(nk)].op.clone();
                let k = rng.below(nk);
                g.kernels[k].op = op;
            }
        }
        11 => {
            let list = if rng.chance(50) { &mut g.inputs } else { &mut g.outputs };
            if list.is_empty() || rng.chance(10) {
                list.clear();
            } else {
                let j = rng.below(list.len());
                list[j].tensor = tensor_id(rng);
            }
        }
        12 => g.arena_size = number(rng, g.arena_size),
        13 => g.alignment = number(rng, g.alignment as u64) as u32,
        14 if nk > 0 => {
            // A kernel reads its own output or its output becomes its input.
            let k = &mut g.kernels[rng.below(nk)];
            if let (Some(&o), false) = (k.outputs.first(), k.inputs.is_empty()) {
                let j = rng.below(k.inputs.len());
                k.inputs[j] = o;
            }
        }
        _ => {
            if let Some(t) = g.tensors.get_mut(rng.below(nt.max(1))) {
                t.shape.clear();
            }
        }
    }
    match container::write(FileKind::Graph, minor(file), &g, &[]) {
        Ok(bytes) => {
            *file = bytes;
            true
        }
        Err(_) => false,
    }
}

/// One structural edit of a weights file.
fn weights(file: &mut Vec<u8>, rng: &mut Rng) -> bool {
    let Ok((mut index, body)) = container::read::<WeightIndex>(FileKind::Weights, file, "w") else {
        return false;
    };
    let mut body = body.to_vec();
    let nc = index.chunks.len();
    let ne = index.tensors.len();
    match rng.below(9) {
        0 => index.stream_size = number(rng, index.stream_size),
        1 | 2 if nc > 0 => {
            let c = &mut index.chunks[rng.below(nc)];
            if rng.chance(50) {
                c.size = number(rng, c.size);
            } else {
                c.compressed_size = number(rng, c.compressed_size);
            }
        }
        3 | 4 if ne > 0 => {
            let e = &mut index.tensors[rng.below(ne)];
            match rng.below(3) {
                0 => e.offset = number(rng, e.offset),
                1 => e.length = number(rng, e.length),
                _ => {
                    if let Some(d) = e.shape.first_mut() {
                        *d = number(rng, *d);
                    } else {
                        e.shape.push(number(rng, 1));
                    }
                }
            }
        }
        5 if ne > 0 => {
            let e = &mut index.tensors[rng.below(ne)];
            e.encoding = match rng.below(4) {
                0 => Encoding::Raw,
                1 => Encoding::F16,
                2 => Encoding::Int8 { axis: rng.below(5) as u32, scales_offset: number(rng, e.offset) },
                _ => Encoding::Unknown,
            };
            if rng.chance(30) {
                e.dtype = *rng.pick(DTYPES);
            }
        }
        6 if ne > 0 => {
            let e = rng.below(ne);
            if rng.chance(50) {
                index.tensors.remove(e);
            } else {
                let copy = index.tensors[e].clone();
                index.tensors.push(copy);
            }
        }
        7 if nc > 0 => {
            // One chunk becomes a frame that expands far past what it declares.
            let c = rng.below(nc);
            let start: u64 = index.chunks[..c].iter().map(|c| c.compressed_size).fold(0, u64::saturating_add);
            let end = start.saturating_add(index.chunks[c].compressed_size).min(body.len() as u64);
            let bomb = wdnn_runner_core::hostile::zstd_bomb(*rng.pick(&[1 << 20, 5 << 20, 64 << 20, 1 << 30]));
            if start <= end {
                body.splice(start as usize..end as usize, bomb.iter().copied());
                index.chunks[c].compressed_size = bomb.len() as u64;
            }
        }
        _ => {
            if nc > 1 {
                index.chunks.swap(0, nc - 1);
            } else {
                index.chunks.clear();
            }
        }
    }
    match container::write(FileKind::Weights, minor(file), &index, &body) {
        Ok(bytes) => {
            *file = bytes;
            true
        }
        Err(_) => false,
    }
}

/// One structural edit of a manifest.
fn manifest(file: &mut Vec<u8>, rng: &mut Rng) -> bool {
    let Ok(mut m) = Manifest::from_bytes(file, MANIFEST_FILE) else {
        return false;
    };
    let nb = m.backends.len();
    match rng.below(5) {
        0 if nb > 0 => {
            let b = &mut m.backends[rng.below(nb)];
            let name = rng.pick(FILE_NAMES).to_string();
            if rng.chance(50) {
                b.graph.file = name;
            } else {
                b.weights.file = name;
            }
        }
        1 if nb > 0 => {
            if rng.chance(50) {
                m.backends.remove(rng.below(nb));
            } else {
                let copy = m.backends[rng.below(nb)].clone();
                m.backends.push(copy);
            }
        }
        2 if nb > 0 => {
            let b = rng.below(nb);
            m.backends[b].backend = rng.pick(&["fallback", "webgpu", "wasm", "", "Fallback"]).to_string();
        }
        3 => {
            if let Some(s) = m.inputs.first_mut().or(m.outputs.first_mut()) {
                if rng.chance(50) {
                    s.dtype = *rng.pick(DTYPES);
                } else if let Some(d) = s.shape.first_mut() {
                    *d = number(rng, *d);
                }
            }
        }
        _ => {
            if rng.chance(50) {
                m.inputs.clear();
            } else {
                m.outputs.reverse();
            }
        }
    }
    match m.to_bytes() {
        Ok(bytes) => {
            *file = bytes;
            true
        }
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_mutation() {
        let input = Input { manifest: vec![7; 80], graph: vec![1; 100], weights: vec![2; 90] };
        let a = mutate(&input, std::slice::from_ref(&input), &mut Rng::new(42));
        let b = mutate(&input, std::slice::from_ref(&input), &mut Rng::new(42));
        assert_eq!(a, b);
        assert_ne!(a, input);
    }
}
