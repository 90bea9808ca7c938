//! Front ends: model formats translated into the IR.

pub mod onnx;
