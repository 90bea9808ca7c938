//! Weights files (SPEC §7): a WGHT container whose head indexes the weight tensors and whose body is a sequence of
//! independently zstd-compressed chunks.
//!
//! The encoded values of all weights form one logical byte stream; each tensor occupies a range of it (starting at a
//! multiple of 16). The stream is cut into chunks of at most [`MAX_CHUNK_SIZE`] bytes, each compressed as one zstd
//! frame and checked by the SHA-256 of its compressed bytes, so a runner can stream a large file, report progress,
//! and name the chunk that was damaged.

use serde::{Deserialize, Serialize};

use crate::container::{self, FileKind};
use crate::{DType, DescriptorError, LoadLimits, Result};

/// The largest uncompressed chunk a writer may produce (4 MiB).
pub const MAX_CHUNK_SIZE: u64 = 4 << 20;
/// Alignment of every tensor's range in the logical stream.
pub const STREAM_ALIGNMENT: u64 = 16;

/// The head of a weights file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WeightIndex {
    /// Length of the logical (uncompressed) stream.
    pub stream_size: u64,
    /// The chunks, in stream order.
    pub chunks: Vec<ChunkDesc>,
    /// The tensors; a graph's `Storage::Weight { id }` indexes this list.
    pub tensors: Vec<WeightEntry>,
}

/// One compressed chunk of the body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkDesc {
    /// Bytes in the body.
    pub compressed_size: u64,
    /// Bytes of stream it decompresses to.
    pub size: u64,
    /// SHA-256 of the compressed bytes.
    #[serde(with = "serde_bytes")]
    pub sha256: Vec<u8>,
}

/// One weight tensor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WeightEntry {
    /// A name for messages.
    pub name: String,
    /// The dtype the graph sees (after decoding).
    pub dtype: DType,
    /// Static shape.
    pub shape: Vec<u64>,
    /// How the values are stored.
    pub encoding: Encoding,
    /// Start of the values in the stream.
    pub offset: u64,
    /// Length of the values in the stream.
    pub length: u64,
}

/// How a weight's values are stored (SPEC §7.2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum Encoding {
    /// The dtype's own little-endian bytes.
    Raw,
    /// An f32 tensor stored as IEEE binary16 values.
    F16,
    /// An f32 tensor stored as symmetric int8 per channel along `axis`: `value = q * scale[c]`, with one f32 scale
    /// per index `c` of `axis` stored at `scales_offset`.
    Int8 {
        /// The channel axis.
        axis: u32,
        /// Start of the `shape[axis]` little-endian f32 scales in the stream.
        scales_offset: u64,
    },
    /// An encoding this reader does not know.
    #[serde(other)]
    Unknown,
}

impl Encoding {
    /// The encoding's name.
    pub fn name(&self) -> &'static str {
        match self {
            Encoding::Raw => "Raw",
            Encoding::F16 => "F16",
            Encoding::Int8 { .. } => "Int8",
            Encoding::Unknown => "Unknown",
        }
    }
}

/// A parsed weights file whose head is verified; chunks are verified as they are decoded.
pub struct WeightsFile<'a> {
    /// The index.
    pub index: WeightIndex,
    body: &'a [u8],
    what: String,
}

#[derive(Deserialize)]
struct ShadowIndex {
    tensors: Vec<ShadowEntry>,
}

#[derive(Deserialize)]
struct ShadowEntry {
    name: String,
    encoding: ShadowEncoding,
}

#[derive(Deserialize)]
struct ShadowEncoding {
    #[serde(rename = "type")]
    ty: String,
}

