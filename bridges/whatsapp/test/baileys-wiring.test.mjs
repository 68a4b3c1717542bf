/**
 * A real Baileys socket, built by the bridge's own factory, pointed at a
 * loopback port where nothing listens: proves makeWASocket accepts our auth
 * store, logger and options, and that its close reaches the reconnect
 * policy. Never talks to WhatsApp.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { test } from 'node:test';
import { BROWSER, createSocketFactory } from '../lib/baileys-socket.mjs';
import { createBaileysLogger } from '../lib/logger.mjs';
import { startBridge } from '../test-support/harness.mjs';

/** A loopback port that was free a moment ago (connections are refused). */
async function deadPort() {
  const server = createServer();
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address();
  await new Promise((r) => server.close(r));
  return port;
}

test('real makeWASocket: connection refused → disconnected with backoff, clean shutdown', async () => {
  const port = await deadPort();
  const factory = createSocketFactory({ logger: createBaileysLogger('silent'), wsUrl: `ws://127.0.0.1:${port}/ws/chat` });
  const made = [];
  const h = await startBridge({
    makeSocket: (config) => {
      const s = factory(config);
      made.push(s);
      return s;
    },
  });
  assert.equal(made.length, 1);
  for (const fn of ['sendMessage', 'requestPairingCode', 'logout', 'end', 'updateMediaMessage']) {
    assert.equal(typeof made[0][fn], 'function', fn);
  }
  assert.equal(typeof made[0].ev.on, 'function');
  const d = await h.nth('disconnected');
  assert.equal(d.reconnect, true);
  assert.equal(d.delay_ms, 1000, 'backoff, not an immediate retry');
  assert.deepEqual(h.timers.delays(), [1000]);
  assert.equal(await h.stop(), 0);
  assert.equal(made.length, 1, 'no retry after shutdown');
  assert.deepEqual(BROWSER, ['openpista', 'Chrome', '1.0']);
});
