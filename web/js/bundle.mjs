// Reading a bundle's files: from a directory (Node), a URL (fetch; `file:` URLs through the file system in Node),
// or a map of file names to bytes given by the application. Only the manifest and the files of the backends asked
// for are read (the module names them from the manifest), so a browser never downloads descriptors it cannot use.

export const isNode = typeof process === 'object' && typeof process.versions?.node === 'string';

/** Bytes of any binary value an application may hand over. */
export function asBytes(value, name) {
  if (value instanceof Uint8Array) return value;
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  throw new TypeError(`wdnn.load: file \`${name}\` must be a Uint8Array, another typed array or an ArrayBuffer`);
}

const MANIFEST = 'manifest.wdnn';

function isUrl(bundle) {
  return bundle instanceof URL || (typeof bundle === 'string' && /^[a-z][a-z0-9+.-]*:\/\//i.test(bundle));
}

/** A function reading one file of the bundle by name, for a directory path or URL. */
async function fileReader(bundle) {
  if (isUrl(bundle)) {
    const base = new URL(bundle.toString());
    if (!base.pathname.endsWith('/')) base.pathname += '/';
    if (base.protocol === 'file:' && isNode) {
      const { readFile } = await import('node:fs/promises');
      return async (name) => readFile(new URL(name, base)); // a Buffer is a Uint8Array
    }
    return async (name) => {
      const url = new URL(name, base);
      const response = await fetch(url);
      if (!response.ok) throw new Error(`wdnn.load: fetching ${url} gave ${response.status} ${response.statusText}`);
      return new Uint8Array(await response.arrayBuffer());
    };
  }
  if (typeof bundle === 'string') {
    if (!isNode) throw new TypeError('wdnn.load: a bundle path needs Node; in a browser pass a URL or a file map');
    const { readFile } = await import('node:fs/promises');
    const { join } = await import('node:path');
    return async (name) => {
      try {
        return await readFile(join(bundle, name));
      } catch (e) {
        throw new Error(`wdnn.load: cannot read \`${name}\` from bundle ${bundle}: ${e.message}`);
      }
    };
  }
  return null;
}

/**
 * The files a load needs, as a Map of name to Uint8Array.
 * @param bundle a directory path, a URL, or a Map / plain object of file names to bytes
 * @param backends the backends asked for
 * @param neededFiles (manifestBytes, backends) => file names, from the module
 */
export async function readBundle(bundle, backends, neededFiles) {
  const read = await fileReader(bundle);
  if (read) {
    const manifest = await read(MANIFEST);
    const names = neededFiles(manifest, backends).filter((n) => n !== MANIFEST);
    const files = new Map([[MANIFEST, manifest]]);
    const bytes = await Promise.all(names.map(read));
    names.forEach((n, i) => files.set(n, bytes[i]));
    return files;
  }
  const entries = bundle instanceof Map ? [...bundle.entries()] : bundle && typeof bundle === 'object'
    ? Object.entries(bundle)
    : null;
  if (!entries) throw new TypeError('wdnn.load: the bundle must be a directory path, a URL, or a map of file names to bytes');
  return new Map(entries.map(([name, value]) => [name, asBytes(value, name)]));
}