impl<'a> WeightsFile<'a> {
    /// Parses the container and checks the index against itself and the body length, within the default
    /// [`LoadLimits`].
    pub fn parse(bytes: &'a [u8], what: &str) -> Result<WeightsFile<'a>> {
        WeightsFile::parse_with(bytes, what, &LoadLimits::default())
    }

    /// Parses the container and checks the index (SPEC §7.1 steps 1–3) with checked arithmetic: no declared size is
    /// believed before it is compared with the body's real length, the format's chunk limit and `limits`.
    pub fn parse_with(bytes: &'a [u8], what: &str, limits: &LoadLimits) -> Result<WeightsFile<'a>> {
        let (index, body): (WeightIndex, _) = container::read(FileKind::Weights, bytes, what)?;
        let invalid = |detail: String| DescriptorError::Invalid { what: what.to_string(), detail };
        if let Some(i) = index.tensors.iter().position(|t| t.encoding == Encoding::Unknown) {
            let head_len = bytes.len() - body.len() - container::HEADER_LEN;
            let head = &bytes[container::HEADER_LEN..container::HEADER_LEN + head_len];
            let shadow: Option<ShadowIndex> = container::decode_head(head, what, "weights").ok();
            let (weight, encoding) = shadow
                .and_then(|s| s.tensors.into_iter().nth(i))
                .map(|e| (e.name, e.encoding.ty))
                .unwrap_or_else(|| (index.tensors[i].name.clone(), "?".to_string()));
            return Err(DescriptorError::UnknownEncoding { what: what.to_string(), weight, encoding });
        }
        let body_len = index.chunks.iter().try_fold(0u64, |acc, c| acc.checked_add(c.compressed_size));
        if body_len != Some(body.len() as u64) {
            let expected = body_len.map_or(u64::MAX, |b| ((bytes.len() - body.len()) as u64).saturating_add(b));
            return Err(container::truncated(what, expected, bytes.len()));
        }
        if let Some((i, c)) = index.chunks.iter().enumerate().find(|(_, c)| c.size > MAX_CHUNK_SIZE) {
            return Err(invalid(format!(
                "weight chunk {i} declares {} bytes, over the format's chunk limit of {MAX_CHUNK_SIZE}",
                c.size
            )));
        }
        if index.stream_size > limits.max_weight_stream {
            return Err(DescriptorError::Limit {
                what: what.to_string(),
                field: "stream_size".to_string(),
                value: index.stream_size,
                limit: limits.max_weight_stream,
            });
        }
        let stream = index.chunks.iter().try_fold(0u64, |acc, c| acc.checked_add(c.size));
        if stream != Some(index.stream_size) {
            let held = stream.map_or("more than 2^64".to_string(), |s| s.to_string());
            return Err(invalid(format!("chunks hold {held} bytes, the index says {}", index.stream_size)));
        }
        for t in &index.tensors {
            let need = encoded_len(t)
                .ok_or_else(|| invalid(format!("weight `{}` has an impossible shape or axis", t.name)))?;
            let end = t.offset.checked_add(t.length);
            if t.length != need || end.is_none_or(|e| e > index.stream_size) {
                return Err(invalid(format!("weight `{}` range {}+{} is inconsistent", t.name, t.offset, t.length)));
            }
            if let Encoding::Int8 { scales_offset, .. } = t.encoding {
                let scales = t.shape[axis_of(t)].checked_mul(4);
                let end = scales.and_then(|s| scales_offset.checked_add(s));
                if end.is_none_or(|e| e > index.stream_size) {
                    return Err(invalid(format!("weight `{}` scales lie outside the stream", t.name)));
                }
            }
        }
        Ok(WeightsFile { index, body, what: what.to_string() })
    }

    /// Verifies and decompresses every chunk, calling `progress(done_bytes, total_bytes)` after each, and returns
    /// the logical stream. Natively the chunks are checked and decompressed in parallel threads (they are
    /// independent zstd frames, each into its own range of the stream) and `progress` is called in chunk order as
    /// they finish; on wasm32 they are decoded one after another.
    pub fn decode_stream(&self, mut progress: impl FnMut(u64, u64)) -> Result<Vec<u8>> {
        let mut stream = vec![0u8; self.index.stream_size as usize];
        // (compressed range, stream range) of every chunk; parse() checked that both add up.
        let mut ranges = Vec::with_capacity(self.index.chunks.len());
        let (mut at, mut out) = (0usize, 0usize);
        for chunk in &self.index.chunks {
            let (c, s) = (chunk.compressed_size as usize, chunk.size as usize);
            if at + c > self.body.len() || out + s > stream.len() {
                return Err(DescriptorError::Invalid {
                    what: self.what.clone(),
                    detail: "the chunks do not fit the body or the stream".into(),
                });
            }
            ranges.push((at..at + c, s));
            at += c;
            out += s;
        }
        let mut slices: Vec<&mut [u8]> = Vec::with_capacity(ranges.len());
        let mut rest = stream.as_mut_slice();
        for (_, size) in &ranges {
            let (head, tail) = rest.split_at_mut(*size);
            slices.push(head);
            rest = tail;
        }
        let jobs: Vec<ChunkJob> =
            slices.into_iter().enumerate().map(|(i, out)| (i, &self.body[ranges[i].0.clone()], out)).collect();
        let total = self.index.stream_size;
        let mut done = 0u64;
        let mut report = |i: usize| {
            done += self.index.chunks[i].size;
            progress(done, total);
        };
        #[cfg(not(target_arch = "wasm32"))]
        {
            let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(jobs.len());
            if threads > 1 {
                let per = jobs.len().div_ceil(threads);
                let mut groups: Vec<Vec<ChunkJob>> = Vec::new();
                let mut jobs = jobs;
                while !jobs.is_empty() {
                    let tail = jobs.split_off(per.min(jobs.len()));
                    groups.push(std::mem::replace(&mut jobs, tail));
                }
                let results: Vec<Result<Vec<usize>>> = std::thread::scope(|scope| {
                    let handles: Vec<_> = groups
                        .into_iter()
                        .map(|group| {
                            scope.spawn(move || {
                                group
                                    .into_iter()
                                    .map(|(i, compressed, out)| self.decode_chunk(i, compressed, out).map(|()| i))
                                    .collect::<Result<Vec<usize>>>()
                            })
                        })
                        .collect();
                    handles
                        .into_iter()
                        .map(|h| {
                            h.join().unwrap_or_else(|_| {
                                Err(DescriptorError::Decompress {
                                    what: self.what.clone(),
                                    chunk: 0,
                                    detail: "a decoding thread panicked".into(),
                                })
                            })
                        })
                        .collect()
                });
                // The first failing chunk in stream order is the one reported.
                for r in results {
                    for i in r? {
                        report(i);
                    }
                }
                return Ok(stream);
            }
        }
        for (i, compressed, out) in jobs {
            self.decode_chunk(i, compressed, out)?;
            report(i);
        }
        Ok(stream)
    }

    /// Checks chunk `i`'s hash and decompresses it into `out`, which must be exactly its decoded size.
    fn decode_chunk(&self, i: usize, compressed: &[u8], out: &mut [u8]) -> Result<()> {
        use std::io::Read;
        let found = container::sha256_raw(compressed);
        if found.as_slice() != self.index.chunks[i].sha256.as_slice() {
            return Err(DescriptorError::ChecksumMismatch {
                what: self.what.clone(),
                part: format!("weight chunk {i}"),
                expected: container::hex(&self.index.chunks[i].sha256),
                found: container::hex(&found),
            });
        }
        let decompress_err = |detail: String| DescriptorError::Decompress { what: self.what.clone(), chunk: i, detail };
        let mut decoder =
            ruzstd::decoding::StreamingDecoder::new(compressed).map_err(|e| decompress_err(e.to_string()))?;
        decoder.read_exact(out).map_err(|e| decompress_err(format!("{e} (expected {} bytes)", out.len())))?;
        let mut extra = [0u8; 1];
        match decoder.read(&mut extra) {
            Ok(0) => Ok(()),
            Ok(_) => Err(decompress_err(format!("decompressed to more than the expected {} bytes", out.len()))),
            Err(e) => Err(decompress_err(e.to_string())),
        }
    }
}

/// A chunk to decode: its index, its compressed bytes and its range of the stream.
type ChunkJob<'a, 's> = (usize, &'a [u8], &'s mut [u8]);

fn axis_of(t: &WeightEntry) -> usize {
    match t.encoding {
        Encoding::Int8 { axis, .. } => axis as usize,
        _ => 0,
    }
}

/// The number of stream bytes an entry's values take, or None when the entry is impossible.
fn encoded_len(t: &WeightEntry) -> Option<u64> {
    let numel = t.shape.iter().try_fold(1u64, |acc, &d| acc.checked_mul(d))?;
    match t.encoding {
        Encoding::Raw => numel.checked_mul(t.dtype.size() as u64),
        Encoding::F16 if t.dtype == DType::F32 => numel.checked_mul(2),
        Encoding::Int8 { axis, .. } if t.dtype == DType::F32 && (axis as usize) < t.shape.len() => Some(numel),
        _ => None,
    }
}

impl WeightEntry {
    /// The entry's encoded bytes within the decoded `stream` (empty if the range lies outside it, which
    /// [`WeightsFile::parse_with`] refuses for the stream it checked).
    pub fn bytes<'s>(&self, stream: &'s [u8]) -> &'s [u8] {
        let range = usize::try_from(self.offset)
            .ok()
            .and_then(|start| Some(start..start.checked_add(usize::try_from(self.length).ok()?)?));
        range.and_then(|r| stream.get(r)).unwrap_or(&[])
    }

