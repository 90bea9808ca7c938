//! `.npy` files in and out, through `ndarray-npy`, which knows every dtype wdnn has but f16: [`F16`] adds it.

use std::io::{Read, Write};
use std::path::Path;

use anyhow::{Context, Result};
use ndarray::ArrayD;
use ndarray_npy::{ReadDataError, ReadNpyExt, ReadableElement, WritableElement, WriteDataError, WriteNpyExt};
use py_literal::Value as PyValue;
use wdnn_runner_core::spec::DType;
use wdnn_runner_core::{Element, Tensor};

/// An f16 `.npy` element (numpy's `<f2`, little-endian IEEE half), for ndarray-npy, which has none.
#[derive(Debug, Clone, Copy, PartialEq)]
struct F16(half::f16);

/// numpy's descriptor of little-endian f16.
const F16_DESCR: &str = "<f2";

impl ReadableElement for F16 {
    fn read_to_end_exact_vec<R: Read>(reader: R, type_desc: &PyValue, len: usize) -> Result<Vec<F16>, ReadDataError> {
        match type_desc {
            PyValue::String(s) if s == F16_DESCR => {}
            other => return Err(ReadDataError::WrongDescriptor(other.clone())),
        }
        // `take` so that a header claiming more values than the file holds costs no allocation up front.
        let mut bytes = Vec::new();
        let mut reader = reader;
        (&mut reader).take(len as u64 * 2).read_to_end(&mut bytes)?;
        if bytes.len() < len * 2 {
            return Err(ReadDataError::MissingData);
        }
        let extra = reader.read_to_end(&mut Vec::new())?;
        if extra > 0 {
            return Err(ReadDataError::ExtraBytes(extra));
        }
        Ok(bytes.chunks_exact(2).map(|b| F16(half::f16::from_le_bytes([b[0], b[1]]))).collect())
    }
}

impl WritableElement for F16 {
    fn type_descriptor() -> PyValue {
        PyValue::String(F16_DESCR.into())
    }

    fn write<W: Write>(&self, mut writer: W) -> Result<(), WriteDataError> {
        Ok(writer.write_all(&self.0.to_le_bytes())?)
    }

    fn write_slice<W: Write>(slice: &[F16], mut writer: W) -> Result<(), WriteDataError> {
        let bytes: Vec<u8> = slice.iter().flat_map(|v| v.0.to_le_bytes()).collect();
        Ok(writer.write_all(&bytes)?)
    }
}

/// An f16 tensor (runner-core has no f16 [`Element`]: its bytes, then).
fn read_f16(bytes: &[u8]) -> Option<Tensor> {
    let array = ArrayD::<F16>::read_npy(bytes).ok()?;
    let shape: Vec<u64> = array.shape().iter().map(|&d| d as u64).collect();
    let values: Vec<u8> = array.iter().flat_map(|v| v.0.to_le_bytes()).collect();
    Tensor::from_bytes(DType::F16, &shape, values).ok()
}

fn write_f16(tensor: &Tensor, path: &Path) -> Result<()> {
    let shape: Vec<usize> = tensor.shape().iter().map(|&d| d as usize).collect();
    let values = tensor.bytes().chunks_exact(2).map(|b| F16(half::f16::from_le_bytes([b[0], b[1]]))).collect();
    let array = ArrayD::from_shape_vec(shape, values)?;
    let file = std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    array.write_npy(std::io::BufWriter::new(file)).with_context(|| format!("writing {}", path.display()))
}

fn read_as<T: Element + ndarray_npy::ReadableElement>(bytes: &[u8]) -> Option<Tensor> {
    let array = ArrayD::<T>::read_npy(bytes).ok()?;
    let shape: Vec<u64> = array.shape().iter().map(|&d| d as u64).collect();
    let values: Vec<T> = array.iter().copied().collect();
    Tensor::new(&shape, &values).ok()
}

/// Reads an `.npy` file of any supported dtype.
pub fn read(path: &Path) -> Result<Tensor> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    read_as::<f32>(&bytes)
        .or_else(|| read_as::<i64>(&bytes))
        .or_else(|| read_as::<f64>(&bytes))
        .or_else(|| read_as::<i32>(&bytes))
        .or_else(|| read_as::<u8>(&bytes))
        .or_else(|| read_as::<i8>(&bytes))
        .or_else(|| read_as::<bool>(&bytes))
        .or_else(|| read_as::<i16>(&bytes))
        .or_else(|| read_as::<u16>(&bytes))
        .or_else(|| read_as::<u32>(&bytes))
        .or_else(|| read_as::<u64>(&bytes))
        .or_else(|| read_f16(&bytes))
        .with_context(|| {
            let dtypes = "f32, f64, f16, i64, i32, i16, i8, u64, u32, u16, u8 or bool";
            format!("{}: not an .npy file of {dtypes}", path.display())
        })
}

