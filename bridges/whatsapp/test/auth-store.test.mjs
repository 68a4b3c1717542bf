/** The atomic auth-state store, on real temp folders. */
import assert from 'node:assert/strict';
import * as fsp from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { createJsonFiles } from '../lib/atomic-json.mjs';
import { keyFileName, openAuthStore } from '../lib/auth-store.mjs';
import { createLogger } from '../lib/logger.mjs';
import { listDir, tempDir } from '../test-support/harness.mjs';

function capture() {
  const lines = [];
  return { lines, log: createLogger({ level: 'debug', stream: { write: (s) => lines.push(JSON.parse(s)) } }) };
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** fs/promises with hooks around file-handle writes and rename. */
function hookedFs({ beforeWrite, rename, unlink } = {}) {
  const calls = [];
  let writes = 0;
  return {
    calls,
    fs: {
      ...fsp,
      async open(path, flags, mode) {
        const fh = await fsp.open(path, flags, mode);
        calls.push(['open', path, flags]);
        return {
          async writeFile(data, enc) {
            const n = writes++;
            await beforeWrite?.(n, path);
            calls.push(['write', path]);
            return fh.writeFile(data, enc);
          },
          async sync() {
            calls.push(['sync', path]);
            return fh.sync();
          },
          close: () => fh.close(),
        };
      },
      async rename(from, to) {
        calls.push(['rename', from, to]);
        return rename ? rename(from, to) : fsp.rename(from, to);
      },
      unlink: unlink ?? fsp.unlink,
    },
  };
}

test('credentials and keys round-trip with Buffers (BufferJSON)', async () => {
  const dir = join(await tempDir(), 'auth');
  const { log } = capture();
  const a = await openAuthStore(dir, { log });
  assert.ok(Buffer.isBuffer(a.state.creds.noiseKey.public), 'fresh creds from initAuthCreds');
  assert.equal(a.isRegistered(), false);
  a.state.creds.me = { id: '15550001111:2@s.whatsapp.net' };
  a.state.creds.account = { details: Buffer.from('adv') };
  await a.saveCreds();
  const key = Buffer.from([1, 2, 3, 250]);
  await a.state.keys.set({
    session: { '15550001111.0': key },
    'pre-key': { 7: { public: Buffer.alloc(32, 1), private: Buffer.alloc(32, 2) } },
    'app-state-sync-key': { 'AAAA/b:c': { keyData: Buffer.from('kd'), timestamp: 5 } },
  });

  const b = await openAuthStore(dir, { log });
  assert.deepEqual(b.state.creds.noiseKey.private, a.state.creds.noiseKey.private);
  assert.equal(b.state.creds.me.id, '15550001111:2@s.whatsapp.net');
  assert.equal(b.isRegistered(), true);
  const got = await b.state.keys.get('session', ['15550001111.0', 'missing']);
  assert.deepEqual(Object.keys(got), ['15550001111.0']);
  assert.ok(Buffer.isBuffer(got['15550001111.0']));
  assert.deepEqual(got['15550001111.0'], key);
  assert.deepEqual((await b.state.keys.get('pre-key', ['7']))['7'].private, Buffer.alloc(32, 2));
  const sync = (await b.state.keys.get('app-state-sync-key', ['AAAA/b:c']))['AAAA/b:c'];
  assert.equal(sync.constructor.name, 'AppStateSyncKeyData', 'revived as a proto message');
  assert.deepEqual(Buffer.from(sync.keyData), Buffer.from('kd'));

  await b.state.keys.set({ session: { '15550001111.0': null } });
  assert.deepEqual(await b.state.keys.get('session', ['15550001111.0']), {});
  assert.ok(!(await listDir(dir)).includes(keyFileName('session', '15550001111.0')));
  assert.ok((await listDir(dir)).includes('app-state-sync-key-AAAA%2fb%3ac.json'), 'unsafe characters encoded');
});

test('every write goes temp file → fsync → rename in the same folder', async () => {
  const dir = await tempDir();
  const { log } = capture();
  const hooked = hookedFs();
  const files = createJsonFiles({ dir, log, fs: hooked.fs });
  await files.write('k.json', { v: 1 });
  const steps = hooked.calls.filter(([op, p]) => op !== 'open' || p !== dir).map(([op]) => op);
  assert.deepEqual(steps.slice(0, 4), ['open', 'write', 'sync', 'rename']);
  const [, from, to] = hooked.calls.find(([op]) => op === 'rename');
  assert.equal(dirname(from), dir);
  assert.equal(to, join(dir, 'k.json'));
  assert.notEqual(from, to);
  assert.ok(hooked.calls.some(([op, p]) => op === 'open' && p === dir), 'folder fsynced after rename');
});

test('a crash between temp write and rename leaves the old file intact', async () => {
  const dir = join(await tempDir(), 'auth');
  const { log, lines } = capture();
  const a = await openAuthStore(dir, { log });
  a.state.creds.me = { id: 'old@s.whatsapp.net' };
  await a.saveCreds();
  const before = await fsp.readFile(join(dir, 'creds.json'), 'utf8');

  // The "crash": rename never happens and the process gets no chance to clean up.
  const crashing = hookedFs({
    rename: async () => {
      throw new Error('simulated crash before rename');
    },
    unlink: async () => {},
  });
  const b = await openAuthStore(dir, { log, fs: crashing.fs });
  b.state.creds.me = { id: 'new@s.whatsapp.net' };
  await b.saveCreds();
  assert.ok(lines.some((l) => l.level === 'error' && /simulated crash/.test(l.msg)), 'failure logged');
  assert.equal(await fsp.readFile(join(dir, 'creds.json'), 'utf8'), before, 'old file byte-identical');
  assert.ok((await listDir(dir)).some((f) => f.endsWith('.tmp')), 'the half-done temp file is still there');

  const c = await openAuthStore(dir, { log });
  assert.equal(c.state.creds.me.id, 'old@s.whatsapp.net');
  assert.deepEqual(await listDir(dir), ['creds.json'], 'leftover temp swept on open');
});

test('a corrupt file is treated as missing (and logged)', async () => {
  const dir = join(await tempDir(), 'auth');
  await fsp.mkdir(dir, { recursive: true });
  await fsp.writeFile(join(dir, 'creds.json'), '{"noiseKey": {"private": {"type":"Buf');
  await fsp.writeFile(join(dir, keyFileName('session', 'x')), 'not json at all');
  const { log, lines } = capture();
  const s = await openAuthStore(dir, { log });
  assert.ok(Buffer.isBuffer(s.state.creds.noiseKey.private), 'fresh credentials instead');
  assert.equal(s.isRegistered(), false);
  assert.deepEqual(await s.state.keys.get('session', ['x']), {});
  const warned = lines.filter((l) => l.level === 'warn' && /corrupt/.test(l.msg)).map((l) => l.msg);
  assert.equal(warned.length, 2, JSON.stringify(warned));
  assert.match(warned[0], /creds\.json is corrupt/);
});

test('concurrent writes of one key end with the last value', async () => {
  const dir = join(await tempDir(), 'auth');
  const { log } = capture();
  // Earlier writes are slower, so without a per-file queue the first write would land last.
  const slow = hookedFs({ beforeWrite: (n) => sleep(Math.max(0, 40 - n * 2)) });
  const s = await openAuthStore(dir, { log, fs: slow.fs });
  await Promise.all(Array.from({ length: 20 }, (_, i) => s.state.keys.set({ 'sender-key': { 'g@g.us::a::0': { i } } })));
  await s.flush();
  const fresh = await openAuthStore(dir, { log });
  assert.deepEqual(await fresh.state.keys.get('sender-key', ['g@g.us::a::0']), { 'g@g.us::a::0': { i: 19 } });
  assert.ok(!(await listDir(dir)).some((f) => f.endsWith('.tmp')), 'no temp files left');
});

test('writes of one file never overlap, even without coalescing', async () => {
  const dir = await tempDir();
  const { log } = capture();
  let inFlight = 0;
  let peak = 0;
  const hooked = hookedFs({
    beforeWrite: async () => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      await sleep(5);
      inFlight--;
    },
  });
  const files = createJsonFiles({ dir, log, fs: hooked.fs });
  for (let i = 0; i < 5; i++) {
    files.write('a.json', { i });
    files.write('b.json', { i });
    await sleep(1); // let each write start, so coalescing cannot skip it
  }
  await files.flush();
  assert.equal(peak, 2, 'a.json and b.json in parallel, never two of the same file');
  assert.deepEqual(await files.read('a.json'), { i: 4 });
  assert.deepEqual(await files.read('b.json'), { i: 4 });
});

test('clear deletes everything and ignores writes from the dying socket', async () => {
  const dir = join(await tempDir(), 'auth');
  const { log } = capture();
  const s = await openAuthStore(dir, { log });
  await s.saveCreds();
  await s.state.keys.set({ session: { a: Buffer.from('x') } });
  assert.equal((await listDir(dir)).length, 2);
  await s.clear();
  assert.deepEqual(await listDir(dir), []);
  await s.saveCreds();
  await s.state.keys.set({ session: { b: Buffer.from('y') } });
  assert.deepEqual(await listDir(dir), [], 'late writes dropped');
});
