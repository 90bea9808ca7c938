//! Pooling: `MaxPool`, `SumPool` (average, or a window sum as average times count) and `Lrn`.

use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::cnn::{MaxPool, PoolSpec, SumPool};
use tract_onnx::tract_core::ops::nn::DataFormat;
use tract_onnx_opl::lrn::Lrn;
use wdnn_descriptor_spec::{BinaryFn, DType, Op};
use wdnn_runner_core::Tensor;

use super::super::{Lowered, Lowering, NotSupported, unsupported};

pub(super) fn lower<'m>(l: &mut Lowering<'m>, node: &'m TypedNode) -> Option<Lowered> {
    Some(if let Some(pool) = node.op_as::<MaxPool>() {
        l.lower_max_pool(node, pool)
    } else if let Some(pool) = node.op_as::<SumPool>() {
        l.lower_sum_pool(node, pool)
    } else if let Some(lrn) = node.op_as::<Lrn>() {
        l.lower_lrn(node, lrn)
    } else {
        return None;
    })
}

impl Lowering<'_> {
    fn lower_max_pool(&mut self, node: &TypedNode, pool: &MaxPool) -> Lowered {
        if pool.with_index_outputs.is_some() {
            return unsupported("MaxPool (with indices output)");
        }
        let (kernel_shape, strides, dilations, pads) = self.pool_geometry(node, &pool.pool_spec)?;
        let x = self.input(node, 0)?;
        self.emit(node, Op::MaxPool { kernel_shape, strides, dilations, pads, channels_last: false }, &[x])
    }

    fn lower_sum_pool(&mut self, node: &TypedNode, pool: &SumPool) -> Lowered {
        let (kernel_shape, strides, dilations, pads) = self.pool_geometry(node, &pool.pool_spec)?;
        let x = self.input(node, 0)?;
        if pool.normalize {
            let op = Op::AveragePool {
                kernel_shape,
                strides,
                dilations,
                pads,
                count_include_pad: pool.count_include_pad,
                channels_last: false,
            };
            return self.emit(node, op, &[x]);
        }
        // A window sum: the average over the window's positions inside the input, times their number.
        let (dtype, out_shape) =
            self.fact(OutletId::new(node.id, 0))?.ok_or_else(|| NotSupported("SumPool (symbolic)".into()))?;
        let in_shape = self.graph.value(x).shape.clone();
        let counts = window_counts(&in_shape[2..], &out_shape[2..], &kernel_shape, &strides, &dilations, &pads);
        let mut count_shape = vec![1, 1];
        count_shape.extend_from_slice(&out_shape[2..]);
        if dtype != DType::F32 {
            return unsupported(format!("SumPool (unnormalized, {dtype})"));
        }
        let counts = Tensor::new(&count_shape, &counts).map_err(|e| NotSupported(e.to_string()))?;
        let counts = self.graph.add_constant(&format!("{}.counts", node.name), counts);
        let op =
            Op::AveragePool { kernel_shape, strides, dilations, pads, count_include_pad: false, channels_last: false };
        let avg = self.emit_temp(&format!("{}.average", node.name), op, &[x], dtype, &out_shape);
        self.emit(node, Op::Binary { fun: BinaryFn::Mul }, &[avg, counts])
    }

    fn lower_lrn(&mut self, node: &TypedNode, lrn: &Lrn) -> Lowered {
        let x = self.input(node, 0)?;
        let op = Op::Lrn { size: lrn.size as u32, alpha: lrn.alpha, beta: lrn.beta, bias: lrn.bias };
        self.emit(node, op, &[x])
    }

    /// Kernel shape, strides, dilations and explicit pads (begins then ends) of a pooling or conv spec.
    #[allow(clippy::type_complexity)]
    pub(super) fn pool_geometry(
        &self,
        node: &TypedNode,
        spec: &PoolSpec,
    ) -> Result<(Vec<u32>, Vec<u32>, Vec<u32>, Vec<u32>), NotSupported> {
        let x = self.input(node, 0)?;
        let shape = &self.graph.value(x).shape;
        let spatial: Vec<usize> = match spec.data_format {
            DataFormat::NCHW => shape[2..].iter().map(|&d| d as usize).collect(),
            other => return unsupported(format!("{} ({other:?} layout)", node.op.name())),
        };
        let padded = spec.computed_padding(&spatial);
        let mut pads: Vec<u32> = padded.iter().map(|p| p.pad_before as u32).collect();
        pads.extend(padded.iter().map(|p| p.pad_after as u32));
        let to_u32 = |v: &[usize]| v.iter().map(|&d| d as u32).collect::<Vec<u32>>();
        Ok((to_u32(&spec.kernel_shape), to_u32(&spec.strides()), to_u32(&spec.dilations()), pads))
    }
}

/// For each output position of a pooling window (row-major over the spatial axes), the number of window positions
/// inside the input.
fn window_counts(
    input: &[u64],
    output: &[u64],
    kernel: &[u32],
    strides: &[u32],
    dilations: &[u32],
    pads: &[u32],
) -> Vec<f32> {
    let rank = input.len();
    let at = |v: &[u32], d: usize, default: u32| v.get(d).copied().unwrap_or(default) as i64;
    let per_axis: Vec<Vec<f32>> = (0..rank)
        .map(|d| {
            (0..output[d] as i64)
                .map(|o| {
                    let (k, s, dil, pad) = (at(kernel, d, 1), at(strides, d, 1), at(dilations, d, 1), at(pads, d, 0));
                    (0..k).filter(|&i| (0..input[d] as i64).contains(&(o * s + i * dil - pad))).count() as f32
                })
                .collect()
        })
        .collect();
    per_axis.iter().fold(vec![1.0f32], |acc, axis| acc.iter().flat_map(|&a| axis.iter().map(move |&c| a * c)).collect())
}

#[cfg(test)]
mod tests {
    use super::window_counts;

    #[test]
    fn window_counts_exclude_padding() {
        // 1-D: input 4, kernel 3, stride 1, pads 1/1 → windows [-1, 1], [0, 2], [1, 3], [2, 4].
        assert_eq!(window_counts(&[4], &[4], &[3], &[1], &[1], &[1, 1]), vec![2.0, 3.0, 3.0, 2.0]);
        // 2-D: the product of the per-axis counts.
        let c = window_counts(&[2, 3], &[1, 2], &[2, 2], &[1, 2], &[1, 1], &[0, 0, 0, 1]);
        assert_eq!(c, vec![4.0, 2.0]);
    }
}
