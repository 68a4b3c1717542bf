/**
 * The bridge itself, with every outside thing injected: the socket factory
 * (real Baileys in bridge.mjs, a stand-in EventEmitter in the tests), the
 * input/output streams, the log and the timers. It owns the connection
 * lifecycle (connect, reconnect per reconnect.decide, logout), turns socket
 * events into JSON-line events and stdin commands into socket calls.
 */
import { createInterface } from 'node:readline';
import { openAuthStore } from './auth-store.mjs';
import { parseCommand } from './commands.mjs';
import { createLimiter, DEFAULT_MAX_MEDIA_BYTES, fetchMedia, outgoingContent } from './media.mjs';
import { describeMessage, normalizeJid } from './message.mjs';
import { decide } from './reconnect.mjs';
import { deadline, within } from './timing.mjs';

/** Pending work gets this long to finish on shutdown. */
const SHUTDOWN_GRACE_MS = 10_000;
/** Sent messages remembered for Baileys' getMessage (resend on retry receipts). */
const RECENT_SENT = 256;
/** A logout that WhatsApp does not acknowledge by then is done locally only. */
const LOGOUT_TIMEOUT_MS = 10_000;
/** Parallel media downloads. */
const DOWNLOADS_AT_ONCE = 3;

const defaultTimers = { setTimeout: (fn, ms) => setTimeout(fn, ms), clearTimeout: (t) => clearTimeout(t) };

/**
 * @param {object} o
 * @param {(config: {auth: object, getMessage: Function}) => object} o.makeSocket Baileys-like socket factory
 * @param {string} o.authDir folder for credentials and keys
 * @param {NodeJS.ReadableStream} o.input command lines
 * @param {{write: (s: string) => any}} o.output event lines
 * @param {import('./logger.mjs').Logger} o.log stderr log
 * @param {number} [o.maxMediaBytes] cap for one incoming media download
 * @param {{setTimeout: Function, clearTimeout: Function}} [o.timers]
 * @param {((msg: object, sock: object) => Promise<AsyncIterable<Buffer>>) | null} [o.downloadMedia]
 * @param {boolean} [o.dryRun] load auth and answer commands, never open a socket
 * @returns {{start: () => Promise<number>, shutdown: (why: string) => Promise<number>, done: Promise<number>}}
 */
