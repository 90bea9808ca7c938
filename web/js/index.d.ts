// Type declarations of the wdnn package (see index.mjs).

export type TensorType =
  | 'float32' | 'float64' | 'float16'
  | 'int8' | 'int16' | 'int32' | 'int64'
  | 'uint8' | 'uint16' | 'uint32' | 'uint64'
  | 'bool';

export type TensorData =
  | Float32Array | Float64Array | Int8Array | Int16Array | Int32Array | BigInt64Array
  | Uint8Array | Uint16Array | Uint32Array | BigUint64Array;

/** A dense tensor, as ONNX Runtime Web's `Tensor`. float16 holds the raw bits in a Uint16Array, bool one byte each. */
export class Tensor {
  constructor(type: TensorType, data: TensorData | readonly number[] | readonly bigint[] | readonly boolean[],
    dims?: readonly number[]);
  constructor(data: TensorData | readonly number[], dims?: readonly number[]);
  readonly type: TensorType;
  readonly data: TensorData;
  readonly dims: readonly number[];
  readonly size: number;
  /** The values' bytes (a view, not a copy). */
  bytes(): Uint8Array;
}

/** Name, type and static dims of a model input or output. */
export interface ValueInfo {
  readonly name: string;
  readonly type: TensorType;
  readonly dims: readonly number[];
}

/** A backend passed over while loading, and why. */
export interface Skip {
  readonly backend: string;
  readonly reason: string;
}

/** A bundle: a directory path (Node), a URL of the bundle directory, or its files by name. */
export type Bundle =
  | string
  | URL
  | Map<string, Uint8Array | ArrayBufferView | ArrayBuffer>
  | Record<string, Uint8Array | ArrayBufferView | ArrayBuffer>;

export interface LoadOptions {
  /** Backends to try in order (default `['webgpu', 'wasm', 'fallback']`); those not compiled in, without a
   * descriptor in the bundle, unavailable here or failing to load are skipped with a reason. */
  backends?: readonly string[];
  /** From a URL: called as the chosen backend's bytes arrive (`total` is the sum of its files' sizes). From files
   * in memory or on disk: called while the weights are decoded. */
  onProgress?: (done: number, total: number) => void;
  /** Keep downloaded files in the Cache API (`CACHE_NAME`), reused while the manifest's hashes match. */
  cache?: boolean;
  /** Run the session in a Web Worker; input buffers are transferred to it (detached here). */
  worker?: boolean;
}

/** A bundle file that could not be read, or that failed a check (size, a weight chunk's SHA-256). */
export class BundleFileError extends Error {
  /** The file. */
  readonly file: string;
}

/** The Cache API cache `cache: true` uses. */
export const CACHE_NAME: string;

export class InferenceSession {
  /** As ORT's `InferenceSession.create`: the same as `load`. */
  static create(bundle: Bundle, options?: LoadOptions): Promise<InferenceSession>;
  /** The backend the model runs on. */
  readonly backend: string;
  /** The backends asked for before it, and why each was passed over. */
  readonly skipped: readonly Skip[];
  readonly inputs: readonly ValueInfo[];
  readonly outputs: readonly ValueInfo[];
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  /** Runs the model on every input by name; resolves to every output by name. */
  run(feeds: Record<string, Tensor>): Promise<Record<string, Tensor>>;
  /** Frees the model now (GPU buffers and device, weights, working memory); the session cannot run afterwards. */
  dispose(): void;
  /** As ORT's `release`. */
  release(): Promise<void>;
}

/** Loads a bundle on the first backend of `options.backends` that works. On the wasm backend the load ends with one
 * run on zeros, so that the first real run is as fast as the ones after it. */
export function load(bundle: Bundle, options?: LoadOptions): Promise<InferenceSession>;

/** The backends tried when `load` is given none. */
export const DEFAULT_BACKENDS: readonly string[];

export const env: {
  wasm: {
    /** Which module build to use: relaxed SIMD where the engine validates it (`auto`), or a fixed one. */
    flavor: 'auto' | 'simd128' | 'relaxed-simd' | 'simd128-threads';
    /** Threads for the wasm backend (ORT's `env.wasm.numThreads`): 0 = min(4, cores/2) on a cross-origin isolated
     * page, 1 elsewhere and in Node unless set; more than 1 uses the threaded module. */
    numThreads: number;
    /** Where the module builds live (default: beside index.mjs). */
    wasmPaths?: string | URL;
  };
};

/** The module build in use and the backends compiled into it (loads the module if needed). */
export function info(): Promise<{ flavor: string; built: string; backends: string[]; threads: number; memoryBytes: number }>;
