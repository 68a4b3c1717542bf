/**
 * The real `baileys` package still has what the bridge uses, so a version
 * bump that renames or moves something fails here, not in production.
 * Never opens a connection.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { openAuthStore } from '../lib/auth-store.mjs';
import { createBaileysLogger, createLogger } from '../lib/logger.mjs';
import { tempDir } from '../test-support/harness.mjs';

test('baileys exports the functions and objects the bridge uses', async () => {
  const b = await import('baileys');
  for (const name of ['makeWASocket', 'downloadMediaMessage', 'initAuthCreds', 'makeCacheableSignalKeyStore']) {
    assert.equal(typeof b[name], 'function', name);
  }
  assert.equal(typeof b.default, 'function', 'default export is makeWASocket');
  assert.equal(typeof b.BufferJSON?.replacer, 'function');
  assert.equal(typeof b.BufferJSON?.reviver, 'function');
  assert.equal(typeof b.proto?.Message?.AppStateSyncKeyData?.fromObject, 'function');
});

test('DisconnectReason codes match the reconnect policy', async () => {
  const { DisconnectReason: R } = await import('baileys');
  assert.equal(R.loggedOut, 401);
  assert.equal(R.forbidden, 403);
  assert.equal(R.connectionReplaced, 440);
  assert.equal(R.restartRequired, 515);
  assert.equal(R.timedOut, 408);
  assert.equal(R.connectionClosed, 428);
});

test('initAuthCreds + BufferJSON round-trip the way the auth store relies on', async () => {
  const { initAuthCreds, BufferJSON } = await import('baileys');
  const creds = initAuthCreds();
  assert.ok(creds.noiseKey?.private && creds.signedIdentityKey?.public, 'key pairs present');
  assert.equal(creds.registered, false);
  const back = JSON.parse(JSON.stringify(creds, BufferJSON.replacer), BufferJSON.reviver);
  assert.ok(Buffer.isBuffer(back.noiseKey.private));
  assert.deepEqual(Buffer.from(back.noiseKey.private), Buffer.from(creds.noiseKey.private));
});

test('makeCacheableSignalKeyStore works over our atomic auth store', async () => {
  const { makeCacheableSignalKeyStore } = await import('baileys');
  const dir = join(await tempDir(), 'auth');
  const log = createLogger({ level: 'silent' });
  const store = await openAuthStore(dir, { log });
  const keys = makeCacheableSignalKeyStore(store.state.keys, createBaileysLogger());
  await keys.set({ session: { 'a.0': Buffer.from('s1') } });
  assert.deepEqual((await keys.get('session', ['a.0']))['a.0'], Buffer.from('s1'));
  const fresh = await openAuthStore(dir, { log });
  assert.deepEqual((await fresh.state.keys.get('session', ['a.0']))['a.0'], Buffer.from('s1'), 'written through to disk');
});

test("Baileys' module-level default logger (silenced by bridge.mjs) is still where we look", async () => {
  const { default: logger } = await import('baileys/lib/Utils/logger.js');
  assert.equal(typeof logger.info, 'function');
  assert.equal(typeof logger.level, 'string');
});

test('the pinned version is the one installed', async () => {
  const own = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8'));
  const installed = JSON.parse(await readFile(new URL('../node_modules/baileys/package.json', import.meta.url), 'utf8'));
  assert.equal(own.dependencies.baileys, installed.version);
});
