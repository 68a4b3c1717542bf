#!/usr/bin/env node
/**
 * openpista WhatsApp bridge: entry point. Wires the real Baileys socket and
 * the process's stdin/stdout into lib/bridge-core.mjs.
 *
 *   node bridges/whatsapp/bridge.mjs --session-dir DIR [--max-media-bytes N] [--dry-run]
 *
 * stdout carries only protocol JSON lines; everything else goes to stderr
 * (console.* included, since some dependencies print with it).
 */
import { join, resolve } from 'node:path';
// Baileys' module-level default pino logger writes straight to fd 1 (stdout);
// a few code paths use it regardless of the logger we pass, so silence it.
import baileysDefaultLogger from 'baileys/lib/Utils/logger.js';
import { parseArgs, USAGE } from './lib/args.mjs';
import { createMediaDownloader, createSocketFactory } from './lib/baileys-socket.mjs';
import { createBridge } from './lib/bridge-core.mjs';
import { createBaileysLogger, createLogger, redirectConsole } from './lib/logger.mjs';

const stdout = process.stdout;

let opts;
try {
  opts = parseArgs(process.argv.slice(2), process.env);
} catch (err) {
  stdout.write(`${JSON.stringify({ type: 'error', ref: null, message: `args: ${err.message}` })}\n`);
  process.stderr.write(`${err.message}\n\n${USAGE}\n`);
  process.exit(2);
}
if (opts.help) {
  process.stderr.write(`${USAGE}\n`);
  process.exit(0);
}

baileysDefaultLogger.level = 'silent';
const log = createLogger({ level: opts.logLevel });
redirectConsole(log);
const baileysLogger = createBaileysLogger(opts.baileysLogLevel);

// Baileys occasionally leaves a promise rejection unhandled; do not let Node
// kill the bridge for it (the default), but do say so.
process.on('unhandledRejection', (err) => log.error(`unhandled rejection: ${err?.stack ?? err}`));

const realSocket = createSocketFactory({ logger: baileysLogger });
const makeSocket = (config) => {
  if (opts.dryRun) throw new Error('dry run: refusing to open a connection');
  return realSocket(config);
};

const bridge = createBridge({
  makeSocket,
  authDir: join(resolve(opts.sessionDir), 'auth'),
  input: process.stdin,
  output: stdout,
  log,
  maxMediaBytes: opts.maxMediaBytes,
  downloadMedia: createMediaDownloader(baileysLogger),
  dryRun: opts.dryRun,
});

for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => bridge.shutdown(signal));
stdout.on('error', (err) => {
  log.error(`stdout: ${err.message}`);
  bridge.shutdown('stdout closed');
});

try {
  const code = await bridge.start();
  // Let the last lines reach the pipe, then exit even if Baileys left timers behind.
  stdout.write('', () => process.exit(code));
} catch (err) {
  log.fatal(`bridge failed: ${err?.stack ?? err}`);
  stdout.write(`${JSON.stringify({ type: 'error', ref: null, message: `startup: ${err?.message ?? err}` })}\n`, () =>
    process.exit(1),
  );
}
