//! Convolutions: `Conv` and `Deconv` (ONNX `ConvTranspose`), with their bias.

use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::cnn::{Conv, Deconv, KernelFormat};
use tract_onnx::tract_core::ops::nn::DataFormat;
use wdnn_descriptor_spec::Op;
use wdnn_runner_core::Tensor;

use super::super::{Lowered, Lowering, NotSupported, unsupported};
use crate::ir::ValueId;

pub(super) fn lower<'m>(l: &mut Lowering<'m>, node: &'m TypedNode) -> Option<Lowered> {
    Some(if let Some(conv) = node.op_as::<Conv>() {
        l.lower_conv(node, conv)
    } else if let Some(deconv) = node.op_as::<Deconv>() {
        l.lower_deconv(node, deconv)
    } else {
        return None;
    })
}

impl Lowering<'_> {
    fn lower_conv(&mut self, node: &TypedNode, conv: &Conv) -> Lowered {
        if conv.q_params.is_some() {
            return unsupported("Conv (quantized)");
        }
        if !matches!(conv.pool_spec.data_format, DataFormat::NCHW) || !matches!(conv.kernel_fmt, KernelFormat::OIHW) {
            return unsupported(format!("Conv ({:?} data, {:?} kernel)", conv.pool_spec.data_format, conv.kernel_fmt));
        }
        let (_, strides, dilations, pads) = self.pool_geometry(node, &conv.pool_spec)?;
        let x = self.input(node, 0)?;
        let w = self.input(node, 1)?;
        let mut inputs = vec![x, w];
        if let Some(bias) = self.bias_input(node, 2, conv.pool_spec.output_channels)? {
            inputs.push(bias);
        }
        let op =
            Op::Conv { group: conv.group as u32, strides, dilations, pads, channels_last: false, epilogue: vec![] };
        self.emit(node, op, &inputs)
    }

    fn lower_deconv(&mut self, node: &TypedNode, deconv: &Deconv) -> Lowered {
        if !matches!(deconv.pool_spec.data_format, DataFormat::NCHW)
            || !matches!(deconv.kernel_format, KernelFormat::OIHW)
        {
            return unsupported("ConvTranspose (layout)");
        }
        let x = self.input(node, 0)?;
        let w = self.deconv_kernel_to_onnx(node, deconv.group)?;
        let in_shape = self.graph.value(x).shape.clone();
        let spatial: Vec<usize> = in_shape[2..].iter().map(|&d| d as usize).collect();
        let padded = deconv.pool_spec.padding.compute_for_deconv(
            &spatial,
            &deconv.pool_spec.kernel_shape,
            &deconv.pool_spec.dilations(),
            &deconv.pool_spec.strides(),
            &deconv.adjustments,
        );
        let padded = padded.map_err(|e| NotSupported(format!("ConvTranspose ({e})")))?;
        let mut pads: Vec<u32> = padded.iter().map(|p| p.pad_before as u32).collect();
        pads.extend(padded.iter().map(|p| p.pad_after as u32));
        let strides = deconv.pool_spec.strides().iter().map(|&s| s as u32).collect();
        let dilations = deconv.pool_spec.dilations().iter().map(|&s| s as u32).collect();
        let mut inputs = vec![x, w];
        if let Some(bias) = self.bias_input(node, 2, deconv.pool_spec.output_channels)? {
            inputs.push(bias);
        }
        let op = Op::ConvTranspose {
            group: deconv.group as u32,
            strides,
            dilations,
            pads,
            channels_last: false,
            epilogue: vec![],
        };
        self.emit(node, op, &inputs)
    }

    /// tract hands `Deconv` its kernel regrouped as `[group·O/group, I/group, k…]` (ONNX's `[I, O/group, k…]` split
    /// by group, the two channel axes swapped, merged again); this undoes that for our ONNX-layout ConvTranspose.
    /// For a constant kernel the reshapes and the transpose fold away.
    fn deconv_kernel_to_onnx(&mut self, node: &TypedNode, group: usize) -> Result<ValueId, NotSupported> {
        let w = self.input(node, 1)?;
        let value = self.graph.value(w).clone();
        let (g, shape) = (group as u64, &value.shape);
        if shape.len() < 3 || g == 0 || shape[0] % g != 0 {
            return unsupported("ConvTranspose (kernel shape)");
        }
        let (og, ig, k) = (shape[0] / g, shape[1], &shape[2..]);
        let grouped: Vec<u64> = [g, og, ig].iter().chain(k).copied().collect();
        let swapped: Vec<u64> = [g, ig, og].iter().chain(k).copied().collect();
        let onnx: Vec<u64> = [g * ig, og].iter().chain(k).copied().collect();
        let mut perm: Vec<u32> = vec![0, 2, 1];
        perm.extend(3..grouped.len() as u32);
        let name = &node.name;
        let split = self.emit_temp(&format!("{name}.kernel.split"), Op::Reshape, &[w], value.dtype, &grouped);
        let t = self.emit_temp(&format!("{name}.kernel.swap"), Op::Transpose { perm }, &[split], value.dtype, &swapped);
        Ok(self.emit_temp(&format!("{name}.kernel.onnx"), Op::Reshape, &[t], value.dtype, &onnx))
    }

    /// A conv bias as an `[O]` tensor, or None when absent or all zeros.
    fn bias_input(&mut self, node: &TypedNode, slot: usize, channels: usize) -> Result<Option<ValueId>, NotSupported> {
        if node.inputs.len() <= slot {
            return Ok(None);
        }
        let bias = self.input(node, slot)?;
        let value = self.graph.value(bias).clone();
        if value.numel() == channels as u64 && value.shape.len() == 1 {
            return Ok(Some(bias));
        }
        let Some(constant) = &value.constant else { return unsupported("Conv (non-constant scalar bias)") };
        let values = constant.to_vec::<f32>().map_err(|e| NotSupported(format!("Conv bias ({e})")))?;
        if values.iter().all(|v| *v == 0.0) {
            return Ok(None);
        }
        let full = vec![values[0]; channels];
        let tensor = Tensor::new(&[channels as u64], &full).map_err(|e| NotSupported(e.to_string()))?;
        Ok(Some(self.graph.add_constant(&format!("{}.bias", node.name), tensor)))
    }
}
