/**
 * The real Baileys side: how the socket is configured and how media is
 * streamed. Kept apart from bridge.mjs so a test can build a real socket
 * pointed at a dead loopback address (checking the wiring without ever
 * reaching WhatsApp).
 */
import { downloadMediaMessage, makeCacheableSignalKeyStore, makeWASocket } from 'baileys';

/** How the linked device introduces itself (shown on the phone). */
export const BROWSER = ['openpista', 'Chrome', '1.0'];

/**
 * @param {object} opts
 * @param {import('./logger.mjs').Logger} opts.logger pino-compatible logger for Baileys
 * @param {string|URL} [opts.wsUrl] override of the WhatsApp websocket URL (tests only)
 * @returns {(config: {auth: {creds: object, keys: object}, getMessage: Function}) => object}
 */
export function createSocketFactory({ logger, wsUrl }) {
  return ({ auth, getMessage }) =>
    makeWASocket({
      // An in-memory read cache in front of the atomic file store (writes still go through).
      auth: { creds: auth.creds, keys: makeCacheableSignalKeyStore(auth.keys, logger) },
      getMessage,
      logger,
      printQRInTerminal: false,
      browser: BROWSER,
      markOnlineOnConnect: false, // keep notifications on the phone
      syncFullHistory: false,
      shouldSyncHistoryMessage: () => false, // the host only wants new messages
      ...(wsUrl ? { waWebSocketUrl: wsUrl } : {}),
    });
}

/**
 * Open a media message's content as a stream; Baileys asks the sender's
 * phone to re-upload expired media through the socket.
 * @param {import('./logger.mjs').Logger} logger
 */
export function createMediaDownloader(logger) {
  return (msg, sock) => downloadMediaMessage(msg, 'stream', {}, { logger, reuploadRequest: sock.updateMediaMessage });
}
