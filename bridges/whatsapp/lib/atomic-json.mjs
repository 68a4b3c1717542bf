/**
 * A folder of JSON files written atomically, one write queue per file.
 *
 * Why: Baileys writes signal keys and credentials constantly, often several
 * writes of the same key at once. A plain writeFile can leave a half-written
 * (corrupt) file when the process dies mid-write, and two concurrent writes
 * can interleave. Here every write goes to a temp file in the same folder,
 * is fsynced, then renamed over the target (rename is atomic on POSIX), and
 * writes to one file run strictly one after another, so the last value
 * queued is the one that ends up on disk.
 *
 * Reads treat a missing or unparseable file as absent (logged, never thrown).
 */
import * as fsp from 'node:fs/promises';
import { join } from 'node:path';

/** Suffix of temp files; leftovers from a crash are swept by sweepTemps(). */
export const TEMP_SUFFIX = '.tmp';

/**
 * Turn an arbitrary key into a safe file-name stem: keeps [A-Za-z0-9_@=+-.],
 * %-encodes everything else (and a leading dot, so it never looks like a temp file).
 * @param {string} key
 * @returns {string}
 */
export function safeName(key) {
  const s = String(key).replace(/[^A-Za-z0-9_@=+.-]/g, (c) => `%${c.codePointAt(0).toString(16).padStart(2, '0')}`);
  return s.startsWith('.') ? `%2e${s.slice(1)}` : s;
}

/**
 * @param {object} opts
 * @param {string} opts.dir folder holding the files (must exist)
 * @param {{warn: Function, error: Function, debug?: Function}} opts.log
 * @param {(key: string, value: any) => any} [opts.replacer] JSON.stringify replacer
 * @param {(key: string, value: any) => any} [opts.reviver] JSON.parse reviver
 * @param {typeof fsp} [opts.fs] fs/promises implementation (tests inject faults)
 */
export function createJsonFiles({ dir, log, replacer, reviver, fs = fsp }) {
  /** @type {Map<string, Promise<void>>} tail of each file's write queue */
  const tails = new Map();
  /** @type {Map<string, number>} sequence number of the newest queued write per file */
  const newest = new Map();
  let tempSeq = 0;

  /** Write `text` to `name` via temp file + fsync + rename. */
  async function writeNow(name, text) {
    const target = join(dir, name);
    const temp = join(dir, `.${name}.${process.pid}.${++tempSeq}${TEMP_SUFFIX}`);
    try {
      const fh = await fs.open(temp, 'w', 0o600);
      try {
        await fh.writeFile(text, 'utf8');
        await fh.sync();
      } finally {
        await fh.close();
      }
      await fs.rename(temp, target);
    } catch (err) {
      await fs.unlink(temp).catch(() => {});
      throw err;
    }
    await syncDir();
  }

  /** fsync the folder so the rename itself survives a power cut (best effort). */
  async function syncDir() {
    let fh;
    try {
      fh = await fs.open(dir, 'r');
      await fh.sync();
    } catch {
      // Some filesystems refuse fsync on a directory; the rename is still atomic.
    } finally {
      await fh?.close().catch(() => {});
    }
  }

  async function removeNow(name) {
    await fs.unlink(join(dir, name)).catch((err) => {
      if (err.code !== 'ENOENT') throw err;
    });
  }

  return {
    /**
     * Queue a write of `value` (null/undefined deletes the file). Writes of one
     * file never overlap; a write overtaken by a newer one is skipped
     * (coalesced), since only the last value matters.
     * @param {string} name file name inside dir
     * @param {any} value
     * @returns {Promise<void>} settles when this value (or a newer one) is on disk
     */
    write(name, value) {
      const text = value === null || value === undefined ? null : JSON.stringify(value, replacer);
      const seq = (newest.get(name) ?? 0) + 1;
      newest.set(name, seq);
      const prev = tails.get(name) ?? Promise.resolve();
      const job = prev.then(() => {
        if (newest.get(name) !== seq) return undefined; // a newer value is queued behind us
        return text === null ? removeNow(name) : writeNow(name, text);
      });
      const tail = job.catch(() => {});
      tails.set(name, tail);
      tail.then(() => {
        if (tails.get(name) === tail) {
          tails.delete(name);
          newest.delete(name);
        }
      });
      return job;
    },

    /**
     * Read and parse `name`; null when missing or corrupt. Waits for queued
     * writes of the same file first, so a read never sees a stale value.
     * @param {string} name
     * @returns {Promise<any|null>}
     */
    async read(name) {
      await tails.get(name);
      let text;
      try {
        text = await fs.readFile(join(dir, name), 'utf8');
      } catch (err) {
        if (err.code !== 'ENOENT') log.warn(`auth: cannot read ${name}: ${err.message}; treating as missing`);
        return null;
      }
      try {
        return JSON.parse(text, reviver);
      } catch (err) {
        log.warn(`auth: ${name} is corrupt (${err.message}); treating as missing`);
        return null;
      }
    },

    /** Resolve once every queued write has settled. */
    async flush() {
      while (tails.size > 0) await Promise.all([...tails.values()]);
    },

    /** Delete leftover temp files from a crash between temp write and rename. */
    async sweepTemps() {
      for (const entry of await fs.readdir(dir)) {
        if (entry.startsWith('.') && entry.endsWith(TEMP_SUFFIX)) {
          log.warn(`auth: removing leftover temp file ${entry}`);
          await fs.unlink(join(dir, entry)).catch(() => {});
        }
      }
    },

    /** Delete every file in the folder (after flushing queued writes). */
    async removeAll() {
      await this.flush();
      for (const entry of await fs.readdir(dir)) {
        await fs.rm(join(dir, entry), { recursive: true, force: true });
      }
    },
  };
}