    /// Decodes an f32 weight (any encoding) to f32 values.
    pub fn to_f32(&self, stream: &[u8]) -> Result<Vec<f32>> {
        let bytes = self.bytes(stream);
        match (&self.encoding, self.dtype) {
            (Encoding::Raw, DType::F32) => {
                Ok(bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect())
            }
            (Encoding::F16, _) => {
                Ok(bytes.chunks_exact(2).map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32()).collect())
            }
            (Encoding::Int8 { axis, scales_offset }, _) => {
                let bad = || DescriptorError::Invalid {
                    what: self.name.clone(),
                    detail: "int8 values, scales or axis outside the stream".to_string(),
                };
                let axis = *axis as usize;
                let channels = usize::try_from(*self.shape.get(axis).ok_or_else(bad)?).map_err(|_| bad())?;
                let inner = crate::shape::numel(&self.shape[axis + 1..])
                    .and_then(|n| usize::try_from(n).ok())
                    .ok_or_else(bad)?;
                let at = usize::try_from(*scales_offset).map_err(|_| bad())?;
                let scale_bytes = channels.checked_mul(4).and_then(|n| stream.get(at..at.checked_add(n)?));
                let scales: Vec<f32> = scale_bytes
                    .ok_or_else(bad)?
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .collect();
                if bytes.len() as u64 != self.length || (channels == 0 || inner == 0) && !bytes.is_empty() {
                    return Err(bad());
                }
                Ok(bytes.iter().enumerate().map(|(i, &q)| (q as i8) as f32 * scales[(i / inner) % channels]).collect())
            }
            _ => Err(DescriptorError::Invalid {
                what: self.name.clone(),
                detail: format!("a {} weight stored as {} has no f32 form", self.dtype, self.encoding.name()),
            }),
        }
    }
}

