// The wdnn demo page: MobileNetV2 classification and the 26-style network, on the backend the package picks (or
// the one chosen in the header), with load progress, the skipped backends' reasons and run times.
// `window.demo` exposes the same steps to the browser tests (web/test/browser.test.mjs).

import * as wdnn from '/wdnn/index.mjs';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
// `?threads=N`: the wasm backend's threads (the threaded module needs a cross-origin isolated page).
if (params.has('threads')) wdnn.env.wasm.numThreads = Number(params.get('threads'));
const MODELS = { classify: '/models/mobilenetv2/', style: '/models/multistyle26/' };
const PHOTOS = ['chelsea.png', 'coffee.png', 'motorcycle_left.png', 'china.jpg', 'camera.png'];
const STYLE_COUNT = 26;
const MEAN = [0.485, 0.456, 0.406];
const STD = [0.229, 0.224, 0.225];

const state = {
  tab: params.get('tab') === 'style' ? 'style' : 'classify',
  session: null,
  key: '',
  photo: '/images/chelsea.png',
  style: 0,
  labels: null,
  steadyRuns: Math.max(1, Number(params.get('runs') ?? 3)),
  loadMs: null,
  loading: null,
};

const fmtMs = (ms) => (ms == null ? '—' : ms < 10 ? `${ms.toFixed(1)} ms` : `${Math.round(ms)} ms`);
const fmtBytes = (n) => (n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MiB` : `${(n / 1024).toFixed(0)} KiB`);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function showError(e) {
  const box = $('error');
  box.hidden = !e;
  box.textContent = e ? String(e.message ?? e) : '';
}

function progress(done, total) {
  $('bar').style.width = total ? `${(100 * done) / total}%` : '0';
  $('bytes').textContent = total ? `${fmtBytes(done)} of ${fmtBytes(total)}` : '';
}

function showSession(session) {
  $('chosen').textContent = session ? session.backend + (session.worker ? ' · worker' : '') : '—';
  const list = $('skipped');
  list.replaceChildren(...(session?.skipped ?? []).map((s) => {
    const li = document.createElement('li');
    const b = document.createElement('b');
    b.textContent = s.backend;
    li.append(b, `: ${s.reason}`);
    return li;
  }));
  $('t-load').textContent = fmtMs(state.loadMs);
}

function options() {
  const backend = $('backend').value;
  return {
    backends: backend === 'auto' ? undefined : [backend],
    worker: $('worker').checked,
    cache: $('cache').checked,
  };
}

/** Loads `url` with the header's settings (or `override`), replacing the session. */
async function load(url, override = {}) {
  state.session?.dispose();
  state.session = null;
  state.key = '';
  showError(null);
  $('t-first').textContent = $('t-steady').textContent = '—';
  progress(0, 0);
  const opts = { ...options(), ...override };
  const events = [];
  const t0 = performance.now();
  try {
    const session = await wdnn.load(url, {
      ...opts,
      onProgress: (done, total) => {
        events.push([done, total]);
        progress(done, total);
      },
    });
    state.loadMs = performance.now() - t0;
    state.session = session;
    state.key = JSON.stringify([url, opts]);
    state.firstRun = true;
    showSession(session);
    return { backend: session.backend, skipped: session.skipped, loadMs: state.loadMs, events };
  } catch (e) {
    state.loadMs = null;
    showSession(null);
    showError(e);
    throw e;
  }
}

async function ensureSession() {
  const url = MODELS[state.tab];
  if (state.session && state.key === JSON.stringify([url, options()])) return state.session;
  await load(url);
  return state.session;
}

/** Runs `feeds()` (fresh tensors each time: a worker session takes the buffers) once, timed; after a load, also
 * the steady runs. */
async function timedRun(feeds) {
  const session = state.session;
  let t = performance.now();
  const out = await session.run(feeds());
  const ms = performance.now() - t;
  const times = { runMs: ms };
  if (state.firstRun) {
    state.firstRun = false;
    times.firstMs = ms;
    $('t-first').textContent = fmtMs(ms);
    const steady = [];
    for (let i = 0; i < state.steadyRuns; i++) {
      t = performance.now();
      await session.run(feeds());
      steady.push(performance.now() - t);
    }
    times.steadyMs = median(steady);
  } else {
    times.steadyMs = ms;
  }
  $('t-steady').textContent = fmtMs(times.steadyMs);
  return { out, times };
}

async function bitmap(source) {
  if (source instanceof Blob) return createImageBitmap(source);
  const response = await fetch(source);
  if (!response.ok) throw new Error(`fetching ${source} gave ${response.status}`);
  return createImageBitmap(await response.blob());
}

/** RGB bytes of `image` resized so its short side is `side` (bilinear) and center-cropped to `crop`². */
function cropPixels(image, side, crop, target) {
  const scale = side / Math.min(image.width, image.height);
  const [w, h] = [Math.round(image.width * scale), Math.round(image.height * scale)];
  const canvas = new OffscreenCanvas(w, h);
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  ctx.imageSmoothingQuality = 'high';
  ctx.drawImage(image, 0, 0, w, h);
  const [left, top] = [Math.floor((w - crop) / 2), Math.floor((h - crop) / 2)];
  const pixels = ctx.getImageData(left, top, crop, crop);
  target?.getContext('2d').putImageData(pixels, 0, 0);
  return pixels.data;
}

function planar(rgba, size, map) {
  const plane = size * size;
  const out = new Float32Array(3 * plane);
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) out[c * plane + i] = map(rgba[4 * i + c] / 255, c);
  }
  return out;
}

async function labels() {
  if (!state.labels) {
    const names = await (await fetch('/labels/imagenet1k_label_to_names.json')).json();
    state.labels = Object.keys(names).sort((a, b) => a - b).map((k) => names[k].split(',')[0]);
  }
  return state.labels;
}

function top5(logits, names) {
  const max = Math.max(...logits);
  const exp = Array.from(logits, (v) => Math.exp(v - max));
  const sum = exp.reduce((a, b) => a + b, 0);
  return exp.map((p, i) => ({ index: i, label: names[i], probability: p / sum }))
    .sort((a, b) => b.probability - a.probability).slice(0, 5);
}

function showTop5(list) {
  $('top5').replaceChildren(...list.map((c) => {
    const li = document.createElement('li');
    const pct = (100 * c.probability).toFixed(1);
    li.innerHTML = '<div class="name"><span></span><span></span></div><div class="bar"><div></div></div>';
    li.querySelector('.name span').textContent = c.label;
    li.querySelector('.name span:last-child').textContent = `${pct} %`;
    li.querySelector('.bar div').style.width = `${Math.max(1, 100 * c.probability)}%`;
    return li;
  }));
}

/** Classifies `photo` (a URL or a Blob) on the current session. */
async function classify(photo = state.photo) {
  const [session, names, image] = [await ensureSession(), await labels(), await bitmap(photo)];
  const rgba = cropPixels(image, 256, 224, $('preview'));
  const input = planar(rgba, 224, (v, c) => (v - MEAN[c]) / STD[c]);
  const name = session.inputNames[0];
  const { out, times } = await timedRun(() => ({ [name]: new wdnn.Tensor('float32', input.slice(), [1, 3, 224, 224]) }));
  const list = top5(out[session.outputNames[0]].data, names);
  showTop5(list);
  return { top5: list, backend: session.backend, skipped: session.skipped, loadMs: state.loadMs, ...times };
}

/** Runs the style network on an NCHW float32 image in 0..1 with style `k`; returns the stylized values. */
async function stylizeArray(image, k, size = 256) {
  const session = await ensureSession();
  const weights = new Float32Array(STYLE_COUNT);
  weights[k] = 1;
  const { out, times } = await timedRun(() => ({
    image: new wdnn.Tensor('float32', image.slice(), [1, 3, size, size]),
    style_weights: new wdnn.Tensor('float32', weights.slice(), [STYLE_COUNT]),
  }));
  return { data: out[session.outputNames[0]].data, times };
}

function drawPlanar(values, size, canvas) {
  const plane = size * size;
  const pixels = new ImageData(size, size);
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) pixels.data[4 * i + c] = Math.max(0, Math.min(255, Math.round(values[c * plane + i] * 255)));
    pixels.data[4 * i + 3] = 255;
  }
  canvas.getContext('2d').putImageData(pixels, 0, 0);
}

/** Stylizes `photo` with the selected style and shows both. */
async function stylize(photo = state.photo, k = state.style) {
  const image = await bitmap(photo);
  const input = planar(cropPixels(image, 256, 256, $('content')), 256, (v) => v);
  const { data, times } = await stylizeArray(input, k);
  drawPlanar(data, 256, $('stylized'));
  // The picker follows whatever style was drawn, also when a caller (the tests) passes `k` directly.
  state.style = k;
  document.querySelectorAll('.styles button').forEach((b, i) => b.classList.toggle('active', i === k));
  $('style-caption').textContent = `style ${k + 1} of ${STYLE_COUNT}`;
  return { backend: state.session.backend, skipped: state.session.skipped, ...times };
}

async function refresh() {
  const panel = document.querySelector('main');
  panel.classList.add('busy');
  try {
    return state.tab === 'classify' ? await classify() : await stylize();
  } catch (e) {
    showError(e);
    return { error: String(e.message ?? e) };
  } finally {
    panel.classList.remove('busy');
  }
}

function selectTab(tab) {
  state.tab = tab;
  document.querySelectorAll('.tabs button').forEach((b) => b.classList.toggle('active', b.dataset.tab === tab));
  $('panel-classify').hidden = tab !== 'classify';
  $('panel-style').hidden = tab !== 'style';
}

function setup() {
  $('isolation').textContent = globalThis.crossOriginIsolated
    ? 'cross-origin isolated: threads possible' : 'not cross-origin isolated: single-threaded';
  for (const name of PHOTOS) {
    const img = document.createElement('img');
    img.src = `/images/${name}`;
    img.alt = name;
    img.title = name;
    img.classList.toggle('active', `/images/${name}` === state.photo);
    img.onclick = () => {
      state.photo = img.src;
      document.querySelectorAll('.photos img').forEach((i) => i.classList.toggle('active', i === img));
      refresh();
    };
    $('photos').append(img);
  }
  $('file').onchange = () => {
    const file = $('file').files[0];
    if (!file) return;
    state.photo = file;
    document.querySelectorAll('.photos img').forEach((i) => i.classList.remove('active'));
    refresh();
  };
  for (let k = 0; k < STYLE_COUNT; k++) {
    const b = document.createElement('button');
    b.textContent = String(k + 1);
    b.classList.toggle('active', k === state.style);
    b.onclick = () => {
      state.style = k;
      refresh();
    };
    $('styles').append(b);
  }
  document.querySelectorAll('.tabs button').forEach((b) => {
    b.onclick = () => {
      selectTab(b.dataset.tab);
      refresh();
    };
  });
  for (const id of ['backend', 'worker', 'cache']) $(id).onchange = () => refresh();
  if (params.get('backend')) $('backend').value = params.get('backend');
  selectTab(state.tab);
}

setup();
window.demo = {
  wdnn,
  state,
  load,
  classify,
  stylize,
  stylizeArray,
  refresh,
  selectTab,
  /** Sets the header's controls (backend, worker, cache) without reloading. */
  set({ backend, worker, cache } = {}) {
    if (backend !== undefined) $('backend').value = backend;
    if (worker !== undefined) $('worker').checked = worker;
    if (cache !== undefined) $('cache').checked = cache;
  },
  dispose() {
    state.session?.dispose();
    state.session = null;
    state.key = '';
  },
  /** The first result after the page opened (`?autorun=0` leaves it to the caller). */
  ready: params.get('autorun') === '0' ? Promise.resolve(null) : refresh(),
};
