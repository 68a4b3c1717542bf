/** The reconnect policy, case by case (pure function, no I/O). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { backoffMs, decide, MAX_DELAY_MS, reasonFor } from '../lib/reconnect.mjs';

test('401 loggedOut clears auth and reconnects at once the first time', () => {
  assert.deepEqual(decide(401, 0), { reconnect: true, delayMs: 0, reason: 'logged_out', clearAuth: true, nextAttempt: 1 });
});

test('401 repeating without an open backs off instead of looping', () => {
  const d = decide(401, 3);
  assert.equal(d.clearAuth, true);
  assert.equal(d.reconnect, true);
  assert.equal(d.delayMs, 4000);
  assert.equal(d.nextAttempt, 4);
});

test('440 connectionReplaced stays down', () => {
  for (const attempt of [0, 1, 7]) {
    assert.deepEqual(decide(440, attempt), { reconnect: false, delayMs: 0, reason: 'replaced', clearAuth: false, nextAttempt: 0 });
  }
});

test('403 forbidden stays down', () => {
  assert.deepEqual(decide(403, 2), { reconnect: false, delayMs: 0, reason: 'forbidden', clearAuth: false, nextAttempt: 0 });
});

test('515 restartRequired reconnects immediately, whatever the attempt, without counting', () => {
  for (const attempt of [0, 4, 20]) {
    assert.deepEqual(decide(515, attempt), {
      reconnect: true,
      delayMs: 0,
      reason: 'restart_required',
      clearAuth: false,
      nextAttempt: attempt,
    });
  }
});

test('other codes back off 1 s doubling to a 60 s cap', () => {
  let attempt = 0;
  const delays = [];
  for (let i = 0; i < 9; i++) {
    const d = decide(408, attempt);
    assert.equal(d.reconnect, true);
    assert.equal(d.clearAuth, false);
    delays.push(d.delayMs);
    attempt = d.nextAttempt;
  }
  assert.deepEqual(delays, [1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000]);
  assert.equal(decide(428, 1000).delayMs, MAX_DELAY_MS);
});

test('no status code at all (plain network error) is connection_lost with backoff', () => {
  assert.deepEqual(decide(null, 0), { reconnect: true, delayMs: 1000, reason: 'connection_lost', clearAuth: false, nextAttempt: 1 });
  assert.equal(decide(undefined, 1).delayMs, 2000);
});

test('reason words for known and unknown codes', () => {
  assert.equal(reasonFor(408), 'timed_out');
  assert.equal(reasonFor(428), 'closed');
  assert.equal(reasonFor(500), 'bad_session');
  assert.equal(reasonFor(503), 'unavailable_service');
  assert.equal(reasonFor(411), 'multidevice_mismatch');
  assert.equal(reasonFor(499), 'status_499');
  assert.equal(decide(499, 0).reason, 'status_499');
});

test('backoffMs tolerates bad attempt values', () => {
  assert.equal(backoffMs(-3), 1000);
  assert.equal(backoffMs(1.5), 1000);
  assert.equal(backoffMs(Number.MAX_SAFE_INTEGER), 60000);
  assert.equal(decide(408, NaN).delayMs, 1000);
});
