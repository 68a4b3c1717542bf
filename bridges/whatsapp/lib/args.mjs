/**
 * Command-line and environment options of bridge.mjs. Pure, so it is tested
 * without spawning anything.
 */
import { DEFAULT_MAX_MEDIA_BYTES } from './media.mjs';
import { LEVELS } from './logger.mjs';

export const USAGE = `usage: node bridge.mjs --session-dir DIR [options]

  --session-dir DIR          where auth state lives (DIR/auth/); env WHATSAPP_SESSION_DIR
  --max-media-bytes N        cap for one downloaded media file (default ${DEFAULT_MAX_MEDIA_BYTES})
  --dry-run                  load auth state and answer commands, never connect;
                             env OPENPISTA_BRIDGE_DRY_RUN=1
  --log-level LEVEL          bridge log on stderr: ${LEVELS.join('|')} (default info);
                             env OPENPISTA_BRIDGE_LOG_LEVEL
  --baileys-log-level LEVEL  Baileys' own log on stderr (default silent);
                             env OPENPISTA_BRIDGE_BAILEYS_LOG_LEVEL
  --help                     this text

stdin: one JSON command per line; stdout: one JSON event per line (see README.md).`;

const TRUE = new Set(['1', 'true', 'yes', 'on']);

/**
 * @param {string[]} argv arguments after the script name
 * @param {Record<string, string|undefined>} env
 * @returns {{help: true} | {help: false, sessionDir: string, maxMediaBytes: number, dryRun: boolean, logLevel: string, baileysLogLevel: string}}
 * @throws {Error} with a one-line message on bad input
 */
export function parseArgs(argv, env = {}) {
  const out = {
    help: false,
    sessionDir: env.WHATSAPP_SESSION_DIR || null,
    maxMediaBytes: DEFAULT_MAX_MEDIA_BYTES,
    dryRun: TRUE.has(String(env.OPENPISTA_BRIDGE_DRY_RUN ?? '').toLowerCase()),
    logLevel: env.OPENPISTA_BRIDGE_LOG_LEVEL || 'info',
    baileysLogLevel: env.OPENPISTA_BRIDGE_BAILEYS_LOG_LEVEL || 'silent',
  };
  for (let i = 0; i < argv.length; i++) {
    let arg = argv[i];
    let value;
    const eq = arg.indexOf('=');
    if (arg.startsWith('--') && eq !== -1) {
      value = arg.slice(eq + 1);
      arg = arg.slice(0, eq);
    }
    const takeValue = () => {
      if (value !== undefined) return value;
      if (i + 1 >= argv.length) throw new Error(`${arg} needs a value`);
      return argv[++i];
    };
    switch (arg) {
      case '--help':
      case '-h':
        return { help: true };
      case '--session-dir':
        out.sessionDir = takeValue();
        break;
      case '--max-media-bytes': {
        const v = takeValue();
        if (!/^[0-9]+$/.test(v) || Number(v) < 1 || !Number.isSafeInteger(Number(v))) {
          throw new Error(`--max-media-bytes must be a positive integer, got ${JSON.stringify(v)}`);
        }
        out.maxMediaBytes = Number(v);
        break;
      }
      case '--dry-run':
        out.dryRun = true;
        break;
      case '--log-level':
        out.logLevel = takeValue();
        break;
      case '--baileys-log-level':
        out.baileysLogLevel = takeValue();
        break;
      default:
        throw new Error(`unknown argument ${JSON.stringify(arg)}`);
    }
  }
  if (!out.sessionDir) throw new Error('--session-dir (or WHATSAPP_SESSION_DIR) is required');
  for (const [name, level] of [['--log-level', out.logLevel], ['--baileys-log-level', out.baileysLogLevel]]) {
    if (!LEVELS.includes(level)) throw new Error(`${name} must be one of ${LEVELS.join('|')}, got ${JSON.stringify(level)}`);
  }
  return out;
}
