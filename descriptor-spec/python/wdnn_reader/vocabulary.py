"""The op vocabulary of format 1.0 (SPEC §5) as decoding tables.

Each op, function and step is a tagged map (SPEC §2.1). A tag this reader does not know is not a decoding error:
it is recorded as *unknown* so that the graph reports it by name after the whole head decoded (SPEC §2, §4.5).
"""

from . import schema
from .schema import Struct

_MISSING = schema._MISSING

REDUCE_FNS = frozenset(["Sum", "Mean", "Max", "Min", "Prod", "L1", "L2", "LogSum", "LogSumExp", "SumSquare"])
PAD_MODES = frozenset(["constant", "reflect", "edge", "wrap"])
RESIZE_MODES = frozenset(["nearest", "linear", "cubic"])
RESIZE_COORDINATES = frozenset(
    ["half_pixel", "half_pixel_symmetric", "pytorch_half_pixel", "align_corners", "asymmetric", "tf_half_pixel_for_nn"]
)
NEAREST_MODES = frozenset(["round_prefer_floor", "round_prefer_ceil", "floor", "ceil"])
# These two may grow in a minor version: an unknown value is reported as an unknown op, not as a malformed head.
SCATTER_REDUCTIONS = frozenset(["none", "add", "mul", "min", "max"])
GRID_SAMPLE_PADDINGS = frozenset(["zeros", "border", "reflection"])

BOOL = schema.boolean
U32 = schema.u32
I64 = schema.i64
F32 = schema.f32
F64 = schema.f64
U32S = schema.array(schema.u32)
I64S = schema.array(schema.i64)
F32S = schema.array(schema.f32)

# UnaryFn (SPEC §5.1): name -> {field: decoder}; every field is required.
UNARY_FNS = {
    **{
        n: {}
        for n in (
            "Abs Neg Exp Log Sqrt Rsqrt Reciprocal Square Sigmoid Tanh Erf Floor Ceil Round Sign Sin Cos Tan Asin "
            "Acos Atan Sinh Cosh Asinh Acosh Atanh Relu Softplus Softsign Not BitwiseNot IsNaN HardSwish Mish"
        ).split()
    },
    "IsInf": {"detect_positive": BOOL, "detect_negative": BOOL},
    "Clip": {"min": F32, "max": F32},
    "LeakyRelu": {"alpha": F32},
    "Elu": {"alpha": F32},
    "Selu": {"alpha": F32, "gamma": F32},
    "Celu": {"alpha": F32},
    "ThresholdedRelu": {"alpha": F32},
    "HardSigmoid": {"alpha": F32, "beta": F32},
    "Gelu": {"approximate": BOOL},
    "Shrink": {"bias": F32, "lambd": F32},
}

# BinaryFn (SPEC §5.2): no fields.
BINARY_FNS = frozenset(
    (
        "Add Sub Mul Div Pow Max Min Mod FMod PRelu Equal Less LessOrEqual Greater GreaterOrEqual And Or Xor "
        "BitwiseAnd BitwiseOr BitwiseXor BitShiftLeft BitShiftRight"
    ).split()
)


class Fn:
    """A UnaryFn or BinaryFn: its name and fields; ``known`` is False for a name this reader does not know."""

    def __init__(self, name, attrs, known=True):
        self.name, self.attrs, self.known = name, attrs, known

    def __repr__(self):
        if not self.attrs:
            return self.name
        return f"{self.name}{{{', '.join(f'{k}: {v}' for k, v in self.attrs.items())}}}"


class Op:
    """A kernel's op: its ``type``, its fields (defaults filled in) and the first unknown name inside it, if any."""

    def __init__(self, type_, attrs, unknown=None):
        self.type, self.attrs, self.unknown = type_, attrs, unknown

    def __getitem__(self, key):
        return self.attrs[key]

    def get(self, key, default=None):
        return self.attrs.get(key, default)

    def __repr__(self):
        return f"{self.type} {self.attrs}"


def _fn(table_or_names):
    def decode(v, where, path):
        s = Struct(v, where, path)
        name = s.field("fn", schema.string)
        fields = table_or_names.get(name) if isinstance(table_or_names, dict) else (
            {} if name in table_or_names else None
        )
        if fields is None:
            return Fn(name, {}, known=False)
        return Fn(name, {k: s.field(k, d) for k, d in fields.items()})

    return decode


unary_fn = _fn(UNARY_FNS)
binary_fn = _fn(BINARY_FNS)


class Step:
    """An EpilogueStep (SPEC §5.4): ``{step: Unary, fun}`` or ``{step: Binary, fun, operand, operand_first}``."""

    def __init__(self, step, fun=None, operand=None, operand_first=False, known=True):
        self.step, self.fun, self.operand, self.operand_first, self.known = step, fun, operand, operand_first, known

    def __repr__(self):
        if self.step == "Unary":
            return f"Unary {self.fun}"
        if self.step == "Binary":
            return f"Binary {self.fun} (operand {self.operand}{', first' if self.operand_first else ''})"
        return self.step