#[cfg(feature = "encode")]
pub use writer::{WeightsWriter, quantize_int8};

#[cfg(feature = "encode")]
mod writer {
    use super::*;

    /// Builds a weights file: add tensors, then [`WeightsWriter::finish`].
    #[derive(Default)]
    pub struct WeightsWriter {
        stream: Vec<u8>,
        tensors: Vec<WeightEntry>,
    }

    impl WeightsWriter {
        /// An empty writer.
        pub fn new() -> WeightsWriter {
            WeightsWriter::default()
        }

        fn append(&mut self, bytes: &[u8]) -> u64 {
            let pad = (STREAM_ALIGNMENT - self.stream.len() as u64 % STREAM_ALIGNMENT) % STREAM_ALIGNMENT;
            self.stream.resize(self.stream.len() + pad as usize, 0);
            let at = self.stream.len() as u64;
            self.stream.extend_from_slice(bytes);
            at
        }

        /// Adds a tensor given as its dtype's little-endian bytes, stored `Raw`. Returns its id.
        pub fn add_raw(&mut self, name: &str, dtype: DType, shape: &[u64], bytes: &[u8]) -> u32 {
            let offset = self.append(bytes);
            self.push(name, dtype, shape, Encoding::Raw, offset, bytes.len() as u64)
        }

        /// Adds an f32 tensor stored as binary16. Returns its id.
        pub fn add_f16(&mut self, name: &str, shape: &[u64], values: &[f32]) -> u32 {
            let bytes: Vec<u8> = values.iter().flat_map(|v| half::f16::from_f32(*v).to_le_bytes()).collect();
            let offset = self.append(&bytes);
            self.push(name, DType::F32, shape, Encoding::F16, offset, bytes.len() as u64)
        }

        /// Adds an f32 tensor quantized to int8 per channel along `axis`. Returns its id.
        pub fn add_int8(&mut self, name: &str, shape: &[u64], values: &[f32], axis: usize) -> u32 {
            let (q, scales) = quantize_int8(values, shape, axis);
            let bytes: Vec<u8> = q.iter().map(|&v| v as u8).collect();
            let offset = self.append(&bytes);
            let scale_bytes: Vec<u8> = scales.iter().flat_map(|s| s.to_le_bytes()).collect();
            let scales_offset = self.append(&scale_bytes);
            let encoding = Encoding::Int8 { axis: axis as u32, scales_offset };
            self.push(name, DType::F32, shape, encoding, offset, bytes.len() as u64)
        }

