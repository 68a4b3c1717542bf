/**
 * Parsing and validation of stdin command lines. Pure: a line in, either a
 * validated command or an error message naming the line and the problem out,
 * so the bridge can report it and keep running.
 */

/** Commands the bridge understands. */
export const COMMANDS = ['send', 'send_media', 'request_pairing_code', 'logout', 'status'];

/** user@server, e.g. 15551234567@s.whatsapp.net, 1203...@g.us, 1234@lid. */
const JID_RE = /^[^\s@]+@[a-z0-9.]+$/;
const MIME_RE = /^[a-z0-9][a-z0-9!#$&^_.+-]*\/[a-z0-9][a-z0-9!#$&^_.+-]*$/i;
const BASE64_RE = /^[A-Za-z0-9+/]*={0,2}$/;
const PHONE_RE = /^[0-9]{6,15}$/;
const MAX_REF = 200;

class Invalid extends Error {}

/** @returns {string} a required non-empty string field */
function str(obj, field) {
  const v = obj[field];
  if (v === undefined || v === null) throw new Invalid(`missing field "${field}"`);
  if (typeof v !== 'string') throw new Invalid(`field "${field}" must be a string`);
  if (v.length === 0) throw new Invalid(`field "${field}" must not be empty`);
  return v;
}

/** @returns {string|null} an optional string field */
function optStr(obj, field) {
  const v = obj[field];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string') throw new Invalid(`field "${field}" must be a string`);
  return v;
}

function jid(obj, field) {
  const v = str(obj, field);
  if (!JID_RE.test(v)) throw new Invalid(`field "${field}" is not a jid (user@server): ${JSON.stringify(v.slice(0, 80))}`);
  return v;
}

/**
 * @param {string} line one stdin line (without newline)
 * @param {number} lineNo 1-based line number, for the error message
 * @returns {{command: object} | {error: {ref: string|null, message: string}}}
 */
export function parseCommand(line, lineNo) {
  const where = `stdin line ${lineNo}`;
  let obj;
  try {
    obj = JSON.parse(line);
  } catch (err) {
    return { error: { ref: null, message: `${where}: not JSON: ${err.message}` } };
  }
  if (!obj || typeof obj !== 'object' || Array.isArray(obj)) {
    return { error: { ref: null, message: `${where}: expected a JSON object` } };
  }
  const ref = typeof obj.ref === 'string' && obj.ref.length > 0 && obj.ref.length <= MAX_REF ? obj.ref : null;
  try {
    if (ref === null) {
      if (obj.ref === undefined || obj.ref === null) throw new Invalid('missing field "ref"');
      throw new Invalid(`field "ref" must be a string of 1..${MAX_REF} characters`);
    }
    if (obj.cmd === undefined) throw new Invalid('missing field "cmd"');
    if (!COMMANDS.includes(obj.cmd)) throw new Invalid(`unknown cmd ${JSON.stringify(obj.cmd)} (expected one of ${COMMANDS.join(', ')})`);
    return { command: validate(obj, ref) };
  } catch (err) {
    if (!(err instanceof Invalid)) throw err;
    return { error: { ref, message: `${where}: ${obj.cmd ?? 'command'}: ${err.message}` } };
  }
}

/** Field checks per command; returns the normalised command. */
function validate(obj, ref) {
  switch (obj.cmd) {
    case 'send':
      return { cmd: 'send', ref, to: jid(obj, 'to'), text: str(obj, 'text') };
    case 'send_media': {
      const mime = str(obj, 'mime');
      if (!MIME_RE.test(mime)) throw new Invalid(`field "mime" is not a type/subtype: ${JSON.stringify(mime.slice(0, 80))}`);
      const b64 = str(obj, 'data_b64');
      if (b64.length % 4 !== 0 || !BASE64_RE.test(b64)) throw new Invalid('field "data_b64" is not valid base64');
      return {
        cmd: 'send_media',
        ref,
        to: jid(obj, 'to'),
        mime: mime.toLowerCase(),
        fileName: optStr(obj, 'file_name'),
        caption: optStr(obj, 'caption'),
        data: Buffer.from(b64, 'base64'),
      };
    }
    case 'request_pairing_code': {
      const phone = str(obj, 'phone');
      if (!PHONE_RE.test(phone)) throw new Invalid('field "phone" must be 6-15 digits, country code first, no "+" or spaces');
      return { cmd: 'request_pairing_code', ref, phone };
    }
    default:
      return { cmd: obj.cmd, ref };
  }
}
