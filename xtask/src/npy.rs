//! `.npy` files in and out, through `ndarray-npy`.

use std::path::Path;

use anyhow::{Context, Result, bail};
use ndarray::ArrayD;
use ndarray_npy::{ReadNpyExt, WriteNpyExt};
use wdnn_runner_core::spec::DType;
use wdnn_runner_core::{Element, Tensor};

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
        .with_context(|| {
            format!("{}: not an .npy file of f32, f64, i64, i32, i16, i8, u64, u32, u16, u8 or bool", path.display())
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
        DType::I64 => write_as::<i64>(tensor, path),
        DType::I32 => write_as::<i32>(tensor, path),
        DType::U8 => write_as::<u8>(tensor, path),
        DType::I8 => write_as::<i8>(tensor, path),
        DType::Bool => write_as::<bool>(tensor, path),
        DType::I16 => write_as::<i16>(tensor, path),
        DType::U16 => write_as::<u16>(tensor, path),
        DType::U32 => write_as::<u32>(tensor, path),
        DType::U64 => write_as::<u64>(tensor, path),
        other => bail!("writing {other} tensors as .npy is not supported"),
    }
}
