/** Command-line parsing and validation (pure). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseCommand } from '../lib/commands.mjs';

const ok = (obj, n = 1) => {
  const r = parseCommand(JSON.stringify(obj), n);
  assert.ok(r.command, `expected a command, got ${JSON.stringify(r.error)}`);
  return r.command;
};
const bad = (line, n = 1) => {
  const r = parseCommand(typeof line === 'string' ? line : JSON.stringify(line), n);
  assert.ok(r.error, `expected an error for ${JSON.stringify(line)}`);
  return r.error;
};

test('valid commands are normalised', () => {
  assert.deepEqual(ok({ cmd: 'send', ref: 'r1', to: '15551234567@s.whatsapp.net', text: 'hi' }), {
    cmd: 'send',
    ref: 'r1',
    to: '15551234567@s.whatsapp.net',
    text: 'hi',
  });
  const m = ok({ cmd: 'send_media', ref: 'r2', to: '1203630@g.us', mime: 'Image/PNG', file_name: 'x.png', data_b64: 'aGVsbG8=', caption: 'c' });
  assert.equal(m.mime, 'image/png');
  assert.equal(m.fileName, 'x.png');
  assert.equal(m.caption, 'c');
  assert.equal(m.data.toString(), 'hello');
  const m2 = ok({ cmd: 'send_media', ref: 'r2', to: '1@lid', mime: 'application/pdf', data_b64: 'AAAA' });
  assert.equal(m2.fileName, null);
  assert.equal(m2.caption, null);
  assert.deepEqual(ok({ cmd: 'request_pairing_code', ref: 'r3', phone: '15551234567' }), {
    cmd: 'request_pairing_code',
    ref: 'r3',
    phone: '15551234567',
  });
  assert.deepEqual(ok({ cmd: 'logout', ref: 'r4' }), { cmd: 'logout', ref: 'r4' });
  assert.deepEqual(ok({ cmd: 'status', ref: 'r5', extra: true }), { cmd: 'status', ref: 'r5' });
});

test('not JSON names the line number', () => {
  const e = bad('{"cmd":"send",', 3);
  assert.equal(e.ref, null);
  assert.match(e.message, /^stdin line 3: not JSON: /);
});

test('non-object JSON is rejected', () => {
  assert.match(bad('[1,2]', 4).message, /^stdin line 4: expected a JSON object/);
  assert.match(bad('42', 5).message, /^stdin line 5: expected a JSON object/);
  assert.match(bad('null', 6).message, /^stdin line 6: expected a JSON object/);
});

test('missing or bad ref', () => {
  assert.match(bad({ cmd: 'status' }, 2).message, /^stdin line 2: status: missing field "ref"/);
  const e = bad({ cmd: 'status', ref: 7 }, 2);
  assert.equal(e.ref, null);
  assert.match(e.message, /field "ref" must be a string/);
});

test('missing and unknown cmd keep the ref', () => {
  const e = bad({ ref: 'x' }, 9);
  assert.equal(e.ref, 'x');
  assert.match(e.message, /^stdin line 9: command: missing field "cmd"/);
  const u = bad({ ref: 'y', cmd: 'dance' }, 10);
  assert.equal(u.ref, 'y');
  assert.match(u.message, /^stdin line 10: dance: unknown cmd "dance"/);
});

test('send field checks', () => {
  assert.match(bad({ cmd: 'send', ref: 'a', text: 'hi' }).message, /send: missing field "to"/);
  assert.match(bad({ cmd: 'send', ref: 'a', to: '15551234567', text: 'hi' }).message, /field "to" is not a jid/);
  assert.match(bad({ cmd: 'send', ref: 'a', to: 'a b@s.whatsapp.net', text: 'hi' }).message, /not a jid/);
  assert.match(bad({ cmd: 'send', ref: 'a', to: '1@s.whatsapp.net' }).message, /missing field "text"/);
  assert.match(bad({ cmd: 'send', ref: 'a', to: '1@s.whatsapp.net', text: 5 }).message, /field "text" must be a string/);
  assert.match(bad({ cmd: 'send', ref: 'a', to: '1@s.whatsapp.net', text: '' }).message, /field "text" must not be empty/);
});

test('send_media field checks', () => {
  const base = { cmd: 'send_media', ref: 'm', to: '1@s.whatsapp.net', mime: 'image/png', data_b64: 'AAAA' };
  assert.match(bad({ ...base, data_b64: 'not base64!' }).message, /"data_b64" is not valid base64/);
  assert.match(bad({ ...base, data_b64: 'AAA' }).message, /"data_b64" is not valid base64/);
  assert.match(bad({ ...base, data_b64: undefined }).message, /missing field "data_b64"/);
  assert.match(bad({ ...base, mime: 'png' }).message, /"mime" is not a type\/subtype/);
  assert.match(bad({ ...base, caption: 3 }).message, /"caption" must be a string/);
  assert.match(bad({ ...base, file_name: {} }).message, /"file_name" must be a string/);
});

test('pairing phone must be digits only', () => {
  for (const phone of ['+15551234567', '1555 123 4567', '123', '1234567890123456', 'abcdefg']) {
    assert.match(bad({ cmd: 'request_pairing_code', ref: 'p', phone }).message, /"phone" must be 6-15 digits/, phone);
  }
  assert.match(bad({ cmd: 'request_pairing_code', ref: 'p' }).message, /missing field "phone"/);
});
