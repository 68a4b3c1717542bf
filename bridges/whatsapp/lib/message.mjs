/**
 * Turning a Baileys WAMessage into the fields of a `message` event. Pure (no
 * I/O): downloading the media is media.mjs's job.
 */

/** Wrappers whose `.message` holds the real content (view-once, disappearing, ...). */
const WRAPPERS = [
  'ephemeralMessage',
  'viewOnceMessage',
  'viewOnceMessageV2',
  'viewOnceMessageV2Extension',
  'documentWithCaptionMessage',
  'deviceSentMessage',
  'editedMessage',
  'botInvokeMessage',
  'groupMentionedMessage',
];

/** Media content keys → event `kind` and the mime used when none is given. */
const MEDIA = {
  imageMessage: { kind: 'image', mime: 'image/jpeg' },
  videoMessage: { kind: 'video', mime: 'video/mp4' },
  ptvMessage: { kind: 'video', mime: 'video/mp4' },
  audioMessage: { kind: 'audio', mime: 'audio/ogg' },
  documentMessage: { kind: 'document', mime: 'application/octet-stream' },
  stickerMessage: { kind: 'sticker', mime: 'image/webp' },
};

/**
 * Peel wrapper layers off a message's content.
 * @param {object|null|undefined} content WAMessage.message
 * @returns {object|null}
 */
export function unwrapContent(content) {
  let c = content ?? null;
  for (let depth = 0; c && depth < 8; depth++) {
    const wrapper = WRAPPERS.find((w) => c[w]?.message);
    if (!wrapper) break;
    c = c[wrapper].message;
  }
  return c;
}

/**
 * Protobuf Long / number / string → number (null when absent or unreadable).
 * @returns {number|null}
 */
export function toNumber(v) {
  if (v === null || v === undefined) return null;
  if (typeof v === 'number') return Number.isFinite(v) ? v : null;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'string') return v.trim() !== '' && Number.isFinite(Number(v)) ? Number(v) : null;
  if (typeof v === 'object') {
    if (typeof v.toNumber === 'function') return v.toNumber();
    if (typeof v.low === 'number' && typeof v.high === 'number') return v.high * 2 ** 32 + (v.low >>> 0);
  }
  return null;
}

/** `123:4@s.whatsapp.net` → `123@s.whatsapp.net` (drop the device part). */
export function normalizeJid(jid) {
  if (typeof jid !== 'string' || !jid.includes('@')) return jid ?? null;
  const [user, server] = jid.split('@');
  return `${user.split(':')[0]}@${server}`;
}

const isLid = (jid) => typeof jid === 'string' && jid.endsWith('@lid');

/**
 * Who sent it. In groups the participant, else the chat. Baileys 7 may
 * address people by LID (`...@lid`) and give the phone-number jid as the
 * "Alt" field (or the other way round): `sender` prefers the phone-number
 * jid, `sender_lid` carries the LID when known.
 */
function senderOf(key, isGroup) {
  const raw = isGroup ? key.participant : key.remoteJid;
  const alt = isGroup ? key.participantAlt : key.remoteJidAlt;
  if (isLid(raw)) {
    return { sender: normalizeJid(alt && !isLid(alt) ? alt : raw), senderLid: normalizeJid(raw) };
  }
  return { sender: normalizeJid(raw ?? null), senderLid: isLid(alt) ? normalizeJid(alt) : null };
}

/**
 * Describe one incoming message, or return null when it must be skipped
 * (sent by us, status/broadcast, protocol message, or nothing to show).
 *
 * @param {object} msg a Baileys WAMessage
 * @returns {null | {event: object, media: null | {kind: string, mime: string, fileName: string|null, size: number|null}}}
 *   `event` has every field of the `message` event except `media`.
 */
export function describeMessage(msg) {
  const key = msg?.key;
  if (!key || typeof key.remoteJid !== 'string' || key.fromMe) return null;
  const chat = key.remoteJid;
  if (chat.endsWith('@broadcast')) return null; // status@broadcast and broadcast lists
  const content = unwrapContent(msg.message);
  if (!content || content.protocolMessage) return null;

  const mediaKey = Object.keys(MEDIA).find((k) => content[k] && typeof content[k] === 'object');
  const m = mediaKey ? content[mediaKey] : null;
  const text = content.conversation || content.extendedTextMessage?.text || m?.caption || '';
  if (!text && !m) return null;

  const isGroup = chat.endsWith('@g.us');
  const { sender, senderLid } = senderOf(key, isGroup);
  const event = {
    type: 'message',
    id: key.id ?? null,
    chat,
    sender,
    sender_lid: senderLid,
    push_name: typeof msg.pushName === 'string' && msg.pushName ? msg.pushName : null,
    timestamp: toNumber(msg.messageTimestamp) ?? Math.floor(Date.now() / 1000),
    is_group: isGroup,
    text,
  };
  const media = m
    ? {
        kind: MEDIA[mediaKey].kind,
        mime: (typeof m.mimetype === 'string' && m.mimetype.trim()) || MEDIA[mediaKey].mime,
        fileName: typeof m.fileName === 'string' && m.fileName ? m.fileName : null,
        size: toNumber(m.fileLength),
      }
    : null;
  return { event, media };
}
