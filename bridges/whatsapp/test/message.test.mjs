/** WAMessage → message event fields (pure). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeMessage, normalizeJid, toNumber, unwrapContent } from '../lib/message.mjs';

const dm = (message, extra = {}) => ({
  key: { remoteJid: '15552223333@s.whatsapp.net', fromMe: false, id: 'ID1', ...extra.key },
  pushName: 'Ana',
  messageTimestamp: 1700000000,
  message,
  ...extra.msg,
});

test('plain text in a direct chat', () => {
  const d = describeMessage(dm({ conversation: 'hello' }));
  assert.deepEqual(d.event, {
    type: 'message',
    id: 'ID1',
    chat: '15552223333@s.whatsapp.net',
    sender: '15552223333@s.whatsapp.net',
    sender_lid: null,
    push_name: 'Ana',
    timestamp: 1700000000,
    is_group: false,
    text: 'hello',
  });
  assert.equal(d.media, null);
});

test('extended text and wrapped (ephemeral, view-once) content', () => {
  assert.equal(describeMessage(dm({ extendedTextMessage: { text: 'link https://x' } })).event.text, 'link https://x');
  const wrapped = { ephemeralMessage: { message: { viewOnceMessageV2: { message: { imageMessage: { caption: 'secret', mimetype: 'image/jpeg' } } } } } };
  const d = describeMessage(dm(wrapped));
  assert.equal(d.event.text, 'secret');
  assert.equal(d.media.kind, 'image');
  assert.deepEqual(unwrapContent({ conversation: 'x' }), { conversation: 'x' });
});

test('group message: sender is the participant, device suffix dropped', () => {
  const d = describeMessage(
    dm({ conversation: 'hi all' }, { key: { remoteJid: '120363000000@g.us', participant: '15554445555:12@s.whatsapp.net' } }),
  );
  assert.equal(d.event.chat, '120363000000@g.us');
  assert.equal(d.event.is_group, true);
  assert.equal(d.event.sender, '15554445555@s.whatsapp.net');
  assert.equal(d.event.sender_lid, null);
});

test('LID addressing: sender prefers the phone jid, sender_lid carries the lid', () => {
  const g = describeMessage(
    dm({ conversation: 'x' }, { key: { remoteJid: '1203@g.us', participant: '987654@lid', participantAlt: '15554445555@s.whatsapp.net' } }),
  );
  assert.equal(g.event.sender, '15554445555@s.whatsapp.net');
  assert.equal(g.event.sender_lid, '987654@lid');
  const d = describeMessage(dm({ conversation: 'x' }, { key: { remoteJid: '15552223333@s.whatsapp.net', remoteJidAlt: '111@lid' } }));
  assert.equal(d.event.sender, '15552223333@s.whatsapp.net');
  assert.equal(d.event.sender_lid, '111@lid');
  const onlyLid = describeMessage(dm({ conversation: 'x' }, { key: { remoteJid: '222@lid' } }));
  assert.equal(onlyLid.event.sender, '222@lid');
  assert.equal(onlyLid.event.sender_lid, '222@lid');
});

test('media descriptors for each kind, Long sizes and timestamps', () => {
  const long = { low: 1234, high: 0, unsigned: true };
  const cases = [
    [{ imageMessage: { mimetype: 'image/png', fileLength: long } }, 'image', 'image/png', null, 1234],
    [{ audioMessage: { mimetype: 'audio/ogg; codecs=opus', fileLength: 10, ptt: true } }, 'audio', 'audio/ogg; codecs=opus', null, 10],
    [{ videoMessage: { caption: 'clip' } }, 'video', 'video/mp4', null, null],
    [{ documentMessage: { mimetype: 'application/pdf', fileName: 'a.pdf', fileLength: '99' } }, 'document', 'application/pdf', 'a.pdf', 99],
    [{ stickerMessage: {} }, 'sticker', 'image/webp', null, null],
  ];
  for (const [message, kind, mime, fileName, size] of cases) {
    const d = describeMessage(dm(message, { msg: { messageTimestamp: { low: 1700000001, high: 0 } } }));
    assert.deepEqual(d.media, { kind, mime, fileName, size }, kind);
    assert.equal(d.event.timestamp, 1700000001);
  }
  assert.equal(describeMessage(dm({ videoMessage: { caption: 'clip' } })).event.text, 'clip');
  assert.equal(describeMessage(dm({ stickerMessage: {} })).event.text, '');
});

test('skipped: from me, status broadcast, protocol, empty, reactions, no key', () => {
  assert.equal(describeMessage(dm({ conversation: 'mine' }, { key: { fromMe: true } })), null);
  assert.equal(describeMessage(dm({ conversation: 'story' }, { key: { remoteJid: 'status@broadcast', participant: '1@s.whatsapp.net' } })), null);
  assert.equal(describeMessage(dm({ protocolMessage: { type: 0 } })), null);
  assert.equal(describeMessage(dm({ conversation: '' })), null);
  assert.equal(describeMessage(dm(null)), null);
  assert.equal(describeMessage(dm({ reactionMessage: { text: '👍' } })), null);
  assert.equal(describeMessage({ message: { conversation: 'x' } }), null);
});

test('push name absent → null; helpers', () => {
  assert.equal(describeMessage(dm({ conversation: 'x' }, { msg: { pushName: undefined } })).event.push_name, null);
  assert.equal(normalizeJid('1:2@s.whatsapp.net'), '1@s.whatsapp.net');
  assert.equal(normalizeJid(null), null);
  assert.equal(toNumber({ toNumber: () => 5 }), 5);
  assert.equal(toNumber({ low: 0, high: 1 }), 2 ** 32);
  assert.equal(toNumber('abc'), null);
  assert.equal(toNumber(undefined), null);
});
