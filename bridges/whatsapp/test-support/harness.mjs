/**
 * Test support (kept outside test/ because `node --test test/` runs every .mjs
 * under test/ as a test file).
 *
 * Test harness: runs createBridge against FakeSocket, a PassThrough stdin,
 * a capturing stdout, fake timers and a real temp session folder.
 */
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { createBridge } from '../lib/bridge-core.mjs';
import { createLogger } from '../lib/logger.mjs';
import { FakeSocket } from './fake-socket.mjs';

/** Manually driven timers: nothing fires until advance(). */
export class FakeTimers {
  now = 0;
  #seq = 0;
  /** @type {Map<number, {fn: Function, at: number}>} */
  pending = new Map();
  setTimeout = (fn, ms) => {
    const id = ++this.#seq;
    this.pending.set(id, { fn, at: this.now + (ms ?? 0) });
    return id;
  };
  clearTimeout = (id) => {
    this.pending.delete(id);
  };
  /** Delays of the timers now pending, relative to now, ascending. */
  delays() {
    return [...this.pending.values()].map((t) => t.at - this.now).sort((a, b) => a - b);
  }
  /** Move the clock forward, firing every timer that comes due. */
  advance(ms) {
    const until = this.now + ms;
    for (;;) {
      const due = [...this.pending.entries()].filter(([, t]) => t.at <= until).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      this.pending.delete(due[0]);
      this.now = due[1].at;
      due[1].fn();
    }
    this.now = until;
  }
}

export const tick = () => new Promise((r) => setImmediate(r));

/** Poll (real time) until `pred()` (sync or async) is truthy; fail after `ms`. */
export async function until(pred, what = 'condition', ms = 3000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await pred();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

export async function tempDir(prefix = 'wa-bridge-test-') {
  return mkdtemp(join(tmpdir(), prefix));
}

/** Files in a folder (empty list when missing). */
export async function listDir(dir) {
  return readdir(dir).catch(() => []);
}

/**
 * Start a bridge wired to fakes.
 * @param {object} [opts] extra createBridge options (downloadMedia, maxMediaBytes, dryRun, ...)
 */
export async function startBridge(opts = {}) {
  const dir = opts.dir ?? (await tempDir());
  const authDir = join(dir, 'auth');
  const input = new PassThrough();
  const events = [];
  const logs = [];
  const sockets = [];
  const timers = new FakeTimers();
  const output = {
    buffer: '',
    write(s) {
      this.buffer += s;
      let nl;
      while ((nl = this.buffer.indexOf('\n')) !== -1) {
        events.push(JSON.parse(this.buffer.slice(0, nl)));
        this.buffer = this.buffer.slice(nl + 1);
      }
      return true;
    },
  };
  const log = createLogger({ level: 'debug', stream: { write: (s) => logs.push(JSON.parse(s)) } });
  const bridge = createBridge({
    makeSocket: (config) => {
      const s = new FakeSocket(config);
      sockets.push(s);
      return s;
    },
    authDir,
    input,
    output,
    log,
    timers,
    ...opts,
  });
  const exit = bridge.start();
  await until(() => events.some((e) => e.type === 'ready'), 'ready');

  const h = {
    dir,
    authDir,
    input,
    events,
    logs,
    sockets,
    timers,
    bridge,
    exit,
    /** The most recent socket. */
    get sock() {
      return sockets.at(-1);
    },
    /** Write one command line (object → JSON). */
    send(cmd) {
      input.write(`${typeof cmd === 'string' ? cmd : JSON.stringify(cmd)}\n`);
    },
    /** Events of one type seen so far. */
    of(type) {
      return events.filter((e) => e.type === type);
    },
    /** Wait until there are at least `n` events of `type`; returns the n-th. */
    async nth(type, n = 1) {
      await until(() => h.of(type).length >= n, `${n}x ${type} event`);
      return h.of(type)[n - 1];
    },
    /** Wait for the event answering `ref`. */
    async reply(ref) {
      return until(() => events.find((e) => e.ref === ref), `reply to ${ref}`);
    },
    async readCreds() {
      return JSON.parse(await readFile(join(authDir, 'creds.json'), 'utf8'));
    },
    /** Close stdin and wait for the exit code. */
    async stop() {
      input.end();
      return exit;
    },
  };
  return h;
}
