"""numpy kernels for the ops of SPEC §5, one module per family. :data:`KERNELS` maps an op ``type`` to its kernel
``kernel(op, inputs, outputs) -> [arrays]``, where ``inputs`` are numpy arrays (copies of the arena bytes, or the
decoded weights) and ``outputs`` the ``(dtype, shape)`` of each output tensor."""

from . import conv, elementwise, pool, reduce, resize, shape

KERNELS = {}
for _module in (elementwise, conv, pool, reduce, shape, resize):
    KERNELS.update(_module.KERNELS)