        fn push(
            &mut self,
            name: &str,
            dtype: DType,
            shape: &[u64],
            encoding: Encoding,
            offset: u64,
            length: u64,
        ) -> u32 {
            let id = self.tensors.len() as u32;
            self.tensors.push(WeightEntry {
                name: name.to_string(),
                dtype,
                shape: shape.to_vec(),
                encoding,
                offset,
                length,
            });
            id
        }

        /// Compresses the stream in chunks at zstd `level` and returns the file's bytes.
        pub fn finish(self, level: i32) -> Result<Vec<u8>> {
            let encode_err = |detail: String| DescriptorError::Encode { part: "weights".into(), detail };
            let pieces: Vec<&[u8]> = self.stream.chunks(MAX_CHUNK_SIZE as usize).collect();
            let compressed: Vec<Vec<u8>> = std::thread::scope(|scope| {
                let workers = std::thread::available_parallelism().map_or(1, |n| n.get()).max(1);
                let per = pieces.len().div_ceil(workers).max(1);
                let handles: Vec<_> = pieces
                    .chunks(per)
                    .map(|group| {
                        scope.spawn(move || group.iter().map(|p| zstd::bulk::compress(p, level)).collect::<Vec<_>>())
                    })
                    .collect();
                handles.into_iter().flat_map(|h| h.join().expect("compression thread")).collect::<Vec<_>>()
            })
            .into_iter()
            .collect::<std::io::Result<_>>()
            .map_err(|e| encode_err(e.to_string()))?;
            let chunks = pieces
                .iter()
                .zip(&compressed)
                .map(|(p, c)| ChunkDesc {
                    compressed_size: c.len() as u64,
                    size: p.len() as u64,
                    sha256: container::sha256_raw(c).to_vec(),
                })
                .collect();
            let index = WeightIndex { stream_size: self.stream.len() as u64, chunks, tensors: self.tensors };
            container::write(FileKind::Weights, 0, &index, &compressed.concat())
        }
    }

    /// Symmetric per-channel int8 quantization (SPEC §7.2): `scale[c] = max|x| / 127` over channel `c` of `axis`
    /// (1 where the channel is all zeros), `q = round_half_away(x / scale[c])` clamped to [-127, 127].
    pub fn quantize_int8(values: &[f32], shape: &[u64], axis: usize) -> (Vec<i8>, Vec<f32>) {
        let channels = shape[axis] as usize;
        let inner: usize = shape[axis + 1..].iter().product::<u64>() as usize;
        let channel_of = |i: usize| (i / inner) % channels;
        let mut max_abs = vec![0f32; channels];
        for (i, v) in values.iter().enumerate() {
            let c = channel_of(i);
            max_abs[c] = max_abs[c].max(v.abs());
        }
        let scales: Vec<f32> = max_abs.iter().map(|&m| if m > 0.0 { m / 127.0 } else { 1.0 }).collect();
        let q = values
            .iter()
            .enumerate()
            .map(|(i, v)| (v / scales[channel_of(i)]).round().clamp(-127.0, 127.0) as i8)
            .collect();
        (q, scales)
    }
}

#[cfg(all(test, feature = "encode"))]
mod tests {
    use super::*;

    fn sample() -> (Vec<u8>, Vec<f32>) {
        let values: Vec<f32> = (0..3 * 1000).map(|i| ((i * 7919) % 1000) as f32 / 100.0 - 5.0).collect();
        let mut w = WeightsWriter::new();
        w.add_raw("raw", DType::F32, &[3, 1000], &values.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<_>>());
        w.add_f16("half", &[3, 1000], &values);
        w.add_int8("q", &[3, 1000], &values, 0);
        w.add_raw("idx", DType::I64, &[2], &[1i64, -1].iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<_>>());
        (w.finish(19).unwrap(), values)
    }

    #[test]
    fn round_trip_every_encoding() {
        let (bytes, values) = sample();
        let file = WeightsFile::parse(&bytes, "w").unwrap();
        let stream = file.decode_stream(|_, _| {}).unwrap();
        let t = &file.index.tensors;
        assert_eq!(t[0].to_f32(&stream).unwrap(), values);
        let half = t[1].to_f32(&stream).unwrap();
        assert!(half.iter().zip(&values).all(|(a, b)| (a - b).abs() <= 5e-3));
        let q = t[2].to_f32(&stream).unwrap();
        assert!(q.iter().zip(&values).all(|(a, b)| (a - b).abs() <= 5.0 / 127.0));
        assert_eq!(t[3].bytes(&stream), &[1i64, -1].iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<_>>()[..]);
    }

