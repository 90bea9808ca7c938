// Reading a bundle's files: from a URL (streaming `fetch`, each weights chunk checked as soon as its last byte has
// arrived, progress as bytes arrive, optionally the Cache API), from a directory or `file:` URL (Node), or from a map
// of file names to bytes given by the application.
//
// A load reads the manifest first; the module then asks for one backend's files at a time, only once that backend
// has passed its probe (an adapter exists, …), so a browser never downloads descriptors it will not use.

export const isNode = typeof process === 'object' && typeof process.versions?.node === 'string';

const MANIFEST = 'manifest.wdnn';
/** The Cache API cache that `cache: true` keeps bundle files in, keyed by URL and SHA-256. */
export const CACHE_NAME = 'wdnn-bundles-v1';
/** The query parameter that makes a cache key name the file's hash, so a changed manifest misses the cache. */
const HASH_PARAM = 'wdnn-sha256';
/** The fixed container header's length (SPEC §2): the head's length is in it. */
const HEADER_LEN = 56;

/** Bytes of any binary value an application may hand over. */
export function asBytes(value, name) {
  if (value instanceof Uint8Array) return value;
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  throw new TypeError(`wdnn.load: file \`${name}\` must be a Uint8Array, another typed array or an ArrayBuffer`);
}

/** An error about one bundle file: `file` names it (the module reports that file). */
export class BundleFileError extends Error {
  constructor(file, message) {
    super(`${file}: ${message}`);
    this.name = 'BundleFileError';
    this.file = file;
  }
}

function hasScheme(bundle) {
  return bundle instanceof URL || (typeof bundle === 'string' && /^[a-z][a-z0-9+.-]*:/i.test(bundle));
}

const hex = (buffer) => Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, '0')).join('');

/** Hex SHA-256 of a view: WebCrypto where there is one (a secure context, Node), else the module's. */
async function sha256(view, glue) {
  if (globalThis.crypto?.subtle) return hex(await globalThis.crypto.subtle.digest('SHA-256', view));
  return glue.sha256Hex(view);
}

/**
 * Reads a file's body stream into one buffer of the manifest's size, checking as it goes: never more bytes than the
 * manifest says, each weights chunk's SHA-256 as soon as it is complete (the error names the file and the chunk),
 * and every byte present at the end. The whole file's hash is checked again by the module.
 */
async function readChecked(body, info, glue, onBytes) {
  const buffer = new Uint8Array(info.size);
  const reader = body.getReader();
  let got = 0;
  let layout = null;
  let headLength = HEADER_LEN;
  let next = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (got + value.length > info.size) {
        throw new BundleFileError(info.file, `more bytes arrived than the manifest's ${info.size}: the file is not the one the manifest describes`);
      }
      buffer.set(value, got);
      got += value.length;
      onBytes(value.length);
      if (info.kind !== 'weights') continue;
      while (!layout && got >= headLength) {
        let answer;
        try {
          answer = glue.weightsLayout(buffer.subarray(0, headLength), info.file);
        } catch (e) {
          throw new BundleFileError(info.file, String(e.message ?? e).replace(`${info.file}: `, ''));
        }
        if (answer.chunks) layout = answer;
        else headLength = answer.headLength;
      }
      while (layout && next < layout.chunks.length) {
        const chunk = layout.chunks[next];
        if (chunk.offset + chunk.size > got) break;
        const found = await sha256(buffer.subarray(chunk.offset, chunk.offset + chunk.size), glue);
        if (found !== chunk.sha256) {
          throw new BundleFileError(info.file, `weight chunk ${next} of ${layout.chunks.length} (bytes ${chunk.offset}–${chunk.offset + chunk.size}) is corrupted: its SHA-256 is ${found}, the index says ${chunk.sha256}`);
        }
        next++;
      }
    }
  } catch (e) {
    reader.cancel().catch(() => {});
    throw e;
  }
  if (got !== info.size) {
    throw new BundleFileError(info.file, `truncated: ${got} of the manifest's ${info.size} bytes arrived`);
  }
  if (info.kind === 'weights' && (!layout || next !== layout.chunks.length)) {
    throw new BundleFileError(info.file, 'the weight chunks do not fill the file');
  }
  return buffer;
}

function cacheKey(url, sha) {
  const key = new URL(url);
  key.searchParams.set(HASH_PARAM, sha);
  return key.href;
}

/** The Cache API, if this context has it (a secure browser context). */
async function openCache() {
  if (typeof caches === 'undefined') return null;
  try {
    return await caches.open(CACHE_NAME);
  } catch {
    return null;
  }
}

/** Leaves in the cache only the entry of `url` with hash `sha` (older versions of the file go). */
async function pruneCache(cache, url, sha) {
  for (const request of await cache.keys()) {
    const key = new URL(request.url);
    const keep = key.searchParams.get(HASH_PARAM) === sha;
    key.searchParams.delete(HASH_PARAM);
    if (key.href === url && !keep) await cache.delete(request);
  }
}

