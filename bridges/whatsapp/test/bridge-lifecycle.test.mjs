/** Reconnect decisions applied by the bridge, and shutdown. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { listDir, startBridge, tick, until } from '../test-support/harness.mjs';

const paired = { me: { id: '15550001111:7@s.whatsapp.net' }, account: { details: Buffer.from('x') } };

test('401 from the server: auth cleared, fresh unpaired socket at once, a new QR', async () => {
  const h = await startBridge();
  h.sock.ev.emit('creds.update', paired);
  await h.sock.config.auth.keys.set({ session: { s: Buffer.from('k') }, 'pre-key': { 1: { public: Buffer.alloc(1) } } });
  h.sock.open();
  await h.nth('connected');
  h.sock.close(401);
  assert.deepEqual(await h.nth('disconnected'), { type: 'disconnected', reason: 'logged_out', code: 401, reconnect: true, delay_ms: 0 });
  assert.equal(h.sockets.length, 2, 'new socket without waiting for a timer');
  assert.deepEqual(await listDir(h.authDir), [], 'auth folder emptied');
  assert.equal(h.sock.config.auth.creds.me, undefined);
  assert.equal(h.sock.config.auth.creds.account, undefined);
  assert.deepEqual(await h.sock.config.auth.keys.get('session', ['s']), {}, 'old keys gone');
  h.sock.qr('2@new');
  assert.equal((await h.nth('qr')).qr, '2@new');
  await h.stop();
});

test('401 again without an open in between backs off (no tight loop)', async () => {
  const h = await startBridge();
  h.sock.close(401);
  await h.nth('disconnected');
  h.sock.close(401);
  const d = await h.nth('disconnected', 2);
  assert.equal(d.delay_ms, 1000);
  assert.equal(h.sockets.length, 2);
  h.timers.advance(1000);
  assert.equal(h.sockets.length, 3);
  await h.stop();
});

for (const [code, reason] of [
  [440, 'replaced'],
  [403, 'forbidden'],
]) {
  test(`${code} ${reason}: stays down, no reconnect loop`, async () => {
    const h = await startBridge();
    h.sock.ev.emit('creds.update', paired);
    h.sock.open();
    h.sock.close(code);
    assert.deepEqual(await h.nth('disconnected'), { type: 'disconnected', reason, code, reconnect: false, delay_ms: 0 });
    assert.equal(h.timers.pending.size, 0, 'no retry scheduled');
    h.timers.advance(3_600_000);
    await tick();
    assert.equal(h.sockets.length, 1);
    await until(async () => (await listDir(h.authDir)).includes('creds.json'), 'credentials kept');
    await h.stop();
  });
}

test('515 restart required: reconnects immediately with the same credentials', async () => {
  const h = await startBridge();
  const first = h.sock;
  first.ev.emit('creds.update', paired);
  first.close(515);
  assert.deepEqual(await h.nth('disconnected'), { type: 'disconnected', reason: 'restart_required', code: 515, reconnect: true, delay_ms: 0 });
  assert.equal(h.sockets.length, 2);
  assert.equal(h.timers.pending.size, 0);
  assert.equal(h.sock.config.auth.creds, first.config.auth.creds, 'same auth state');
  await h.stop();
});

test('other closes back off 1 s doubling to 60 s, reset after an open', async () => {
  const h = await startBridge();
  const delays = [];
  for (let i = 1; i <= 8; i++) {
    h.sock.close(i % 2 ? 408 : 428);
    const d = await h.nth('disconnected', i);
    assert.equal(d.reconnect, true);
    delays.push(d.delay_ms);
    assert.deepEqual(h.timers.delays(), [d.delay_ms], 'one timer for the retry');
    h.timers.advance(d.delay_ms - 1);
    assert.equal(h.sockets.length, i, 'not before the delay');
    h.timers.advance(1);
    assert.equal(h.sockets.length, i + 1, 'right at the delay');
  }
  assert.deepEqual(delays, [1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000]);
  assert.deepEqual(
    h.of('disconnected').slice(0, 2).map((d) => [d.reason, d.code]),
    [
      ['timed_out', 408],
      ['closed', 428],
    ],
  );
  h.sock.open();
  await h.nth('connected');
  h.sock.close(408);
  assert.equal((await h.nth('disconnected', 9)).delay_ms, 1000, 'backoff reset by the open');
  await h.stop();
});

test('a close without a status code is connection_lost', async () => {
  const h = await startBridge();
  h.sock.close(null);
  assert.deepEqual(await h.nth('disconnected'), { type: 'disconnected', reason: 'connection_lost', code: null, reconnect: true, delay_ms: 1000 });
  await h.stop();
});

test('a socket factory that throws is retried with backoff', async () => {
  let calls = 0;
  const h = await startBridge({
    makeSocket: () => {
      calls++;
      throw new Error('boom');
    },
  });
  assert.equal((await h.nth('disconnected')).delay_ms, 1000);
  h.timers.advance(1000);
  assert.equal((await h.nth('disconnected', 2)).delay_ms, 2000);
  assert.equal(calls, 2);
  await h.stop();
});

test('stdin close: pending sends finish, socket ended, auth flushed, exit 0', async () => {
  const h = await startBridge();
  h.sock.open();
  h.sock.ev.emit('creds.update', { me: { id: '15550001111:7@s.whatsapp.net' }, account: { details: Buffer.from('x') } });
  h.send({ cmd: 'send', ref: 'last', to: '1@s.whatsapp.net', text: 'bye' });
  assert.equal(await h.stop(), 0);
  assert.equal(h.of('sent').length, 1, 'queued send still answered');
  assert.equal(h.sock.callsOf('end').length, 1, 'socket ended');
  assert.equal((await h.readCreds()).me.id, '15550001111:7@s.whatsapp.net');
  assert.equal(h.of('disconnected').length, 0, 'our own close is not reported as a disconnect');
  assert.equal(h.sockets.length, 1, 'no reconnect after shutdown');
});

test('shutdown (SIGTERM) cancels a pending reconnect and exits 0', async () => {
  const h = await startBridge();
  h.sock.close(408);
  await h.nth('disconnected');
  assert.equal(h.timers.pending.size, 1);
  assert.equal(await h.bridge.shutdown('SIGTERM'), 0);
  assert.equal(h.timers.pending.size, 0);
  h.timers.advance(120_000);
  assert.equal(h.sockets.length, 1);
});

test('dry run: never creates a socket, answers status with "starting"', async () => {
  const h = await startBridge({
    dryRun: true,
    makeSocket: () => {
      throw new Error('must not be called');
    },
  });
  h.send({ cmd: 'status', ref: 's' });
  assert.deepEqual(await h.reply('s'), { type: 'status', ref: 's', state: 'starting', jid: null, registered: false });
  h.send({ cmd: 'send', ref: 'x', to: '1@s.whatsapp.net', text: 'hi' });
  assert.match((await h.reply('x')).message, /^send: no connection/);
  assert.equal(await h.stop(), 0);
  assert.equal(h.of('disconnected').length, 0);
});
