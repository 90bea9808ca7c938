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

/// Number of elements of a shape, saturating at `u64::MAX` (no real buffer holds that many, so a comparison with
/// one's length fails instead of overflowing).
pub(crate) fn numel(shape: &[u64]) -> u64 {
    wdnn_descriptor_spec::shape::numel(shape).unwrap_or(u64::MAX)
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
        if numel(shape).checked_mul(dtype.size() as u64) != Some(bytes.len() as u64) {
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

    /// A borrowed view of the tensor.
    pub fn view(&self) -> TensorView<'_> {
        TensorView { dtype: self.dtype, shape: &self.shape, bytes: &self.bytes }
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

/// A borrowed dense tensor: what a kernel reads, whether it lives in an arena, a weight or a host [`Tensor`].
///
/// Constructing one checks that the bytes fill the shape, so a kernel may rely on it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TensorView<'a> {
    dtype: DType,
    shape: &'a [u64],
    bytes: &'a [u8],
}

impl<'a> TensorView<'a> {
    /// A view of `bytes` as a `dtype` tensor of `shape`.
    pub fn new(dtype: DType, shape: &'a [u64], bytes: &'a [u8]) -> Result<TensorView<'a>> {
        check_len(dtype, shape, bytes.len())?;
        Ok(TensorView { dtype, shape, bytes })
    }

    /// The element type.
    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// The shape.
    pub fn shape(&self) -> &'a [u64] {
        self.shape
    }

    /// Number of elements.
    pub fn numel(&self) -> usize {
        numel(self.shape) as usize
    }

    /// The values' little-endian bytes.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The values as `T`, which must be the tensor's dtype.
    pub fn to_vec<T: Element>(&self) -> Result<Vec<T>> {
        if T::DTYPE != self.dtype {
            return Err(RunnerError::TensorData(format!("asked for {} values of a {} tensor", T::DTYPE, self.dtype)));
        }
        Ok(self.bytes.chunks_exact(self.dtype.size()).map(T::from_le).collect())
    }

    /// An owned copy.
    pub fn to_tensor(&self) -> Tensor {
        Tensor { dtype: self.dtype, shape: self.shape.to_vec(), bytes: self.bytes.to_vec() }
    }
}

/// A mutably borrowed dense tensor: where a kernel writes an output.
#[derive(Debug, PartialEq)]
pub struct TensorViewMut<'a> {
    dtype: DType,
    shape: &'a [u64],
    bytes: &'a mut [u8],
}

impl<'a> TensorViewMut<'a> {
    /// A view of `bytes` as a `dtype` tensor of `shape`.
    pub fn new(dtype: DType, shape: &'a [u64], bytes: &'a mut [u8]) -> Result<TensorViewMut<'a>> {
        check_len(dtype, shape, bytes.len())?;
        Ok(TensorViewMut { dtype, shape, bytes })
    }

    /// The element type.
    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// The shape.
    pub fn shape(&self) -> &'a [u64] {
        self.shape
    }

    /// Number of elements.
    pub fn numel(&self) -> usize {
        numel(self.shape) as usize
    }

    /// The values' little-endian bytes.
    pub fn bytes(&self) -> &[u8] {
        self.bytes
    }

    /// The values' little-endian bytes, to write.
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        self.bytes
    }

    /// Overwrites the values with `t`'s, which must have the same dtype and shape.
    pub fn copy_from(&mut self, t: TensorView<'_>) -> Result<()> {
        if t.dtype != self.dtype || t.shape != self.shape {
            return Err(RunnerError::TensorData(format!(
                "a {} {:?} tensor cannot be written where a {} {:?} one goes",
                t.dtype, t.shape, self.dtype, self.shape
            )));
        }
        self.bytes.copy_from_slice(t.bytes);
        Ok(())
    }
}

fn check_len(dtype: DType, shape: &[u64], len: usize) -> Result<()> {
    let want = shape.iter().try_fold(dtype.size() as u64, |n, &d| n.checked_mul(d));
    if want != Some(len as u64) {
        return Err(RunnerError::TensorData(format!("{len} bytes do not hold a {dtype} tensor of shape {shape:?}")));
    }
    Ok(())
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

    #[test]
    fn views_check_their_bytes() {
        let t = Tensor::new(&[2], &[1.5f32, -2.0]).unwrap();
        let v = t.view();
        assert_eq!((v.dtype(), v.shape(), v.numel()), (DType::F32, &[2u64][..], 2));
        assert_eq!(v.to_vec::<f32>().unwrap(), vec![1.5, -2.0]);
        assert_eq!(v.to_tensor(), t);
        assert!(TensorView::new(DType::F32, &[3], t.bytes()).is_err());
        assert!(TensorView::new(DType::F32, &[u64::MAX, 2], t.bytes()).is_err());
        let mut out = vec![0u8; 8];
        let mut m = TensorViewMut::new(DType::F32, &[2], &mut out).unwrap();
        m.copy_from(v).unwrap();
        assert!(m.copy_from(Tensor::new(&[2], &[1i32, 2]).unwrap().view()).is_err());
        assert_eq!(out, t.bytes());
    }
}
