/**
 * Reconnect policy: a pure function from a close's status code (and how many
 * closes in a row happened without a successful open) to what the bridge does
 * next. Kept free of I/O so every case is unit-tested (test/reconnect.test.mjs).
 *
 * Status codes are Baileys' DisconnectReason values, read from
 * `lastDisconnect.error.output.statusCode` (a Boom error).
 */

/** First backoff delay. */
export const BASE_DELAY_MS = 1000;
/** Backoff never waits longer than this. */
export const MAX_DELAY_MS = 60_000;

/** Reason words for the codes Baileys uses (DisconnectReason). */
const REASONS = new Map([
  [401, 'logged_out'],
  [403, 'forbidden'],
  [408, 'timed_out'],
  [411, 'multidevice_mismatch'],
  [428, 'closed'],
  [440, 'replaced'],
  [500, 'bad_session'],
  [503, 'unavailable_service'],
  [515, 'restart_required'],
]);

/**
 * Exponential backoff: 1 s, 2 s, 4 s ... capped at 60 s.
 * @param {number} attempt closes in a row without an open (0 = first)
 * @returns {number} milliseconds
 */
export function backoffMs(attempt) {
  const n = Number.isInteger(attempt) && attempt > 0 ? attempt : 0;
  return Math.min(BASE_DELAY_MS * 2 ** Math.min(n, 30), MAX_DELAY_MS);
}

/**
 * The word reported in `disconnected.reason` for a status code.
 * @param {number|null|undefined} statusCode
 * @returns {string}
 */
export function reasonFor(statusCode) {
  if (statusCode === null || statusCode === undefined) return 'connection_lost';
  return REASONS.get(statusCode) ?? `status_${statusCode}`;
}

/**
 * @typedef {object} Decision
 * @property {boolean} reconnect  open a new socket?
 * @property {number} delayMs     wait before opening it (0 when none)
 * @property {string} reason      word for the `disconnected` event
 * @property {boolean} clearAuth  delete the stored credentials first?
 * @property {number} nextAttempt value of `attempt` for the next close
 */

/**
 * Decide what to do after the socket closed.
 *
 * - 401 loggedOut: credentials are dead; clear them and start a fresh,
 *   unpaired socket so a new QR appears. Immediate the first time; a 401
 *   repeating without an open in between backs off (no tight loop).
 * - 440 connectionReplaced: another client took the session; stay down,
 *   reconnecting would just kick the other one out in a loop.
 * - 403 forbidden: the account is banned/blocked; stay down.
 * - 515 restartRequired: normal after pairing; reconnect immediately.
 * - anything else (incl. no code): backoff 1 s doubling to 60 s; the
 *   caller resets `attempt` to 0 after a successful open.
 *
 * @param {number|null|undefined} statusCode
 * @param {number} attempt closes in a row without a successful open
 * @returns {Decision}
 */
export function decide(statusCode, attempt) {
  const n = Number.isInteger(attempt) && attempt > 0 ? attempt : 0;
  const reason = reasonFor(statusCode);
  switch (statusCode) {
    case 401:
      return { reconnect: true, delayMs: n === 0 ? 0 : backoffMs(n - 1), reason, clearAuth: true, nextAttempt: n + 1 };
    case 440:
    case 403:
      return { reconnect: false, delayMs: 0, reason, clearAuth: false, nextAttempt: 0 };
    case 515:
      return { reconnect: true, delayMs: 0, reason, clearAuth: false, nextAttempt: n };
    default:
      return { reconnect: true, delayMs: backoffMs(n), reason, clearAuth: false, nextAttempt: n + 1 };
  }
}
