"""The graph descriptor (SPEC §4): tensors, kernels, the arena plan, and the consistency checks of §4.5."""

from . import container, limits, schema, vocabulary
from .dtypes import NAMES as DTYPES
from .dtypes import size as dtype_size
from .errors import Inconsistent, UnknownOp, UnknownPayload
from .schema import Struct

U64_MAX = schema.U64


class Tensor:
    """A TensorDesc (SPEC §4.1): ``offset`` for an arena tensor, ``weight`` (an id) for a weight."""

    def __init__(self, id_, name, dtype, shape, kind, offset=None, weight=None):
        self.id, self.name, self.dtype, self.shape = id_, name, dtype, tuple(shape)
        self.kind, self.offset, self.weight = kind, offset, weight
        numel = 1
        for d in self.shape:
            numel *= d
        self.numel = numel
        self.nbytes = numel * dtype_size(dtype)

    @property
    def in_arena(self):
        return self.kind == "Arena"

    @property
    def end(self):
        return self.offset + self.nbytes

    def __repr__(self):
        where = f"arena [{self.offset}, {self.end})" if self.in_arena else f"weight {self.weight}"
        return f"tensor {self.id} `{self.name}` {self.dtype}{list(self.shape)} at {where}"


class Payload:
    """A kernel payload (SPEC §6). Only ``Wgsl`` is known; its fields are kept as decoded."""

    def __init__(self, kind, fields, known):
        self.kind, self.fields, self.known = kind, fields, known


class Kernel:
    def __init__(self, index, name, op, inputs, outputs, payload):
        self.index, self.name, self.op, self.inputs, self.outputs, self.payload = (
            index,
            name,
            op,
            inputs,
            outputs,
            payload,
        )


class Graph:
    def __init__(self, name, backend, tensors, inputs, outputs, kernels, arena_size, alignment, shaders, minor):
        self.name, self.backend, self.tensors = name, backend, tensors
        self.inputs, self.outputs, self.kernels = inputs, outputs, kernels
        self.arena_size, self.alignment, self.shaders, self.minor = arena_size, alignment, shaders, minor


def _tensor(index):
    def decode(s):
        storage = s.sub("storage")
        kind = storage.field("kind", schema.string)
        name = s.field("name", schema.string)
        dtype = s.field("dtype", schema.enum(DTYPES))
        shape = s.field("shape", schema.array(schema.u64))
        if kind == "Arena":
            return Tensor(index, name, dtype, shape, kind, offset=storage.field("offset", schema.u64))
        if kind == "Weight":
            return Tensor(index, name, dtype, shape, kind, weight=storage.field("id", schema.u32))
        raise schema.Malformed(s.where, f"{s.path}.storage.kind: unknown storage `{kind}` (known: Arena, Weight)")

    return decode


def _binding(s):
    return (s.field("name", schema.string), s.field("tensor", schema.u32))


def _wgsl_binding(s):
    return {
        "binding": s.field("binding", schema.u32),
        "tensor": s.field("tensor", schema.u32),
        "writable": s.field("writable", schema.boolean),
    }


def _payload(s):
    kind = s.field("kind", schema.string)
    if kind != "Wgsl":
        return Payload(kind, {}, known=False)
    fields = {
        "shader": s.field("shader", schema.u32),
        "entry_point": s.field("entry_point", schema.string),
        "workgroup_size": s.field("workgroup_size", schema.array(schema.u32, 3)),
        "dispatch": s.field("dispatch", schema.array(schema.u32, 3)),
        "bindings": s.field("bindings", schema.array(schema.struct(_wgsl_binding))),
    }
    return Payload(kind, fields, known=True)


def _kernel(index):
    def decode(s):
        return Kernel(
            index,
            s.field("name", schema.string),
            s.field("op", vocabulary.op),
            s.field("inputs", schema.array(schema.u32)),
            s.field("outputs", schema.array(schema.u32)),
            s.field("payload", schema.struct(_payload), default=None, nullable=True),
        )

    return decode


def _indexed(make):
    def decode(v, where, path):
        if not isinstance(v, list):
            schema._fail(where, path, "an array", v)
        return [make(i)(Struct(x, where, f"{path}[{i}]")) for i, x in enumerate(v)]

    return decode


def parse(data, where):
    """Checks and decodes a graph descriptor: container (SPEC §2), schema (§4), unknown names (§2), consistency
    (§4.5), in that order."""
    c = container.read(data, b"GRPH", where)
    s = Struct(c.head, where, "graph descriptor")
    g = Graph(
        s.field("name", schema.string),
        s.field("backend", schema.string),
        s.field("tensors", _indexed(_tensor)),
        s.field("inputs", schema.array(schema.struct(_binding))),
        s.field("outputs", schema.array(schema.struct(_binding))),
        s.field("kernels", _indexed(_kernel)),
        s.field("arena_size", schema.u64),
        s.field("alignment", schema.u32),
        s.field("shaders", schema.array(schema.string), default=[]),
        c.minor,
    )
    container.expect_no_body(c, where)
    for k in g.kernels:
        if k.op.unknown is not None:
            raise UnknownOp(
                where,
                f"kernel `{k.name}` uses unknown op `{k.op.unknown}`; this runner implements format "
                f"{container.FORMAT_MAJOR}.{container.FORMAT_MINOR}",
            )
    validate(g, where)
    return g


def validate(g, where):
    """The consistency checks of SPEC §4.5, in its order."""

    def bad(detail):
        raise Inconsistent(where, f"invalid descriptor: {detail}")

    limits.check(where, "tensor count", len(g.tensors), limits.COUNT)
    limits.check(where, "kernel count", len(g.kernels), limits.COUNT)
    limits.check(where, "arena_size", g.arena_size, limits.ARENA)
    a = g.alignment
    if a == 0 or a & (a - 1):
        bad(f"alignment {a} is not a power of two")
    for t in g.tensors:
        limits.check(where, f"rank of {t}", len(t.shape), limits.RANK)
        if t.nbytes > U64_MAX:
            bad(f"{t} is larger than 2^64 - 1 bytes")
        if t.in_arena:
            if t.end > g.arena_size:
                bad(f"{t} lies outside the arena of {g.arena_size} bytes")
            if t.offset % a:
                bad(f"{t}: offset {t.offset} is not a multiple of the alignment {a}")
    n = len(g.tensors)
    for name, tid in g.inputs + g.outputs:
        if tid >= n:
            bad(f"`{name}`: io tensor id {tid} out of range")
    for name, tid in g.inputs:
        if not g.tensors[tid].in_arena:
            bad(f"input `{name}` is not an arena tensor")
    for k in g.kernels:
        for tid in k.inputs:
            if tid >= n:
                bad(f"kernel `{k.name}`: input tensor id {tid} out of range")
        for tid in k.outputs:
            if tid >= n:
                bad(f"kernel `{k.name}`: output tensor id {tid} out of range")
            if not g.tensors[tid].in_arena:
                bad(f"kernel `{k.name}` writes the weight `{g.tensors[tid].name}`")
        p = k.payload
        if p is not None and p.known and p.fields["shader"] >= len(g.shaders):
            bad(f"kernel `{k.name}` uses shader {p.fields['shader']} out of range")
        if p is not None and not p.known:
            raise UnknownPayload(
                where, f"kernel `{k.name}` has payload kind `{p.kind}`, which this reader does not know"
            )