def step(v, where, path):
    s = Struct(v, where, path)
    tag = s.field("step", schema.string)
    if tag == "Unary":
        return Step("Unary", s.field("fun", unary_fn))
    if tag == "Binary":
        return Step(
            "Binary",
            s.field("fun", binary_fn),
            s.field("operand", U32),
            s.field("operand_first", BOOL, default=False),
        )
    return Step(tag, known=False)


STEPS = schema.array(step)

# Op (SPEC §5): type -> {field: (decoder, default)}; `_MISSING` marks a required field.
R = _MISSING
_SPATIAL = {
    "group": (U32, R),
    "strides": (U32S, R),
    "dilations": (U32S, R),
    "pads": (U32S, R),
    "channels_last": (BOOL, False),
    "epilogue": (STEPS, []),
}
_CUM = {"axis": (U32, R), "exclusive": (BOOL, False), "reverse": (BOOL, False)}
OPS = {
    "Unary": {"fun": (unary_fn, R)},
    "Binary": {"fun": (binary_fn, R)},
    "Elementwise": {"steps": (STEPS, R)},
    "Where": {},
    "Cast": {},
    "Conv": _SPATIAL,
    "ConvTranspose": _SPATIAL,
    "MatMul": {"transpose_a": (BOOL, False), "transpose_b": (BOOL, False), "epilogue": (STEPS, [])},
    "MaxPool": {
        "kernel_shape": (U32S, R),
        "strides": (U32S, R),
        "dilations": (U32S, R),
        "pads": (U32S, R),
        "channels_last": (BOOL, False),
    },
    "AveragePool": {
        "kernel_shape": (U32S, R),
        "strides": (U32S, R),
        "dilations": (U32S, []),
        "pads": (U32S, R),
        "channels_last": (BOOL, False),
        "count_include_pad": (BOOL, R),
    },
    "Lrn": {"size": (U32, R), "alpha": (F32, R), "beta": (F32, R), "bias": (F32, R)},
    "Softmax": {"axis": (U32, R)},
    "LogSoftmax": {"axis": (U32, R)},
    "Reduce": {"fun": (schema.enum(REDUCE_FNS), R), "axes": (U32S, R)},
    "ArgMax": {"axis": (U32, R), "select_last_index": (BOOL, False)},
    "ArgMin": {"axis": (U32, R), "select_last_index": (BOOL, False)},
    "LayerNorm": {"axis": (U32, R), "epsilon": (F32, R)},
    "Reshape": {},
    "Transpose": {"perm": (U32S, R)},
    "Concat": {"axis": (U32, R)},
    "Slice": {"axes": (U32S, R), "starts": (I64S, R), "steps": (I64S, R)},
    "Gather": {"axis": (U32, R)},
    "GatherElements": {"axis": (U32, R)},
    "Pad": {"pads": (I64S, R), "mode": (schema.enum(PAD_MODES), R), "value": (F64, 0.0)},
    "Expand": {},
    "Tile": {},
    "Resize": {
        "mode": (schema.enum(RESIZE_MODES), R),
        "coordinates": (schema.enum(RESIZE_COORDINATES), R),
        "nearest": (schema.enum(NEAREST_MODES), "round_prefer_floor"),
        "scales": (F32S, R),
        "cubic_coeff_a": (F32, -0.75),
        "exclude_outside": (BOOL, False),
    },
    "GridSample": {
        "mode": (schema.enum(RESIZE_MODES), R),
        "padding": (schema.string, R),
        "align_corners": (BOOL, False),
    },
    "BitCast": {},
    "CumSum": _CUM,
    "CumProd": _CUM,
    "TopK": {"axis": (U32, R), "largest": (BOOL, R)},
    "GatherNd": {"batch_dims": (U32, 0)},
    "ScatterNd": {"reduction": (schema.string, "none")},
    "ScatterElements": {"axis": (U32, R), "reduction": (schema.string, "none")},
}


def _first_unknown(type_, attrs):
    """The name of the first unknown function, step or extensible enumeration value inside a known op."""
    for key in ("fun",):
        f = attrs.get(key)
        if isinstance(f, Fn) and not f.known:
            return f"{type_}/{f.name}"
    # `steps` is Elementwise's list of epilogue steps; Slice's `steps` are integers.
    steps = attrs.get("steps", []) if type_ == "Elementwise" else []
    for s in attrs.get("epilogue", []) + steps:
        if not s.known:
            return f"{type_} (epilogue step {s.step})"
        if not s.fun.known:
            return f"{type_} (epilogue step {s.step}/{s.fun.name})"
    if type_ in ("ScatterNd", "ScatterElements") and attrs["reduction"] not in SCATTER_REDUCTIONS:
        return f"{type_} (reduction {attrs['reduction']})"
    if type_ == "GridSample" and attrs["padding"] not in GRID_SAMPLE_PADDINGS:
        return f"{type_} (padding {attrs['padding']})"
    return None


def op(v, where, path):
    s = Struct(v, where, path)
    type_ = s.field("type", schema.string)
    fields = OPS.get(type_)
    if fields is None:
        return Op(type_, {}, unknown=type_)
    attrs = {k: s.field(k, d, default=default) for k, (d, default) in fields.items()}
    if "epilogue" in attrs:
        attrs["epilogue"] = list(attrs["epilogue"])
    return Op(type_, attrs, unknown=_first_unknown(type_, attrs))
