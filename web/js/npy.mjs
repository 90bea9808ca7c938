// `.npy` files (NumPy format 1.0–3.0, C order, little-endian) to and from wdnn Tensors, for the command line.

import { Tensor } from './tensor.mjs';

const DESCR = {
  '<f4': 'float32', '<f8': 'float64', '<f2': 'float16', '|i1': 'int8', '<i2': 'int16', '<i4': 'int32',
  '<i8': 'int64', '|u1': 'uint8', '<u2': 'uint16', '<u4': 'uint32', '<u8': 'uint64', '|b1': 'bool',
};
const TYPE_DESCR = Object.fromEntries(Object.entries(DESCR).map(([d, t]) => [t, d]));

/** Parses an `.npy` file's bytes (`what` names it in errors). */
export function parseNpy(bytes, what = 'npy') {
  const fail = (why) => { throw new Error(`${what}: ${why}`); };
  const magic = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];
  if (bytes.length < 10 || magic.some((b, i) => bytes[i] !== b)) fail('not an .npy file');
  const major = bytes[6];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerLen, start;
  if (major === 1) [headerLen, start] = [view.getUint16(8, true), 10];
  else if (major === 2 || major === 3) {
    if (bytes.length < 12) fail('truncated header');
    [headerLen, start] = [view.getUint32(8, true), 12];
  } else fail(`unsupported format version ${major}`);
  if (start + headerLen > bytes.length) fail('truncated header');
  const header = new TextDecoder().decode(bytes.subarray(start, start + headerLen));
  const descr = /'descr'\s*:\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) fail(`bad header ${header.trim()}`);
  if (fortran === 'True') fail('Fortran-order arrays are not supported');
  const type = DESCR[descr.replace(/^=/, '<')] ?? fail(`unsupported dtype ${descr}`);
  const dims = shapeText.split(',').map((s) => s.trim()).filter((s) => s !== '').map(Number);
  if (dims.some((d) => !Number.isSafeInteger(d) || d < 0)) fail(`bad shape (${shapeText})`);
  const body = bytes.subarray(start + headerLen);
  const size = dims.reduce((a, b) => a * b, 1);
  const Ctor = { float32: Float32Array, float64: Float64Array, float16: Uint16Array, int8: Int8Array,
    int16: Int16Array, int32: Int32Array, int64: BigInt64Array, uint8: Uint8Array, uint16: Uint16Array,
    uint32: Uint32Array, uint64: BigUint64Array, bool: Uint8Array }[type];
  if (body.length < size * Ctor.BYTES_PER_ELEMENT) fail(`truncated data (${body.length} bytes for ${size} values)`);
  // Copy into a fresh, aligned buffer.
  const data = new Ctor(body.slice(0, size * Ctor.BYTES_PER_ELEMENT).buffer);
  return new Tensor(type, data, dims);
}

/** A tensor as `.npy` (format 1.0) bytes. */
export function formatNpy(tensor) {
  const descr = TYPE_DESCR[tensor.type];
  if (!descr) throw new Error(`cannot write a ${tensor.type} tensor as .npy`);
  const shape = tensor.dims.length === 1 ? `(${tensor.dims[0]},)` : `(${tensor.dims.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shape}, }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const head = new Uint8Array(10 + header.length);
  head.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  new DataView(head.buffer).setUint16(8, header.length, true);
  head.set(new TextEncoder().encode(header), 10);
  const body = tensor.bytes();
  const out = new Uint8Array(head.length + body.length);
  out.set(head);
  out.set(body, head.length);
  return out;
}
