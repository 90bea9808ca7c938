//! `LpPool`, which tract lacks: `(Σ_window |x|^p)^(1/p)` around an unnormalized `SumPool`.

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_core::ops::cnn::{PaddingSpec, PoolSpec};
use tract_onnx::tract_core::ops::math;
use tract_onnx::tract_core::ops::nn::DataFormat;
use tract_onnx::tract_hir::internal::*;
use tract_onnx::tract_hir::ops::activations::broadcast_scalar;
use tract_onnx::tract_hir::ops::cnn::HirSumPool;

use super::{Built, scalar};

/// ONNX `LpPool` (tract has none): `(Σ_window |x|^p)^(1/p)`, the sum an unnormalized `SumPool`.
pub(super) fn lp_pool(_: &ParsingContext, node: &NodeProto) -> Built {
    let kernel_shape: TVec<usize> = node.get_attr_tvec("kernel_shape")?;
    let rank = kernel_shape.len();
    let p: usize = node.get_attr_opt("p")?.unwrap_or(2);
    let strides: Option<TVec<usize>> = node.get_attr_opt_tvec("strides")?;
    let dilations: Option<TVec<usize>> = node.get_attr_opt_tvec("dilations")?;
    let ceil_mode = node.get_attr_opt::<i64>("ceil_mode")?.unwrap_or(0) == 1;
    let padding = match node.get_attr_opt_tvec::<usize>("pads")? {
        Some(pads) if pads.len() == 2 * rank => {
            PaddingSpec::ExplicitOnnxPool(pads[..rank].into(), pads[rank..].into(), ceil_mode)
        }
        Some(pads) => bail!("LpPool: {} pads for {rank} spatial axes", pads.len()),
        None => match node.get_attr_opt::<String>("auto_pad")?.as_deref().unwrap_or("NOTSET") {
            "NOTSET" => PaddingSpec::ExplicitOnnxPool(tvec!(0; rank), tvec!(0; rank), ceil_mode),
            "VALID" => PaddingSpec::Valid,
            "SAME_UPPER" => PaddingSpec::SameUpper,
            "SAME_LOWER" => PaddingSpec::SameLower,
            other => bail!("LpPool auto_pad {other:?}"),
        },
    };
    let pool_spec = PoolSpec::new(DataFormat::NCHW, kernel_shape, padding, dilations, strides, 0, 0);
    Ok((expand(LpPool { pool: HirSumPool::new(pool_spec, false, false), p }), vec![]))
}

#[derive(Debug, Clone)]
struct LpPool {
    pool: HirSumPool,
    p: usize,
}

impl Expansion for LpPool {
    fn name(&self) -> StaticName {
        "LpPool".into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        self.pool.rules(s, inputs, outputs)
    }

    fn wire(&self, name: &str, model: &mut TypedModel, inputs: &[OutletId]) -> TractResult<TVec<OutletId>> {
        let p = scalar(model, inputs, format!("{name}.p"), self.p as f32)?;
        let abs = model.wire_node(format!("{name}.abs"), math::abs(), inputs)?;
        let pow = model.wire_node(format!("{name}.pow"), math::pow(), &[abs[0], p])?;
        let sum = self.pool.wire(&format!("{name}.sum"), model, &pow)?;
        let inv = broadcast_scalar(1.0 / self.p as f32, model, &sum)?;
        let inv = model.add_const(format!("{name}.inv_p"), inv)?;
        model.wire_node(name, math::pow(), &[sum[0], inv])
    }
}
