/**
 * Time limits built on injected timers (so tests drive them with fake ones).
 */

/**
 * Like `p`, but rejects with `why` after `ms`.
 * @param {{setTimeout: Function, clearTimeout: Function}} timers
 * @param {Promise<any>} p
 * @param {number} ms
 * @param {string} why
 */
export function deadline(timers, p, ms, why) {
  return new Promise((resolve, reject) => {
    const t = timers.setTimeout(() => reject(new Error(why)), ms);
    p.then(resolve, reject).finally(() => timers.clearTimeout(t));
  });
}

/**
 * Wait for `p` to settle, but no longer than `ms`; never rejects.
 * @param {{setTimeout: Function, clearTimeout: Function}} timers
 * @param {Promise<any>} p
 * @param {number} ms
 * @returns {Promise<void>}
 */
export function within(timers, p, ms) {
  return new Promise((resolve) => {
    const t = timers.setTimeout(resolve, ms);
    p.catch(() => {}).finally(() => {
      timers.clearTimeout(t);
      resolve();
    });
  });
}