    #[test]
    fn many_chunks_and_progress() {
        let big: Vec<u8> = (0..(9u64 << 20)).map(|i| (i * 31 % 251) as u8).collect();
        let mut w = WeightsWriter::new();
        w.add_raw("big", DType::U8, &[big.len() as u64], &big);
        let bytes = w.finish(3).unwrap();
        let file = WeightsFile::parse(&bytes, "w").unwrap();
        assert_eq!(file.index.chunks.len(), 3);
        let mut calls = vec![];
        let stream = file.decode_stream(|done, total| calls.push((done, total))).unwrap();
        assert_eq!(stream, big);
        assert_eq!(calls.last(), Some(&(big.len() as u64, big.len() as u64)));
    }

    #[test]
    fn parallel_decoding_names_the_damaged_chunk() {
        let big: Vec<u8> = (0..(17u64 << 20)).map(|i| (i * 31 % 251) as u8).collect();
        let mut w = WeightsWriter::new();
        w.add_raw("big", DType::U8, &[big.len() as u64], &big);
        let mut bytes = w.finish(3).unwrap();
        let file = WeightsFile::parse(&bytes, "w").unwrap();
        assert_eq!(file.index.chunks.len(), 5);
        let mut calls = vec![];
        assert_eq!(file.decode_stream(|done, _| calls.push(done)).unwrap(), big);
        assert_eq!(calls.len(), 5);
        assert!(calls.windows(2).all(|w| w[0] < w[1]), "{calls:?}");
        // Flip a byte in the fourth chunk's compressed bytes.
        let sizes: Vec<usize> = file.index.chunks.iter().map(|c| c.compressed_size as usize).collect();
        let body_start = bytes.len() - sizes.iter().sum::<usize>();
        let at = body_start + sizes[..3].iter().sum::<usize>() + sizes[3] / 2;
        bytes[at] ^= 0x01;
        let file = WeightsFile::parse(&bytes, "w").unwrap();
        let err = file.decode_stream(|_, _| {}).unwrap_err();
        assert!(matches!(&err, DescriptorError::ChecksumMismatch { part, .. } if part == "weight chunk 3"), "{err}");
    }

    #[test]
    fn flipped_byte_in_a_chunk_names_the_chunk() {
        let (mut bytes, _) = sample();
        let last = bytes.len() - 3;
        bytes[last] ^= 0x10;
        let file = WeightsFile::parse(&bytes, "w").unwrap();
        let err = file.decode_stream(|_, _| {}).unwrap_err();
        assert!(matches!(&err, DescriptorError::ChecksumMismatch { part, .. } if part == "weight chunk 0"), "{err}");
    }

    #[test]
    fn truncated_body_is_detected() {
        let (bytes, _) = sample();
        let err = WeightsFile::parse(&bytes[..bytes.len() - 10], "w").err().unwrap();
        assert!(matches!(err, DescriptorError::Truncated { .. }), "{err}");
    }

    #[test]
    fn unknown_encoding_is_named() {
        let (bytes, _) = sample();
        let mut patched = bytes.clone();
        let head_end = container::HEADER_LEN + u64::from_le_bytes(bytes[16..24].try_into().unwrap()) as usize;
        let head = &mut patched[container::HEADER_LEN..head_end];
        let at = head.windows(3).position(|w| w == b"F16").unwrap();
        head[at..at + 3].copy_from_slice(b"F17");
        let sum = container::sha256_raw(&patched[container::HEADER_LEN..head_end]);
        patched[24..56].copy_from_slice(&sum);
        let err = WeightsFile::parse(&patched, "w").err().unwrap();
        assert!(
            matches!(&err, DescriptorError::UnknownEncoding { weight, encoding, .. } if weight == "half" && encoding == "F17"),
            "{err}"
        );
    }

    #[test]
    fn quantization_is_symmetric_per_channel() {
        let (q, scales) = quantize_int8(&[1.0, -2.0, 0.0, 0.0], &[2, 2], 0);
        assert_eq!(scales, vec![2.0 / 127.0, 1.0]);
        assert_eq!(q, vec![64, -127, 0, 0]);
    }
}
