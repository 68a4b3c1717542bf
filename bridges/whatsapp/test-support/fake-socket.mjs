/**
 * A stand-in for a Baileys socket: an EventEmitter `ev`, the methods the
 * bridge calls (recorded in `calls`), and helpers to play the server's part.
 */
import { EventEmitter } from 'node:events';

/** An error shaped like Baileys' Boom errors (output.statusCode). */
export function boom(statusCode, message = `status ${statusCode}`) {
  const err = new Error(message);
  err.output = { statusCode };
  return err;
}

export class FakeSocket {
  /** @param {object} config what the bridge passed to makeSocket */
  constructor(config) {
    this.config = config;
    this.ev = new EventEmitter();
    this.calls = [];
    this.user = undefined;
    this.ended = false;
    this.sendError = null;
    this.updateMediaMessage = async (m) => m;
    this.seq = 0;
  }

  async sendMessage(jid, content) {
    this.calls.push({ fn: 'sendMessage', jid, content });
    if (this.sendError) throw this.sendError;
    const id = `3EB0${++this.seq}`;
    return { key: { id, remoteJid: jid, fromMe: true }, message: { conversation: content.text ?? '' } };
  }

  async requestPairingCode(phone) {
    this.calls.push({ fn: 'requestPairingCode', phone });
    return 'ABCD1234';
  }

  async logout() {
    this.calls.push({ fn: 'logout' });
    this.end(boom(401, 'Intentional Logout'));
  }

  end(error) {
    this.calls.push({ fn: 'end', error });
    if (this.ended) return;
    this.ended = true;
    this.ev.emit('connection.update', { connection: 'close', lastDisconnect: { error, date: new Date() } });
  }

  // --- the server's side ---------------------------------------------------

  qr(code = '2@fake-qr') {
    this.ev.emit('connection.update', { qr: code });
  }

  open(user = { id: '15550001111:7@s.whatsapp.net', name: 'Pista' }) {
    this.user = user;
    this.ev.emit('connection.update', { connection: 'open' });
  }

  close(statusCode) {
    this.ended = true;
    const error = statusCode === null ? new Error('socket hang up') : boom(statusCode);
    this.ev.emit('connection.update', { connection: 'close', lastDisconnect: { error, date: new Date() } });
  }

  upsert(messages, type = 'notify') {
    this.ev.emit('messages.upsert', { messages, type });
  }

  callsOf(fn) {
    return this.calls.filter((c) => c.fn === fn);
  }
}
