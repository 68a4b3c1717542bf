/**
 * Media in both directions.
 *
 * Incoming: the media is pulled as a stream with a byte cap. A declared size
 * over the cap skips the download entirely; a stream that grows past the cap
 * is destroyed at once (so it is never fetched in full). Base64 is built
 * chunk by chunk, so no single step blocks the event loop for long.
 *
 * Outgoing: a `send_media` command becomes the Baileys content object chosen
 * by mime type.
 */

/** Default cap for one downloaded media file (5 MiB). */
export const DEFAULT_MAX_MEDIA_BYTES = 5 * 1024 * 1024;
/** A download still running after this long is abandoned. */
export const DOWNLOAD_TIMEOUT_MS = 60_000;

/**
 * Incremental base64: feed chunks, get one string. Keeps the 0-2 bytes that
 * do not fill a 3-byte group for the next chunk, so pieces concatenate into
 * exactly the base64 of the whole.
 */
export class Base64Builder {
  #parts = [];
  #carry = Buffer.alloc(0);
  /** @param {Buffer|Uint8Array} chunk */
  push(chunk) {
    const buf = this.#carry.length ? Buffer.concat([this.#carry, chunk]) : Buffer.from(chunk);
    const whole = buf.length - (buf.length % 3);
    if (whole > 0) this.#parts.push(buf.subarray(0, whole).toString('base64'));
    this.#carry = buf.subarray(whole);
  }
  /** @returns {string} */
  finish() {
    if (this.#carry.length) this.#parts.push(this.#carry.toString('base64'));
    this.#carry = Buffer.alloc(0);
    return this.#parts.join('');
  }
}

/**
 * Read a stream into base64 unless it exceeds `maxBytes`.
 * @param {AsyncIterable<Buffer>&{destroy?: Function}} stream
 * @param {number} maxBytes
 * @param {{timers: {setTimeout: Function, clearTimeout: Function}, timeoutMs?: number}} opts
 * @returns {Promise<{dataB64: string|null, bytes: number, note: string|null}>}
 */
export async function readCapped(stream, maxBytes, { timers, timeoutMs = DOWNLOAD_TIMEOUT_MS }) {
  const b64 = new Base64Builder();
  let bytes = 0;
  let timedOut = false;
  const timer = timers.setTimeout(() => {
    timedOut = true;
    stream.destroy?.(new Error('download timed out'));
  }, timeoutMs);
  try {
    for await (const chunk of stream) {
      bytes += chunk.length;
      if (bytes > maxBytes) {
        stream.destroy?.();
        return { dataB64: null, bytes, note: 'too large' };
      }
      b64.push(chunk);
    }
  } catch (err) {
    return { dataB64: null, bytes, note: timedOut ? 'download timed out' : `download failed: ${err.message}` };
  } finally {
    timers.clearTimeout(timer);
  }
  return { dataB64: b64.finish(), bytes, note: null };
}

/**
 * Produce the `media` object of a message event.
 * @param {object} opts
 * @param {object} opts.msg the WAMessage (handed to `download`)
 * @param {{kind: string, mime: string, fileName: string|null, size: number|null}} opts.media from describeMessage
 * @param {((msg: object) => Promise<AsyncIterable<Buffer>>) | null} opts.download stream opener
 * @param {number} opts.maxBytes
 * @param {{setTimeout: Function, clearTimeout: Function}} opts.timers
 */
export async function fetchMedia({ msg, media, download, maxBytes, timers }) {
  const out = { kind: media.kind, mime: media.mime, file_name: media.fileName, size: media.size, data_b64: null, note: null };
  if (media.size !== null && media.size > maxBytes) {
    out.note = 'too large';
    return out;
  }
  if (!download) {
    out.note = 'download unavailable';
    return out;
  }
  let stream;
  try {
    stream = await download(msg);
  } catch (err) {
    out.note = `download failed: ${err.message}`;
    return out;
  }
  const { dataB64, bytes, note } = await readCapped(stream, maxBytes, { timers });
  out.data_b64 = dataB64;
  out.note = note;
  if (dataB64 !== null) out.size = bytes;
  return out;
}

/**
 * Baileys content for a validated `send_media` command:
 * image/* → image, audio/* → audio, video/* → video, anything else → document.
 * Audio messages carry no caption in WhatsApp; the caller sends it as text.
 * @param {{mime: string, data: Buffer, fileName: string|null, caption: string|null}} cmd
 * @returns {{content: object, captionAsText: string|null}}
 */
export function outgoingContent({ mime, data, fileName, caption }) {
  const cap = caption || undefined;
  if (mime.startsWith('image/')) return { content: { image: data, mimetype: mime, caption: cap }, captionAsText: null };
  if (mime.startsWith('video/')) return { content: { video: data, mimetype: mime, caption: cap }, captionAsText: null };
  if (mime.startsWith('audio/')) return { content: { audio: data, mimetype: mime }, captionAsText: caption || null };
  return {
    content: { document: data, mimetype: mime, fileName: fileName || 'file', caption: cap },
    captionAsText: null,
  };
}

/**
 * Tiny counting semaphore: at most `limit` downloads at once, so a backlog of
 * media messages cannot hold dozens of buffers in memory.
 * @param {number} limit
 */
export function createLimiter(limit) {
  let active = 0;
  const waiting = [];
  // A finishing task hands its slot straight to the next waiter, so a newcomer
  // can never slip in between and exceed the limit.
  const release = () => {
    const next = waiting.shift();
    if (next) next();
    else active--;
  };
  return async (fn) => {
    if (active >= limit) await new Promise((resolve) => waiting.push(resolve));
    else active++;
    try {
      return await fn();
    } finally {
      release();
    }
  };
}
