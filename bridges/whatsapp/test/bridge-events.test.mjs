/** Socket events in → JSON lines out, through createBridge and a FakeSocket. */
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { startBridge, tick, until } from '../test-support/harness.mjs';

const textMsg = (id, text, key = {}) => ({
  key: { remoteJid: '15552223333@s.whatsapp.net', fromMe: false, id, ...key },
  pushName: 'Ana',
  messageTimestamp: 1700000000,
  message: { conversation: text },
});

test('ready first, then qr and connected', async () => {
  const h = await startBridge();
  assert.deepEqual(h.events[0], { type: 'ready' });
  assert.equal(h.sockets.length, 1, 'one socket opened');
  assert.ok(h.sock.config.auth.creds.noiseKey, 'socket got the loaded auth state');
  assert.equal(typeof h.sock.config.auth.keys.get, 'function');
  h.sock.qr('2@abc,def');
  assert.deepEqual(await h.nth('qr'), { type: 'qr', qr: '2@abc,def' });
  h.sock.open({ id: '15550001111:7@s.whatsapp.net', name: 'Pista' });
  assert.deepEqual(await h.nth('connected'), { type: 'connected', jid: '15550001111@s.whatsapp.net', name: 'Pista' });
  h.sock.open({ id: '15550001111:7@s.whatsapp.net' });
  assert.equal((await h.nth('connected', 2)).name, null, 'no push name → null');
  assert.equal(await h.stop(), 0);
});

test('text message event', async () => {
  const h = await startBridge();
  h.sock.open();
  h.sock.upsert([textMsg('M1', 'hello there')]);
  assert.deepEqual(await h.nth('message'), {
    type: 'message',
    id: 'M1',
    chat: '15552223333@s.whatsapp.net',
    sender: '15552223333@s.whatsapp.net',
    sender_lid: null,
    push_name: 'Ana',
    timestamp: 1700000000,
    is_group: false,
    text: 'hello there',
    media: null,
  });
  await h.stop();
});

test('group message: sender is the participant', async () => {
  const h = await startBridge();
  h.sock.upsert([textMsg('G1', 'hi group', { remoteJid: '120363000000000000@g.us', participant: '15554445555@s.whatsapp.net' })]);
  const m = await h.nth('message');
  assert.equal(m.chat, '120363000000000000@g.us');
  assert.equal(m.sender, '15554445555@s.whatsapp.net');
  assert.equal(m.is_group, true);
  await h.stop();
});

test('image with caption: media downloaded and base64-encoded', async () => {
  const png = Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex');
  const asked = [];
  const h = await startBridge({
    downloadMedia: async (msg, sock) => {
      asked.push({ id: msg.key.id, sock });
      return Readable.from([png.subarray(0, 5), png.subarray(5)]);
    },
  });
  h.sock.upsert([
    {
      ...textMsg('P1', ''),
      message: { imageMessage: { caption: 'look', mimetype: 'image/png', fileLength: png.length } },
    },
  ]);
  const m = await h.nth('message');
  assert.equal(m.text, 'look');
  assert.deepEqual(m.media, { kind: 'image', mime: 'image/png', file_name: null, size: png.length, data_b64: png.toString('base64'), note: null });
  assert.equal(asked.length, 1);
  assert.equal(asked[0].sock, h.sock, 'download gets the socket (for media re-upload requests)');
  await h.stop();
});

test('media over the cap: data null with a note, download never opened', async () => {
  let opened = 0;
  const h = await startBridge({
    maxMediaBytes: 1000,
    downloadMedia: async () => {
      opened++;
      return Readable.from([Buffer.alloc(10)]);
    },
  });
  h.sock.upsert([
    { ...textMsg('D1', ''), message: { documentMessage: { mimetype: 'application/pdf', fileName: 'big.pdf', fileLength: 5000 } } },
  ]);
  const m = await h.nth('message');
  assert.equal(m.text, '');
  assert.deepEqual(m.media, { kind: 'document', mime: 'application/pdf', file_name: 'big.pdf', size: 5000, data_b64: null, note: 'too large' });
  assert.equal(opened, 0);
  await h.stop();
});

test('media whose stream outgrows the cap is cut off', async () => {
  let pulled = 0;
  const h = await startBridge({
    maxMediaBytes: 100_000,
    downloadMedia: async () =>
      new Readable({
        highWaterMark: 1,
        read() {
          pulled++;
          this.push(pulled > 1000 ? null : Buffer.alloc(32 * 1024));
        },
      }),
  });
  h.sock.upsert([{ ...textMsg('V1', ''), message: { videoMessage: { caption: 'vid' } } }]);
  const m = await h.nth('message');
  assert.equal(m.media.data_b64, null);
  assert.equal(m.media.note, 'too large');
  assert.ok(pulled < 10, `pulled ${pulled} chunks of 1000`);
  await h.stop();
});

test('skipped: from me, status broadcast, protocol, empty, and non-notify upserts', async () => {
  const h = await startBridge();
  h.sock.upsert([
    textMsg('S1', 'mine', { fromMe: true }),
    textMsg('S2', 'story', { remoteJid: 'status@broadcast', participant: '1@s.whatsapp.net' }),
    { ...textMsg('S3', ''), message: { protocolMessage: { type: 0 } } },
    textMsg('S4', ''),
    { key: { remoteJid: 'x@s.whatsapp.net', id: 'S5' } },
  ]);
  h.sock.upsert([textMsg('S6', 'history')], 'append');
  h.sock.upsert([textMsg('OK', 'real')]);
  const m = await h.nth('message');
  assert.equal(m.id, 'OK');
  await tick();
  assert.equal(h.of('message').length, 1);
  await h.stop();
});

test('events keep arrival order even when an earlier media download is slow', async () => {
  let release;
  const h = await startBridge({
    downloadMedia: async () => {
      await new Promise((r) => (release = r));
      return Readable.from([Buffer.from('abc')]);
    },
  });
  h.sock.upsert([{ ...textMsg('A', ''), message: { audioMessage: { mimetype: 'audio/ogg; codecs=opus', ptt: true } } }, textMsg('B', 'after')]);
  await until(() => release, 'download started');
  await tick();
  assert.equal(h.of('message').length, 0, 'B waits for A');
  release();
  await h.nth('message', 2);
  assert.deepEqual(
    h.of('message').map((m) => m.id),
    ['A', 'B'],
  );
  assert.equal(h.of('message')[0].media.data_b64, Buffer.from('abc').toString('base64'));
  await h.stop();
});

test('creds.update is merged and persisted', async () => {
  const h = await startBridge();
  h.sock.ev.emit('creds.update', { me: { id: '15550001111:7@s.whatsapp.net', name: 'Pista' }, account: { details: Buffer.from('x') } });
  await h.stop();
  const creds = await h.readCreds();
  assert.equal(creds.me.id, '15550001111:7@s.whatsapp.net');
  assert.equal(creds.account.details.type, 'Buffer', 'Buffers stored via BufferJSON');
  assert.ok(creds.noiseKey, 'whole creds object written');
});

test('events from a replaced socket are ignored', async () => {
  const h = await startBridge();
  const old = h.sock;
  old.close(515);
  await until(() => h.sockets.length === 2, 'second socket');
  old.upsert([textMsg('OLD', 'stale')]);
  old.qr('stale-qr');
  h.sock.upsert([textMsg('NEW', 'fresh')]);
  await h.nth('message');
  await tick();
  assert.deepEqual(
    h.of('message').map((m) => m.id),
    ['NEW'],
  );
  assert.equal(h.of('qr').length, 0);
  await h.stop();
});
