/**
 * Baileys auth state (credentials + signal keys) kept in `<session>/auth/`.
 *
 * Replaces Baileys' useMultiFileAuthState, whose writes are not atomic: every
 * file here goes through atomic-json (temp file, fsync, rename, one queue per
 * file). Layout: `creds.json` plus one `<type>-<id>.json` per signal key,
 * serialised with Baileys' BufferJSON so Buffers round-trip.
 */
import { mkdir } from 'node:fs/promises';
import { BufferJSON, initAuthCreds, proto } from 'baileys';
import { createJsonFiles, safeName } from './atomic-json.mjs';

const CREDS_FILE = 'creds.json';

/** File name for one signal key. */
export function keyFileName(type, id) {
  return `${safeName(type)}-${safeName(id)}.json`;
}

/**
 * Open (creating if needed) the auth folder and load the credentials; a
 * missing or corrupt creds.json means a fresh, unpaired identity.
 *
 * @param {string} dir the auth folder
 * @param {object} opts
 * @param {{warn: Function, error: Function, info: Function, debug: Function}} opts.log
 * @param {object} [opts.fs] fs/promises stand-in for fault-injection tests
 * @returns {Promise<AuthStore>}
 *
 * @typedef {object} AuthStore
 * @property {{creds: object, keys: {get: Function, set: Function}}} state  pass as Baileys `auth`
 * @property {() => Promise<void>} saveCreds  persist the current creds object
 * @property {() => boolean} isRegistered     paired with a phone?
 * @property {() => Promise<void>} flush      wait for queued writes
 * @property {() => Promise<void>} clear      drop this store and delete every file
 */
export async function openAuthStore(dir, { log, fs } = {}) {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const files = createJsonFiles({ dir, log, replacer: BufferJSON.replacer, reviver: BufferJSON.reviver, fs });
  await files.sweepTemps();

  const stored = await files.read(CREDS_FILE);
  const creds = stored ?? initAuthCreds();
  if (!stored) log.info('auth: no stored credentials; starting unpaired');
  let closed = false;

  /** Queue a write unless the store was cleared (a dying socket may still emit). */
  const write = (name, value) => {
    if (closed) {
      log.debug(`auth: dropped write of ${name} after clear`);
      return Promise.resolve();
    }
    return files.write(name, value).catch((err) => {
      log.error(`auth: write of ${name} failed: ${err.message}`);
    });
  };

  const keys = {
    /** @returns {Promise<Record<string, any>>} only the ids that exist */
    async get(type, ids) {
      const out = {};
      await Promise.all(
        ids.map(async (id) => {
          let value = await files.read(keyFileName(type, id));
          if (value && type === 'app-state-sync-key') value = proto.Message.AppStateSyncKeyData.fromObject(value);
          if (value !== null && value !== undefined) out[id] = value;
        }),
      );
      return out;
    },
    /** @param {Record<string, Record<string, any>>} data null value = delete */
    async set(data) {
      const jobs = [];
      for (const [type, byId] of Object.entries(data)) {
        for (const [id, value] of Object.entries(byId ?? {})) jobs.push(write(keyFileName(type, id), value ?? null));
      }
      await Promise.all(jobs);
    },
  };

  return {
    state: { creds, keys },
    saveCreds: () => write(CREDS_FILE, creds),
    isRegistered: () => Boolean(creds.account) || creds.registered === true,
    flush: () => files.flush(),
    async clear() {
      closed = true;
      await files.removeAll();
      log.info('auth: credentials deleted');
    },
  };
}