export function createBridge({
  makeSocket,
  authDir,
  input,
  output,
  log,
  maxMediaBytes = DEFAULT_MAX_MEDIA_BYTES,
  timers = defaultTimers,
  downloadMedia = null,
  dryRun = false,
}) {
  let store = null;
  let sock = null;
  let gen = 0; // generation of the current socket; events of older ones are ignored
  let state = 'starting';
  let attempt = 0;
  let ownJid = null;
  let reconnectTimer = null;
  let shuttingDown = false;
  let rl = null;
  let cmdChain = Promise.resolve(); // commands run in order
  let emitChain = Promise.resolve(); // message events leave in arrival order
  let lifecycle = Promise.resolve(); // close handling and logout never overlap
  const limit = createLimiter(DOWNLOADS_AT_ONCE);
  const recent = new Map();
  let resolveDone;
  const done = new Promise((r) => (resolveDone = r));

  const emit = (obj) => {
    try {
      output.write(`${JSON.stringify(obj)}\n`);
    } catch (err) {
      log.error(`stdout write failed: ${err.message}`);
    }
  };
  const emitError = (ref, message) => emit({ type: 'error', ref: ref ?? null, message });
  const serial = (fn) => (lifecycle = lifecycle.then(fn).catch((err) => log.error(`lifecycle: ${err.stack ?? err}`)));

  const emitStatus = (ref) =>
    emit({
      type: 'status',
      ref,
      state,
      jid: state === 'open' ? ownJid : store?.isRegistered() ? normalizeJid(store.state.creds.me?.id ?? null) : null,
      registered: Boolean(store?.isRegistered()),
    });

  /** Baileys asks for a message it sent when a recipient requests a retry. */
  const getMessage = async (key) => recent.get(key?.id)?.message ?? undefined;
  const remember = (sent) => {
    if (!sent?.key?.id) return;
    recent.set(sent.key.id, sent);
    if (recent.size > RECENT_SENT) recent.delete(recent.keys().next().value);
  };

  /** Open a new socket (the previous one, if any, is already dead). */
  function connect() {
    reconnectTimer = null;
    if (shuttingDown) return;
    const my = ++gen;
    const myStore = store;
    state = 'connecting';
    let s;
    try {
      s = makeSocket({ auth: myStore.state, getMessage });
    } catch (err) {
      log.error(`socket creation failed: ${err.message}`);
      serial(() => handleClose(my, null, err));
      return;
    }
    sock = s;
    // Credentials are saved even from a dying socket; a cleared store drops them.
    s.ev.on('creds.update', (update) => {
      Object.assign(myStore.state.creds, update);
      myStore.saveCreds();
    });
    s.ev.on('connection.update', (u) => {
      if (my === gen && !shuttingDown) onConnectionUpdate(my, s, u ?? {});
    });
    s.ev.on('messages.upsert', (u) => {
      if (my === gen && !shuttingDown) onUpsert(s, u ?? {});
    });
  }

  function onConnectionUpdate(my, s, { connection, lastDisconnect, qr }) {
    if (typeof qr === 'string' && qr) {
      state = 'qr';
      emit({ type: 'qr', qr });
    }
    if (connection === 'open') {
      state = 'open';
      attempt = 0;
      ownJid = normalizeJid(s.user?.id ?? null);
      log.info(`connected as ${ownJid}`);
      emit({ type: 'connected', jid: ownJid, name: s.user?.name ?? null });
    } else if (connection === 'close') {
      const code = lastDisconnect?.error?.output?.statusCode;
      serial(() => handleClose(my, Number.isInteger(code) ? code : null, lastDisconnect?.error));
    }
  }

  /** Apply the reconnect policy to a close of socket generation `my`. */
  async function handleClose(my, code, error) {
    if (my !== gen || shuttingDown) return;
    sock = null;
    ownJid = null;
    const d = decide(code, attempt);
    attempt = d.nextAttempt;
    log.info(`connection closed: ${d.reason} (code ${code}${error?.message ? `, ${error.message}` : ''})`);
    if (d.clearAuth) {
      state = 'logged_out';
      await resetAuth();
    } else {
      state = 'closed';
    }
    emit({ type: 'disconnected', reason: d.reason, code, reconnect: d.reconnect, delay_ms: d.reconnect ? d.delayMs : 0 });
    if (!d.reconnect || shuttingDown) return;
    if (d.delayMs === 0) connect();
    else reconnectTimer = timers.setTimeout(connect, d.delayMs);
  }

  /** Delete the stored credentials and start over with a fresh identity. */
  async function resetAuth() {
    await store.clear();
    store = await openAuthStore(authDir, { log });
  }

  function onUpsert(s, { messages, type }) {
    if (type !== 'notify' || !Array.isArray(messages)) return;
    for (const msg of messages) {
      let d;
      try {
        d = describeMessage(msg);
      } catch (err) {
        log.warn(`skipping unreadable message: ${err.message}`);
        continue;
      }
      if (!d) continue;
      const download = downloadMedia ? (m) => downloadMedia(m, s) : null;
      const ready = d.media
        ? limit(() => fetchMedia({ msg, media: d.media, download, maxBytes: maxMediaBytes, timers }))
        : Promise.resolve(null);
      // Downloads run in parallel; the chain only fixes the order of the lines.
      emitChain = emitChain
        .then(() => ready)
        .then((media) => emit({ ...d.event, media }))
        .catch((err) => log.error(`message ${d.event.id}: ${err.message}`));
    }
  }

  function requireOpen(what) {
    if (!sock || state !== 'open') throw new Error(`${what}: no connection (state ${state})`);
    return sock;
  }

  /** Execute one validated command (status is answered before queueing). */
  async function run(c) {
    switch (c.cmd) {
      case 'send': {
        const sent = await requireOpen('send').sendMessage(c.to, { text: c.text });
        remember(sent);
        return emit({ type: 'sent', ref: c.ref, id: sent?.key?.id ?? null });
      }
      case 'send_media': {
        const s = requireOpen('send_media');
        const { content, captionAsText } = outgoingContent(c);
        const sent = await s.sendMessage(c.to, content);
        remember(sent);
        if (captionAsText) remember(await s.sendMessage(c.to, { text: captionAsText }));
        return emit({ type: 'sent', ref: c.ref, id: sent?.key?.id ?? null });
      }
      case 'request_pairing_code': {
        if (store.isRegistered()) throw new Error('request_pairing_code: already paired (logout first)');
        if (!sock) throw new Error(`request_pairing_code: no connection (state ${state})`);
        if (state !== 'qr') throw new Error('request_pairing_code: not ready yet, send it after the first qr event');
        const code = await sock.requestPairingCode(c.phone);
        return emit({ type: 'pairing_code', ref: c.ref, code });
      }
      case 'logout':
        return serial(() => logout(c.ref));
      default:
        throw new Error(`${c.cmd}: not implemented`);
    }
  }

  /**
   * Log out: tell WhatsApp when connected (unlinks the device), then clear
   * the credentials and start a fresh unpaired socket, exactly like a 401.
   * The old socket is disowned first so its own 401 close is not handled twice.
   */
  async function logout(ref) {
    const s = sock;
    const wasOpen = state === 'open';
    gen++;
    sock = null;
    ownJid = null;
    if (reconnectTimer) timers.clearTimeout(reconnectTimer);
    reconnectTimer = null;
    if (s && wasOpen) {
      try {
        await deadline(timers, Promise.resolve().then(() => s.logout()), LOGOUT_TIMEOUT_MS, 'no answer from WhatsApp');
      } catch (err) {
        emitError(ref, `logout: ${err.message}; local credentials cleared anyway`);
      }
    }
    try {
      await s?.end(undefined);
    } catch {
      // already closed
    }
    state = 'logged_out';
    attempt = 0;
    await resetAuth();
    const again = !dryRun && !shuttingDown;
    emit({ type: 'disconnected', reason: 'logged_out', code: null, reconnect: again, delay_ms: 0 });
    if (again) connect();
    emitStatus(ref);
  }

  function onLine(line, lineNo) {
    if (shuttingDown || line.trim() === '') return;
    const r = parseCommand(line, lineNo);
    if (r.error) return emitError(r.error.ref, r.error.message);
    const c = r.command;
    if (c.cmd === 'status') return emitStatus(c.ref);
    cmdChain = cmdChain
      .then(() => run(c))
      .catch((err) => {
        const msg = String(err?.message ?? err);
        emitError(c.ref, msg.startsWith(`${c.cmd}:`) ? msg : `${c.cmd}: ${msg}`);
      });
  }

  /** Graceful stop: finish queued work, end the socket, flush auth, exit 0. */
  async function shutdown(why) {
    if (shuttingDown) return done;
    shuttingDown = true;
    log.info(`shutting down: ${why}`);
    rl?.close();
    if (reconnectTimer) timers.clearTimeout(reconnectTimer);
    await within(timers, Promise.all([cmdChain, emitChain, lifecycle]), SHUTDOWN_GRACE_MS);
    const s = sock;
    sock = null;
    gen++;
    state = 'closed';
    if (s) await within(timers, Promise.resolve().then(() => s.end(undefined)), SHUTDOWN_GRACE_MS);
    await store?.flush();
    resolveDone(0);
    return done;
  }

  async function start() {
    store = await openAuthStore(authDir, { log });
    emit({ type: 'ready' });
    rl = createInterface({ input, crlfDelay: Infinity, terminal: false });
    let lineNo = 0;
    rl.on('line', (line) => onLine(line, ++lineNo));
    rl.on('close', () => shutdown('stdin closed'));
    if (dryRun) log.info('dry run: not connecting');
    else connect();
    return done;
  }

  return { start, shutdown, done };
}
