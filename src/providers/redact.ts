/**
 * What an upstream says, made fit to show: its API key and its address taken out, and
 * the text cut without breaking a character. Upstream errors often echo what they were
 * sent (the key, in plain, URL-encoded or base64 form) and where they live (a proxy's
 * "could not reach http://10.0.0.5:8000"); a client sees neither, while the gateway's
 * log keeps the address (`forLogs`). A key shorter than `MIN_SECRET_LENGTH` is a
 * placeholder (`x`, `ollama`, `EMPTY` for local servers), not a secret: replacing every
 * `x` in a message would only mangle it.
 */
import { textPieces } from '../text-pieces.js';

/** Keys shorter than this are placeholders and left alone. */
export const MIN_SECRET_LENGTH = 8;
/** What replaces a secret, and an address. */
const SECRET = '***';
const ADDRESS = '<upstream>';
/** Control characters other than tab and newline (terminal escapes, NULs) are dropped. */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\u0000-\u0008\u000B-\u001F\u007F]/gu;

/** The key's base64 as it appears inside a longer base64 text, at each of the three byte alignments. */
function base64Forms(key: Buffer): string[] {
  const forms: string[] = [];
  for (let offset = 0; offset < 3; offset += 1) {
    const encoded = Buffer.concat([Buffer.alloc(offset), key]).toString('base64').replace(/=+$/u, '');
    // Only the characters made of the key's bits alone.
    const first = Math.ceil((8 * offset) / 6);
    const last = Math.floor((8 * (offset + key.length)) / 6);
    const form = encoded.slice(first, last);
    if (form.length >= MIN_SECRET_LENGTH) forms.push(form, form.replaceAll('+', '-').replaceAll('/', '_'));
  }
  return forms;
}

function replaceAll(text: string, forms: readonly string[], by: string): string {
  let out = text;
  for (const form of forms) if (out.includes(form)) out = out.split(form).join(by);
  return out;
}

export interface Redactor {
  /** Text a client may see: no key, no address, no control characters, at most `max` characters. */
  forClients(text: string, max?: number): string;
  /** Text for the gateway's log: no key, the address kept. */
  forLogs(text: string): string;
}

export function createRedactor(options: { apiKey?: string | undefined; baseUrl?: string | undefined }): Redactor {
  const { apiKey } = options;
  const keyForms =
    apiKey !== undefined && apiKey.length >= MIN_SECRET_LENGTH
      ? [...new Set([apiKey, encodeURIComponent(apiKey), encodeURI(apiKey), ...base64Forms(Buffer.from(apiKey))])].sort((a, b) => b.length - a.length)
      : [];
  const addressForms: string[] = [];
  if (options.baseUrl) {
    const url = new URL(options.baseUrl);
    addressForms.push(options.baseUrl.replace(/\/+$/u, ''), url.origin, url.host);
    // A bare host name only when it reads as an address (an IP or a dotted name): a
    // one-word service name (`ollama`) is also a word in the upstream's own messages.
    if (/[.:]/u.test(url.hostname)) addressForms.push(url.hostname.replace(/^\[|\]$/gu, ''));
  }
  const addresses = [...new Set(addressForms)].sort((a, b) => b.length - a.length);
  const forLogs = (text: string): string => replaceAll(text, keyForms, SECRET);
  return {
    forLogs,
    forClients(text, max = 500) {
      const clean = replaceAll(forLogs(text), addresses, ADDRESS).replace(CONTROL, '');
      return clean.length <= max ? clean : (textPieces(clean, max).next().value as string);
    },
  };
}

/** The first `code` (ECONNREFUSED, ENOTFOUND, ...) down an error's cause chain. */
function errorCode(err: unknown): string | undefined {
  for (let e = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth += 1) {
    const { code } = e as NodeJS.ErrnoException;
    if (typeof code === 'string') return code;
  }
  return undefined;
}

/**
 * Why a connection to an upstream failed, in words that name no address (the message
 * of a connection error does: `connect ECONNREFUSED 10.0.0.5:8000`).
 */
export function connectionFailure(err: unknown): string {
  const code = errorCode(err) ?? '';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'its host name did not resolve';
  if (code === 'ECONNREFUSED') return 'the connection was refused';
  if (code === 'ECONNRESET' || code === 'EPIPE' || code === 'UND_ERR_SOCKET') return 'the connection was closed before an answer';
  if (code === 'ETIMEDOUT' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'UND_ERR_CONNECT_TIMEOUT') return 'the network did not reach it';
  if (code === 'EPROTO' || code.startsWith('ERR_SSL') || code.includes('CERT') || code.startsWith('ERR_TLS')) return 'the TLS handshake failed';
  return code ? `the connection failed (${code})` : 'the connection failed';
}

/** An error's message with its causes' (`fetch failed: connect ECONNREFUSED 10.0.0.5:8000`), for the log. */
export function errorChain(err: unknown): string {
  const parts: string[] = [];
  for (let e = err, depth = 0; e !== undefined && depth < 5; e = e instanceof Error ? e.cause : undefined, depth += 1) {
    parts.push(e instanceof Error ? e.message : String(e));
  }
  return parts.join(': ');
}
