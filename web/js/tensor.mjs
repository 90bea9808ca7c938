// Tensors as ONNX Runtime Web has them: `new Tensor(type, data, dims)` or `new Tensor(data, dims)`, with `.type`,
// `.data` (a typed array), `.dims` and `.size`.

/** The typed array class of each type name (ORT's names; bool is one byte per value, float16 the raw bits). */
export const TYPED_ARRAYS = Object.freeze({
  float32: Float32Array,
  float64: Float64Array,
  float16: Uint16Array,
  int8: Int8Array,
  int16: Int16Array,
  int32: Int32Array,
  int64: BigInt64Array,
  uint8: Uint8Array,
  uint16: Uint16Array,
  uint32: Uint32Array,
  uint64: BigUint64Array,
  bool: Uint8Array,
});

/** The type a typed array stands for when `new Tensor(data, dims)` gives none. */
function typeOfData(data) {
  if (data instanceof Float32Array || Array.isArray(data)) return 'float32';
  for (const [type, Ctor] of Object.entries(TYPED_ARRAYS)) {
    if (type !== 'float16' && type !== 'bool' && data instanceof Ctor) return type;
  }
  throw new TypeError('wdnn.Tensor: data must be a typed array or an array of numbers');
}

export class Tensor {
  /**
   * @param {string|ArrayLike} typeOrData the type name (`'float32'`, `'int64'`, …), or the data
   * @param {ArrayLike|number[]} [dataOrDims] the data, or the dims when the first argument is the data
   * @param {number[]} [maybeDims] the dims (default: one dimension, the data's length)
   */
  constructor(typeOrData, dataOrDims, maybeDims) {
    let type, data, dims;
    if (typeof typeOrData === 'string') {
      [type, data, dims] = [typeOrData, dataOrDims, maybeDims];
    } else {
      [type, data, dims] = [typeOfData(typeOrData), typeOrData, dataOrDims];
    }
    const Ctor = TYPED_ARRAYS[type];
    if (!Ctor) {
      throw new TypeError(`wdnn.Tensor: unknown type \`${type}\` (known: ${Object.keys(TYPED_ARRAYS).join(', ')})`);
    }
    if (Array.isArray(data)) {
      if (type === 'int64' || type === 'uint64') data = Ctor.from(data, (v) => BigInt(v));
      else if (type === 'bool') data = Uint8Array.from(data, (v) => (v ? 1 : 0));
      else data = Ctor.from(data);
    } else if (!(data instanceof Ctor)) {
      throw new TypeError(`wdnn.Tensor: a ${type} tensor holds a ${Ctor.name}, not ${data?.constructor?.name ?? data}`);
    }
    dims = dims === undefined ? [data.length] : Array.from(dims, Number);
    if (dims.some((d) => !Number.isSafeInteger(d) || d < 0)) {
      throw new RangeError(`wdnn.Tensor: dims must be non-negative integers, got [${dims}]`);
    }
    const size = dims.reduce((a, b) => a * b, 1);
    if (size !== data.length) {
      throw new RangeError(`wdnn.Tensor: ${data.length} values do not fill dims [${dims}] (${size} values)`);
    }
    this.type = type;
    this.data = data;
    this.dims = Object.freeze(dims);
    this.size = size;
  }

  /** The values' bytes (a view, not a copy). */
  bytes() {
    return new Uint8Array(this.data.buffer, this.data.byteOffset, this.data.byteLength);
  }

  /** A tensor over `bytes` (a Uint8Array whose buffer starts aligned, as the module's outputs do). */
  static fromBytes(type, bytes, dims) {
    const Ctor = TYPED_ARRAYS[type];
    if (!Ctor) throw new TypeError(`wdnn: the model produced an unknown type \`${type}\``);
    const data = bytes.byteOffset % Ctor.BYTES_PER_ELEMENT === 0
      ? new Ctor(bytes.buffer, bytes.byteOffset, bytes.byteLength / Ctor.BYTES_PER_ELEMENT)
      : new Ctor(bytes.slice().buffer);
    return new Tensor(type, data, dims);
  }
}
