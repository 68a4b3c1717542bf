/**
 * bridge.mjs as a real child process, in dry-run mode (never connects), and
 * its argument parsing.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseArgs } from '../lib/args.mjs';
import { tempDir } from '../test-support/harness.mjs';

const BRIDGE = fileURLToPath(new URL('../bridge.mjs', import.meta.url));

/** Spawn the bridge; resolves with stdout lines (parsed), stderr and exit code. */
function run(args, { env = {}, lines = [], keepOpen = false } = {}) {
  const child = spawn(process.execPath, [BRIDGE, ...args], {
    env: { ...process.env, OPENPISTA_BRIDGE_DRY_RUN: '', ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const events = () =>
    out
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l)); // throws on any non-JSON stdout line
  const waitFor = async (pred, ms = 10_000) => {
    const end = Date.now() + ms;
    while (!events().some(pred)) {
      if (Date.now() > end) throw new Error(`timeout; stdout so far:\n${out}\nstderr:\n${err}`);
      await new Promise((r) => setTimeout(r, 10));
    }
    return events().find(pred);
  };
  for (const l of lines) child.stdin.write(`${l}\n`);
  if (!keepOpen) child.stdin.end();
  return { child, exited, events, waitFor, stderr: () => err };
}

test('dry run: ready, status "starting", errors for bad lines, exit 0 on stdin close', async () => {
  const dir = await tempDir();
  const p = run(['--session-dir', dir, '--dry-run'], { keepOpen: true });
  assert.deepEqual(await p.waitFor((e) => e.type === 'ready'), { type: 'ready' });
  p.child.stdin.write('{"cmd":"status","ref":"s1"}\n');
  assert.deepEqual(await p.waitFor((e) => e.ref === 's1'), { type: 'status', ref: 's1', state: 'starting', jid: null, registered: false });
  p.child.stdin.write('oops\n{"cmd":"send","ref":"x","to":"1@s.whatsapp.net","text":"hi"}\n');
  assert.match((await p.waitFor((e) => e.ref === 'x')).message, /^send: no connection/);
  assert.match(p.events().find((e) => e.type === 'error' && e.ref === null).message, /^stdin line 2: not JSON/);
  p.child.stdin.end();
  assert.deepEqual(await p.exited, { code: 0, signal: null });
  assert.equal(p.events()[0].type, 'ready', 'ready is the first line');
  assert.ok((await stat(join(dir, 'auth'))).isDirectory(), 'auth folder created under the session dir');
  for (const line of p.stderr().split('\n').filter(Boolean)) JSON.parse(line); // stderr is JSON lines too
});

test('dry run via environment, session dir from WHATSAPP_SESSION_DIR', async () => {
  const dir = await tempDir();
  const p = run([], { env: { WHATSAPP_SESSION_DIR: dir, OPENPISTA_BRIDGE_DRY_RUN: '1' }, lines: ['{"cmd":"status","ref":"e"}'] });
  assert.deepEqual(await p.exited, { code: 0, signal: null });
  assert.deepEqual(
    p.events().map((e) => [e.type, e.state ?? null]),
    [
      ['ready', null],
      ['status', 'starting'],
    ],
  );
});

test('SIGTERM: graceful exit 0', async () => {
  const dir = await tempDir();
  const p = run(['--session-dir', dir, '--dry-run'], { keepOpen: true });
  await p.waitFor((e) => e.type === 'ready');
  p.child.kill('SIGTERM');
  assert.deepEqual(await p.exited, { code: 0, signal: null });
});

test('missing session dir: error line on stdout, usage on stderr, exit 2', async () => {
  const p = run([], { env: { WHATSAPP_SESSION_DIR: '' } });
  assert.equal((await p.exited).code, 2);
  assert.match(p.events()[0].message, /^args: --session-dir/);
  assert.match(p.stderr(), /usage: node bridge\.mjs/);
});

test('parseArgs: flags, = form, env fallbacks, validation', () => {
  assert.deepEqual(parseArgs(['--session-dir', '/s'], {}), {
    help: false,
    sessionDir: '/s',
    maxMediaBytes: 5242880,
    dryRun: false,
    logLevel: 'info',
    baileysLogLevel: 'silent',
  });
  const o = parseArgs(['--session-dir=/a', '--max-media-bytes', '1000', '--dry-run', '--log-level=warn', '--baileys-log-level', 'debug'], {});
  assert.deepEqual([o.sessionDir, o.maxMediaBytes, o.dryRun, o.logLevel, o.baileysLogLevel], ['/a', 1000, true, 'warn', 'debug']);
  const e = parseArgs([], { WHATSAPP_SESSION_DIR: '/env', OPENPISTA_BRIDGE_DRY_RUN: 'true', OPENPISTA_BRIDGE_LOG_LEVEL: 'error' });
  assert.deepEqual([e.sessionDir, e.dryRun, e.logLevel], ['/env', true, 'error']);
  assert.equal(parseArgs(['--session-dir', '/cli'], { WHATSAPP_SESSION_DIR: '/env' }).sessionDir, '/cli');
  assert.deepEqual(parseArgs(['--help'], {}), { help: true });
  assert.throws(() => parseArgs([], {}), /--session-dir .* is required/);
  assert.throws(() => parseArgs(['--session-dir'], {}), /needs a value/);
  assert.throws(() => parseArgs(['--session-dir', '/s', '--max-media-bytes', '-5'], {}), /positive integer/);
  assert.throws(() => parseArgs(['--session-dir', '/s', '--max-media-bytes', '1e6'], {}), /positive integer/);
  assert.throws(() => parseArgs(['--session-dir', '/s', '--log-level', 'loud'], {}), /--log-level must be one of/);
  assert.throws(() => parseArgs(['--session-dir', '/s', '--bogus'], {}), /unknown argument "--bogus"/);
});