fn write_as<T: Element + ndarray_npy::WritableElement>(tensor: &Tensor, path: &Path) -> Result<()> {
    let shape: Vec<usize> = tensor.shape().iter().map(|&d| d as usize).collect();
    let array = ArrayD::from_shape_vec(shape, tensor.to_vec::<T>()?)?;
    let file = std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    array.write_npy(std::io::BufWriter::new(file)).with_context(|| format!("writing {}", path.display()))
}

/// Writes a tensor as `.npy`.
pub fn write(tensor: &Tensor, path: &Path) -> Result<()> {
    match tensor.dtype() {
        DType::F32 => write_as::<f32>(tensor, path),
        DType::F64 => write_as::<f64>(tensor, path),
        DType::F16 => write_f16(tensor, path),
        DType::I64 => write_as::<i64>(tensor, path),
        DType::I32 => write_as::<i32>(tensor, path),
        DType::U8 => write_as::<u8>(tensor, path),
        DType::I8 => write_as::<i8>(tensor, path),
        DType::Bool => write_as::<bool>(tensor, path),
        DType::I16 => write_as::<i16>(tensor, path),
        DType::U16 => write_as::<u16>(tensor, path),
        DType::U32 => write_as::<u32>(tensor, path),
        DType::U64 => write_as::<u64>(tensor, path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> std::path::PathBuf {
        let dir = crate::web::target_dir().join("npy-tests");
        std::fs::create_dir_all(&dir).unwrap();
        dir.join(format!("{name}-{}.npy", std::process::id()))
    }

    /// What numpy 1.x/2.x writes for `np.save(f, np.array([[1, -2.5, inf], [0.1, 65504, nan]], '<f2'))`.
    fn numpy_f16() -> Vec<u8> {
        let mut header = "{'descr': '<f2', 'fortran_order': False, 'shape': (2, 3), }".to_string();
        // Padded with spaces so that the data starts at a multiple of 64 bytes, then a newline.
        header += &" ".repeat((64 - (10 + header.len() + 1) % 64) % 64);
        header += "\n";
        let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
        bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
        bytes.extend_from_slice(header.as_bytes());
        for bits in [0x3c00u16, 0xc100, 0x7c00, 0x2e66, 0x7bff, 0x7e00] {
            bytes.extend_from_slice(&bits.to_le_bytes());
        }
        bytes
    }

    #[test]
    fn f16_reads_as_numpy_writes_it_and_round_trips() {
        let path = scratch("f16");
        std::fs::write(&path, numpy_f16()).unwrap();
        let t = read(&path).unwrap();
        assert_eq!((t.dtype(), t.shape()), (DType::F16, &[2u64, 3][..]));
        let bits: Vec<u16> = t.bytes().chunks_exact(2).map(|b| u16::from_le_bytes([b[0], b[1]])).collect();
        assert_eq!(bits, [0x3c00, 0xc100, 0x7c00, 0x2e66, 0x7bff, 0x7e00]);
        // Written back: numpy's descriptor and data bytes (ndarray-npy words the rest of the header its own way),
        // and the same tensor read again.
        write(&t, &path).unwrap();
        let written = std::fs::read(&path).unwrap();
        assert!(written.windows(14).any(|w| w == b"'descr': '<f2'"));
        assert_eq!(written[written.len() - 12..], numpy_f16()[numpy_f16().len() - 12..]);
        assert_eq!(read(&path).unwrap(), t);
        let empty = Tensor::from_bytes(DType::F16, &[0, 4], vec![]).unwrap();
        write(&empty, &path).unwrap();
        assert_eq!(read(&path).unwrap(), empty);
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn f16_files_that_are_not_what_they_say_are_errors() {
        let path = scratch("f16-bad");
        let good = numpy_f16();
        let descr = good.windows(3).position(|w| w == b"<f2").unwrap();
        let mut big_endian = good.clone();
        big_endian[descr] = b'>';
        let truncated = good[..good.len() - 1].to_vec();
        let mut longer = good.clone();
        longer.extend_from_slice(&[0, 0]);
        for (what, bytes) in [("big-endian", big_endian), ("truncated", truncated), ("longer", longer)] {
            std::fs::write(&path, bytes).unwrap();
            let err = read(&path).unwrap_err();
            assert!(format!("{err:#}").contains("not an .npy file of f32, f64, f16"), "{what}: {err:#}");
        }
        std::fs::remove_file(&path).unwrap();
    }
}
