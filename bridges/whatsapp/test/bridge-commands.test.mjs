/** stdin commands in → socket calls and reply lines out. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { listDir, startBridge, until } from '../test-support/harness.mjs';

const JID = '15552223333@s.whatsapp.net';

test('send → sendMessage, answered by sent with the message id', async () => {
  const h = await startBridge();
  h.sock.open();
  h.send({ cmd: 'send', ref: 'r1', to: JID, text: 'hi' });
  assert.deepEqual(await h.reply('r1'), { type: 'sent', ref: 'r1', id: '3EB01' });
  assert.deepEqual(h.sock.callsOf('sendMessage'), [{ fn: 'sendMessage', jid: JID, content: { text: 'hi' } }]);
  const remembered = await h.sock.config.getMessage({ id: '3EB01' });
  assert.deepEqual(remembered, { conversation: 'hi' }, 'kept for Baileys retry requests');
  await h.stop();
});

test('send while not connected → error with the ref, nothing sent', async () => {
  const h = await startBridge();
  h.sock.qr();
  h.send({ cmd: 'send', ref: 'r1', to: JID, text: 'hi' });
  const e = await h.reply('r1');
  assert.equal(e.type, 'error');
  assert.match(e.message, /^send: no connection/);
  assert.equal(h.sock.callsOf('sendMessage').length, 0);
  await h.stop();
});

test('a failing send is reported with its ref and the bridge keeps going', async () => {
  const h = await startBridge();
  h.sock.open();
  h.sock.sendError = new Error('not-acceptable');
  h.send({ cmd: 'send', ref: 'bad', to: JID, text: 'x' });
  assert.deepEqual(await h.reply('bad'), { type: 'error', ref: 'bad', message: 'send: not-acceptable' });
  h.sock.sendError = null;
  h.send({ cmd: 'send', ref: 'good', to: JID, text: 'y' });
  assert.equal((await h.reply('good')).type, 'sent');
  await h.stop();
});

test('send_media maps mime to image / audio / video / document', async () => {
  const h = await startBridge();
  h.sock.open();
  const data = Buffer.from('media-bytes');
  const b64 = data.toString('base64');
  const cmd = (ref, mime, extra = {}) => h.send({ cmd: 'send_media', ref, to: JID, mime, data_b64: b64, ...extra });
  cmd('i', 'image/png', { caption: 'pic', file_name: 'x.png' });
  cmd('a', 'audio/ogg', { caption: 'listen' });
  cmd('v', 'video/mp4', { caption: 'clip' });
  cmd('d', 'application/pdf', { file_name: 'r.pdf', caption: 'doc' });
  for (const ref of ['i', 'a', 'v', 'd']) assert.equal((await h.reply(ref)).type, 'sent', ref);
  const contents = h.sock.callsOf('sendMessage').map((c) => c.content);
  assert.deepEqual(contents, [
    { image: data, mimetype: 'image/png', caption: 'pic' },
    { audio: data, mimetype: 'audio/ogg' },
    { text: 'listen' }, // audio carries no caption: sent as a text right after
    { video: data, mimetype: 'video/mp4', caption: 'clip' },
    { document: data, mimetype: 'application/pdf', fileName: 'r.pdf', caption: 'doc' },
  ]);
  assert.equal(h.of('sent').find((e) => e.ref === 'a').id, '3EB02', 'audio reply names the audio message');
  await h.stop();
});

test('request_pairing_code after a qr → pairing_code', async () => {
  const h = await startBridge();
  h.send({ cmd: 'request_pairing_code', ref: 'early', phone: '15551234567' });
  assert.match((await h.reply('early')).message, /not ready yet/);
  h.sock.qr();
  h.send({ cmd: 'request_pairing_code', ref: 'p', phone: '15551234567' });
  assert.deepEqual(await h.reply('p'), { type: 'pairing_code', ref: 'p', code: 'ABCD1234' });
  assert.deepEqual(h.sock.callsOf('requestPairingCode'), [{ fn: 'requestPairingCode', phone: '15551234567' }]);
  await h.stop();
});

test('request_pairing_code when already paired is refused', async () => {
  const h = await startBridge();
  h.sock.ev.emit('creds.update', { me: { id: '1@s.whatsapp.net' }, account: { details: Buffer.from('x') } });
  h.sock.qr();
  h.send({ cmd: 'request_pairing_code', ref: 'p', phone: '15551234567' });
  assert.match((await h.reply('p')).message, /already paired/);
  assert.equal(h.sock.callsOf('requestPairingCode').length, 0);
  await h.stop();
});

test('status reports state, jid and registration', async () => {
  const h = await startBridge();
  h.send({ cmd: 'status', ref: 's1' });
  assert.deepEqual(await h.reply('s1'), { type: 'status', ref: 's1', state: 'connecting', jid: null, registered: false });
  h.sock.qr();
  h.send({ cmd: 'status', ref: 's2' });
  assert.equal((await h.reply('s2')).state, 'qr');
  h.sock.ev.emit('creds.update', { me: { id: '15550001111:7@s.whatsapp.net' }, account: { details: Buffer.from('x') } });
  h.sock.open();
  h.send({ cmd: 'status', ref: 's3' });
  assert.deepEqual(await h.reply('s3'), { type: 'status', ref: 's3', state: 'open', jid: '15550001111@s.whatsapp.net', registered: true });
  h.sock.close(440);
  await h.nth('disconnected');
  h.send({ cmd: 'status', ref: 's4' });
  assert.deepEqual(await h.reply('s4'), { type: 'status', ref: 's4', state: 'closed', jid: '15550001111@s.whatsapp.net', registered: true });
  await h.stop();
});

test('logout when open: unlinks, clears auth, starts a fresh unpaired socket', async () => {
  const h = await startBridge();
  const first = h.sock;
  first.ev.emit('creds.update', { me: { id: '15550001111:7@s.whatsapp.net' }, account: { details: Buffer.from('x') } });
  first.open();
  await h.nth('connected');
  await until(async () => (await listDir(h.authDir)).includes('creds.json'), 'creds on disk');
  await first.config.auth.keys.set({ session: { a: Buffer.from('k') } });
  h.send({ cmd: 'logout', ref: 'lo' });
  const status = await h.reply('lo');
  assert.deepEqual(status, { type: 'status', ref: 'lo', state: 'connecting', jid: null, registered: false });
  assert.equal(first.callsOf('logout').length, 1);
  assert.deepEqual(h.of('disconnected'), [{ type: 'disconnected', reason: 'logged_out', code: null, reconnect: true, delay_ms: 0 }], 'reported once');
  assert.equal(h.sockets.length, 2);
  assert.equal(h.sock.config.auth.creds.me, undefined, 'new socket is unpaired');
  assert.notDeepEqual(h.sock.config.auth.creds.noiseKey.private, first.config.auth.creds.noiseKey.private, 'fresh identity');
  assert.deepEqual(await listDir(h.authDir), [], 'old credentials and keys deleted');
  await h.stop();
});

test('logout while not connected clears local credentials too', async () => {
  const h = await startBridge();
  h.sock.ev.emit('creds.update', { me: { id: '1@s.whatsapp.net' }, account: {} });
  h.sock.close(440); // replaced: stays down
  await h.nth('disconnected');
  h.send({ cmd: 'logout', ref: 'lo' });
  assert.equal((await h.reply('lo')).registered, false);
  assert.equal(h.sockets[0].callsOf('logout').length, 0, 'no unlink attempt without a connection');
  assert.equal(h.sockets.length, 2, 'fresh socket for a new QR');
  await h.stop();
});

test('malformed lines get numbered errors and the bridge keeps running', async () => {
  const h = await startBridge();
  h.send('this is not json');
  h.send('');
  h.send({ cmd: 'fly', ref: 'u' });
  h.send({ cmd: 'send', ref: 'm', to: JID });
  h.send('[]');
  h.send({ cmd: 'status', ref: 'after' });
  await h.reply('after');
  const errors = h.of('error');
  assert.equal(errors.length, 4);
  assert.match(errors[0].message, /^stdin line 1: not JSON/);
  assert.equal(errors[0].ref, null);
  assert.match(errors[1].message, /^stdin line 3: fly: unknown cmd "fly"/);
  assert.equal(errors[1].ref, 'u');
  assert.match(errors[2].message, /^stdin line 4: send: missing field "text"/);
  assert.match(errors[3].message, /^stdin line 5: expected a JSON object/);
  assert.equal((await h.reply('after')).type, 'status');
  await h.stop();
});

test('commands run in order', async () => {
  const h = await startBridge();
  h.sock.open();
  for (let i = 0; i < 5; i++) h.send({ cmd: 'send', ref: `o${i}`, to: JID, text: `t${i}` });
  await h.reply('o4');
  assert.deepEqual(
    h.sock.callsOf('sendMessage').map((c) => c.content.text),
    ['t0', 't1', 't2', 't3', 't4'],
  );
  assert.deepEqual(
    h.of('sent').map((e) => e.ref),
    ['o0', 'o1', 'o2', 'o3', 'o4'],
  );
  await h.stop();
});

test('a logout WhatsApp never answers times out, is reported, and still clears locally', async () => {
  const h = await startBridge();
  h.sock.ev.emit('creds.update', { me: { id: '1@s.whatsapp.net' }, account: {} });
  h.sock.open();
  h.sock.logout = () => new Promise(() => {}); // hangs forever
  h.send({ cmd: 'logout', ref: 'lo' });
  await until(() => h.timers.delays().includes(10_000), 'logout deadline armed');
  h.timers.advance(10_000);
  const e = await h.reply('lo');
  assert.deepEqual(e, { type: 'error', ref: 'lo', message: 'logout: no answer from WhatsApp; local credentials cleared anyway' });
  const s = await until(() => h.events.find((x) => x.ref === 'lo' && x.type === 'status'), 'status after logout');
  assert.equal(s.registered, false);
  assert.equal(h.sockets.length, 2);
  await h.stop();
});
