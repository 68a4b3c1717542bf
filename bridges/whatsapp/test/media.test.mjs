/** Media: capped streaming download, incremental base64, outgoing mapping. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { FakeTimers } from '../test-support/harness.mjs';
import { Base64Builder, createLimiter, fetchMedia, outgoingContent, readCapped } from '../lib/media.mjs';

const CHUNK = 64 * 1024;

/** A stream that makes `total` chunks on demand and counts what was pulled. */
function lazyStream(total, chunk = CHUNK) {
  const stats = { produced: 0, destroyed: false };
  const stream = new Readable({
    highWaterMark: 1,
    read() {
      if (stats.produced >= total) return this.push(null);
      stats.produced++;
      this.push(Buffer.alloc(chunk, stats.produced % 256));
    },
    destroy(err, cb) {
      stats.destroyed = true;
      cb(err);
    },
  });
  return { stream, stats };
}

test('Base64Builder equals one-shot base64 for any chunking', () => {
  const data = randomBytes(10_007);
  for (const size of [1, 2, 3, 4, 5, 7, 64, 1000, 10_007]) {
    const b = new Base64Builder();
    for (let i = 0; i < data.length; i += size) b.push(data.subarray(i, i + size));
    assert.equal(b.finish(), data.toString('base64'), `chunk size ${size}`);
  }
  assert.equal(new Base64Builder().finish(), '');
});

test('readCapped returns base64 under the cap', async () => {
  const data = randomBytes(3 * CHUNK + 5);
  const r = await readCapped(Readable.from([data.subarray(0, CHUNK), data.subarray(CHUNK)]), data.length, { timers: new FakeTimers() });
  assert.equal(r.note, null);
  assert.equal(r.bytes, data.length);
  assert.equal(r.dataB64, data.toString('base64'));
});

test('a stream over the cap is abandoned early, not read in full', async () => {
  const { stream, stats } = lazyStream(100); // 6.4 MB available
  const timers = new FakeTimers();
  const r = await readCapped(stream, 200 * 1024, { timers });
  assert.deepEqual({ dataB64: r.dataB64, note: r.note }, { dataB64: null, note: 'too large' });
  assert.ok(stats.produced <= 6, `pulled ${stats.produced} of 100 chunks`);
  assert.ok(stats.destroyed, 'stream destroyed');
  assert.equal(timers.pending.size, 0, 'timeout timer cleared');
});

test('fetchMedia: declared size over the cap never opens the download', async () => {
  let opened = 0;
  const out = await fetchMedia({
    msg: {},
    media: { kind: 'video', mime: 'video/mp4', fileName: null, size: 50_000_000 },
    download: async () => {
      opened++;
      return lazyStream(1).stream;
    },
    maxBytes: 1000,
    timers: new FakeTimers(),
  });
  assert.equal(opened, 0);
  assert.deepEqual(out, { kind: 'video', mime: 'video/mp4', file_name: null, size: 50_000_000, data_b64: null, note: 'too large' });
});

test('fetchMedia: success fills data and the real size; failures give a note', async () => {
  const timers = new FakeTimers();
  const media = { kind: 'document', mime: 'text/plain', fileName: 'a.txt', size: null };
  const good = await fetchMedia({ msg: {}, media, download: async () => Readable.from([Buffer.from('hello')]), maxBytes: 100, timers });
  assert.deepEqual(good, { kind: 'document', mime: 'text/plain', file_name: 'a.txt', size: 5, data_b64: 'aGVsbG8=', note: null });

  const refused = await fetchMedia({ msg: {}, media, download: async () => Promise.reject(new Error('403 gone')), maxBytes: 100, timers });
  assert.equal(refused.data_b64, null);
  assert.equal(refused.note, 'download failed: 403 gone');

  const broken = Readable.from(
    (async function* () {
      yield Buffer.from('ab');
      throw new Error('reset');
    })(),
  );
  const mid = await fetchMedia({ msg: {}, media, download: async () => broken, maxBytes: 100, timers });
  assert.equal(mid.note, 'download failed: reset');

  const none = await fetchMedia({ msg: {}, media, download: null, maxBytes: 100, timers });
  assert.equal(none.note, 'download unavailable');
});

test('a stalled download times out through the injected timers', async () => {
  const timers = new FakeTimers();
  const stalled = new Readable({ read() {} });
  const p = readCapped(stalled, 1000, { timers, timeoutMs: 5000 });
  assert.deepEqual(timers.delays(), [5000]);
  timers.advance(5000);
  const r = await p;
  assert.equal(r.note, 'download timed out');
  assert.equal(r.dataB64, null);
});

test('outgoing content is chosen by mime type', () => {
  const data = Buffer.from('x');
  const base = { data, fileName: 'f.bin', caption: 'cap' };
  assert.deepEqual(outgoingContent({ ...base, mime: 'image/png' }), {
    content: { image: data, mimetype: 'image/png', caption: 'cap' },
    captionAsText: null,
  });
  assert.deepEqual(outgoingContent({ ...base, mime: 'video/mp4' }), {
    content: { video: data, mimetype: 'video/mp4', caption: 'cap' },
    captionAsText: null,
  });
  assert.deepEqual(outgoingContent({ ...base, mime: 'audio/ogg' }), { content: { audio: data, mimetype: 'audio/ogg' }, captionAsText: 'cap' });
  assert.deepEqual(outgoingContent({ ...base, mime: 'application/pdf' }), {
    content: { document: data, mimetype: 'application/pdf', fileName: 'f.bin', caption: 'cap' },
    captionAsText: null,
  });
  assert.equal(outgoingContent({ data, mime: 'text/plain', fileName: null, caption: null }).content.fileName, 'file');
  assert.equal(outgoingContent({ data, mime: 'image/png', fileName: null, caption: null }).content.caption, undefined);
});

test('the download limiter never runs more than its limit at once', async () => {
  const limit = createLimiter(2);
  let active = 0;
  let peak = 0;
  const gates = [];
  const job = (i) =>
    limit(async () => {
      active++;
      peak = Math.max(peak, active);
      await new Promise((r) => gates.push(r));
      active--;
      return i;
    });
  const jobs = [0, 1, 2, 3, 4].map(job);
  for (let n = 0; n < 6; n++) {
    while (gates.length <= n) await new Promise((r) => setImmediate(r));
    assert.ok(active <= 2, `active ${active}`);
    gates[n]();
    if (n === 0) jobs.push(job(5)); // a late arrival queues too
  }
  assert.deepEqual(await Promise.all(jobs), [0, 1, 2, 3, 4, 5]);
  assert.equal(peak, 2);
});