/** A bundle at an http(s) URL (or a page-relative one in a browser). */
function urlSource(base, options, glue) {
  if (!base.pathname.endsWith('/')) base.pathname += '/';
  const useCache = Boolean(options.cache);
  let files = null; // [{backend, file, kind, size, sha256}] from the manifest
  let loaded = 0;
  let total = 0;
  const progress = (n) => {
    loaded += n;
    options.onProgress?.(loaded, total);
  };

  async function fetchOk(url, file) {
    let response;
    try {
      response = await fetch(url);
    } catch (e) {
      throw new BundleFileError(file, `fetching ${url} failed: ${e.message}`);
    }
    if (!response.ok) throw new BundleFileError(file, `fetching ${url} gave ${response.status} ${response.statusText}`);
    return response;
  }

  async function manifest() {
    const url = new URL(MANIFEST, base).href;
    const cache = useCache ? await openCache() : null;
    let bytes;
    try {
      bytes = new Uint8Array(await (await fetchOk(url, MANIFEST)).arrayBuffer());
      if (cache) await cache.put(url, new Response(bytes.slice()));
    } catch (e) {
      // Offline: the cached manifest, whose hashes still pick the cached files.
      const hit = cache && (await cache.match(url));
      if (!hit) throw e;
      bytes = new Uint8Array(await hit.arrayBuffer());
    }
    files = glue.bundleFiles(bytes);
    return bytes;
  }

  async function one(name) {
    const info = files.find((f) => f.file === name);
    if (!info) throw new BundleFileError(name, 'the manifest does not list it');
    const url = new URL(name, base).href;
    const cache = useCache ? await openCache() : null;
    if (cache) {
      const hit = await cache.match(cacheKey(url, info.sha256));
      if (hit) {
        const before = loaded;
        try {
          return await readChecked(hit.body, info, glue, progress);
        } catch {
          // A damaged cache entry: dropped, and the file comes from the network.
          await cache.delete(cacheKey(url, info.sha256));
          loaded = before;
        }
      }
    }
    const bytes = await readChecked((await fetchOk(url, name)).body, info, glue, progress);
    if (cache) {
      const headers = { 'content-type': 'application/octet-stream', 'content-length': String(bytes.length) };
      await cache.put(cacheKey(url, info.sha256), new Response(bytes.slice(), { headers }));
      await pruneCache(cache, url, info.sha256);
    }
    return bytes;
  }

  return {
    origin: base.href,
    manifest,
    decodeProgress: null,
    async fetch(names) {
      for (const name of names) total += files.find((f) => f.file === name)?.size ?? 0;
      options.onProgress?.(loaded, total);
      return Promise.all(names.map(one));
    },
  };
}

/** A bundle in a directory (Node) or at a `file:` URL (Node). */
async function fileSource(location, options) {
  const { readFile } = await import('node:fs/promises');
  const path = location instanceof URL ? location : (await import('node:path')).resolve(location);
  const at = (name) => (path instanceof URL ? new URL(name, path.href.endsWith('/') ? path : `${path.href}/`)
    : `${path}/${name}`);
  const read = async (name) => {
    try {
      return await readFile(at(name)); // a Buffer is a Uint8Array
    } catch (e) {
      throw new BundleFileError(name, `cannot read it from ${location}: ${e.message}`);
    }
  };
  return {
    origin: String(location),
    manifest: () => read(MANIFEST),
    decodeProgress: options.onProgress,
    fetch: (names) => Promise.all(names.map(read)),
  };
}

/** A bundle the application holds as a Map or plain object of file names to bytes. */
function mapSource(bundle, options) {
  const entries = bundle instanceof Map ? [...bundle.entries()] : Object.entries(bundle);
  const files = new Map(entries.map(([name, value]) => [name, asBytes(value, name)]));
  const get = (name) => {
    const bytes = files.get(name);
    if (!bytes) throw new BundleFileError(name, 'not among the files given to wdnn.load');
    return bytes;
  };
  return {
    origin: 'the files given to wdnn.load',
    manifest: async () => get(MANIFEST),
    decodeProgress: options.onProgress,
    fetch: async (names) => names.map(get),
  };
}

/**
 * Where a load reads `bundle` from: `{origin, manifest(), fetch(names), decodeProgress}`.
 * @param bundle a URL (absolute, or relative to the page in a browser), a directory path (Node), or a Map / plain
 *   object of file names to bytes
 * @param options `{cache, onProgress}` of `wdnn.load`
 * @param glue the module (`bundleFiles`, `weightsLayout`, `sha256Hex`)
 */
export async function openBundle(bundle, options, glue) {
  if (bundle && typeof bundle === 'object' && !(bundle instanceof URL)) return mapSource(bundle, options);
  if (typeof bundle !== 'string' && !(bundle instanceof URL)) {
    throw new TypeError('wdnn.load: the bundle must be a URL, a directory path, or a map of file names to bytes');
  }
  if (hasScheme(bundle)) {
    const url = new URL(bundle.toString());
    if (url.protocol === 'file:') {
      if (!isNode) throw new TypeError('wdnn.load: a file: URL needs Node; in a browser serve the bundle over http');
      return fileSource(url, options);
    }
    return urlSource(url, options, glue);
  }
  if (isNode) return fileSource(bundle, options);
  return urlSource(new URL(bundle, globalThis.location?.href), options, glue);
}
