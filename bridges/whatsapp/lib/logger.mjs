/**
 * Logging to stderr only: stdout belongs to the JSON-lines protocol.
 *
 * `createLogger` is the bridge's own log (JSON lines, default level "info",
 * which is quiet: a few lines per connection change). `createBaileysLogger`
 * is the pino-compatible object Baileys requires (level, child, trace..fatal);
 * it is silent unless asked, because Baileys is very chatty.
 */
import { format } from 'node:util';

export const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];
const rank = (level) => {
  const i = LEVELS.indexOf(level);
  return i === -1 ? LEVELS.indexOf('info') : i;
};

/**
 * @param {object} [opts]
 * @param {string} [opts.level] minimum level written
 * @param {{write: (s: string) => any}} [opts.stream] defaults to process.stderr
 * @param {Record<string, unknown>} [opts.bindings] fields added to every line
 * @returns {Logger}
 *
 * @typedef {object} Logger
 * @property {string} level
 * @property {(bindings: object) => Logger} child
 * @property {Function} trace @property {Function} debug @property {Function} info
 * @property {Function} warn @property {Function} error @property {Function} fatal
 */
export function createLogger({ level = 'info', stream = process.stderr, bindings = {} } = {}) {
  const min = rank(level);
  /** Accepts (msg), (obj, msg) pino-style, or (obj). */
  const emit = (lvl, a, b) => {
    if (rank(lvl) < min) return;
    const line = { level: lvl, time: new Date().toISOString(), ...bindings };
    if (a && typeof a === 'object' && !(a instanceof Error)) {
      Object.assign(line, sanitize(a));
      if (b !== undefined) line.msg = String(b);
    } else if (a instanceof Error) {
      line.msg = b !== undefined ? String(b) : a.message;
      line.err = a.message;
    } else {
      line.msg = String(a);
    }
    try {
      stream.write(`${JSON.stringify(line)}\n`);
    } catch {
      // stderr gone: nothing sensible left to do
    }
  };
  const logger = { level, child: (more) => createLogger({ level, stream, bindings: { ...bindings, ...more } }) };
  for (const lvl of LEVELS.slice(0, -1)) logger[lvl] = (a, b) => emit(lvl, a, b);
  return logger;
}

/** Make an arbitrary object JSON-safe (errors as messages, no cycles, no huge buffers). */
function sanitize(obj) {
  const seen = new WeakSet();
  try {
    return JSON.parse(
      JSON.stringify(obj, (_k, v) => {
        if (v instanceof Error) return { message: v.message, stack: v.stack };
        if (typeof v === 'bigint') return String(v);
        if (v && typeof v === 'object') {
          if (v.type === 'Buffer' && Array.isArray(v.data)) return `<${v.data.length} bytes>`;
          if (seen.has(v)) return '[circular]';
          seen.add(v);
        }
        return v;
      }),
    );
  } catch {
    return { detail: format('%o', obj) };
  }
}

/**
 * The logger handed to Baileys: silent by default.
 * @param {string} [level] e.g. from --baileys-log-level
 */
export function createBaileysLogger(level = 'silent', stream = process.stderr) {
  return createLogger({ level, stream, bindings: { from: 'baileys' } });
}

/**
 * Route console.* to the stderr log at debug level so no dependency
 * (libsignal prints "Closing session" etc. with console.info) can write to stdout.
 * @param {Logger} log
 */
export function redirectConsole(log) {
  const at = (lvl) => (...args) => log[lvl](format(...args));
  console.log = at('debug');
  console.info = at('debug');
  console.debug = at('trace');
  console.trace = at('trace');
  // libsignal reports routine decrypt retries with console.error: keep them out of the default log.
  console.warn = at('debug');
  console.error = at('debug');
}
