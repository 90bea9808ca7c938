//! The kernels, one module per concept. Each entry point takes host tensors and the output's dtype and shape,
//! checks them, and dispatches to a body generic over the element type.

pub(crate) mod types;

pub(crate) mod channels_last;
pub(crate) mod conv;
pub(crate) mod elementwise;
pub(crate) mod epilogue;
pub(crate) mod grid_sample;
pub(crate) mod indexing;
pub(crate) mod layout;
pub(crate) mod matmul;
pub(crate) mod norm;
pub(crate) mod pool;
pub(crate) mod reduce;
pub(crate) mod resize;
pub(crate) mod shape;
