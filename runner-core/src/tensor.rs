//! Host tensors exchanged with a session: a dtype, a shape and the values' little-endian bytes.

use wdnn_descriptor_spec::DType;

use crate::{Result, RunnerError};

/// A dense tensor on the host.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    dtype: DType,
    shape: Vec<u64>,
    bytes: Vec<u8>,
}

/// A Rust type that is the element type of some [`DType`].
pub trait Element: Copy + Default + 'static {
    /// The dtype.
    const DTYPE: DType;
    /// Reads one value from little-endian bytes (exactly `DTYPE.size()` of them).
    fn from_le(bytes: &[u8]) -> Self;
    /// Appends the value's little-endian bytes.
    fn write_le(self, out: &mut Vec<u8>);
}

macro_rules! element {
    ($t:ty, $d:ident) => {
        impl Element for $t {
            const DTYPE: DType = DType::$d;
            fn from_le(bytes: &[u8]) -> Self {
                <$t>::from_le_bytes(bytes.try_into().expect("element width"))
            }
            fn write_le(self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
        }
    };
}

element!(f32, F32);
element!(f64, F64);
element!(i8, I8);
element!(i16, I16);
element!(i32, I32);
element!(i64, I64);
element!(u8, U8);
element!(u16, U16);
element!(u32, U32);
element!(u64, U64);

impl Element for bool {
    const DTYPE: DType = DType::Bool;
    fn from_le(bytes: &[u8]) -> Self {
        bytes[0] != 0
    }
    fn write_le(self, out: &mut Vec<u8>) {
        out.push(self as u8);
    }
}

/// Number of elements of a shape.
pub(crate) fn numel(shape: &[u64]) -> u64 {
    shape.iter().product()
}

impl Tensor {
    /// A tensor from typed values.
    pub fn new<T: Element>(shape: &[u64], values: &[T]) -> Result<Tensor> {
        if numel(shape) != values.len() as u64 {
            return Err(RunnerError::TensorData(format!("{} values do not fill shape {shape:?}", values.len())));
        }
        let mut bytes = Vec::with_capacity(values.len() * T::DTYPE.size());
        for v in values {
            v.write_le(&mut bytes);
        }
        Ok(Tensor { dtype: T::DTYPE, shape: shape.to_vec(), bytes })
    }

    /// A tensor from little-endian bytes of `dtype`.
    pub fn from_bytes(dtype: DType, shape: &[u64], bytes: Vec<u8>) -> Result<Tensor> {
        if numel(shape) * dtype.size() as u64 != bytes.len() as u64 {
            return Err(RunnerError::TensorData(format!(
                "{} bytes do not hold a {dtype} tensor of shape {shape:?}",
                bytes.len()
            )));
        }
        Ok(Tensor { dtype, shape: shape.to_vec(), bytes })
    }

    /// A tensor of zeros.
    pub fn zeros(dtype: DType, shape: &[u64]) -> Tensor {
        Tensor { dtype, shape: shape.to_vec(), bytes: vec![0; (numel(shape) as usize) * dtype.size()] }
    }

    /// The element type.
    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// The shape.
    pub fn shape(&self) -> &[u64] {
        &self.shape
    }

    /// Number of elements.
    pub fn numel(&self) -> usize {
        numel(&self.shape) as usize
    }

    /// The values' little-endian bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Consumes the tensor, returning its bytes.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    /// The values as `T`, which must be the tensor's dtype.
    pub fn to_vec<T: Element>(&self) -> Result<Vec<T>> {
        if T::DTYPE != self.dtype {
            return Err(RunnerError::TensorData(format!("asked for {} values of a {} tensor", T::DTYPE, self.dtype)));
        }
        Ok(self.bytes.chunks_exact(self.dtype.size()).map(T::from_le).collect())
    }

    /// The same values with another shape of the same element count.
    pub fn reshaped(mut self, shape: &[u64]) -> Result<Tensor> {
        if numel(shape) != numel(&self.shape) {
            return Err(RunnerError::TensorData(format!("cannot reshape {:?} to {shape:?}", self.shape)));
        }
        self.shape = shape.to_vec();
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_round_trip_and_checks() {
        let t = Tensor::new(&[2, 2], &[1i64, -2, 3, 4]).unwrap();
        assert_eq!(t.dtype(), DType::I64);
        assert_eq!(t.to_vec::<i64>().unwrap(), vec![1, -2, 3, 4]);
        assert!(t.to_vec::<f32>().is_err());
        assert!(Tensor::new(&[3], &[1f32]).is_err());
        assert!(Tensor::from_bytes(DType::F32, &[2], vec![0; 7]).is_err());
        assert_eq!(t.reshaped(&[4]).unwrap().shape(), &[4]);
    }
}
