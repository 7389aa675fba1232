/**
 * The two curl examples of the public page (reference/moltbot-openai-http-api.md), read
 * at test time so the tests break when the page and the tests diverge.
 */
import { readFileSync } from 'node:fs';

const PAGE = new URL('../../reference/moltbot-openai-http-api.md', import.meta.url);

/** Characters allowed in an unquoted word; anything else is shell syntax we refuse to guess at. */
const PLAIN = /^[A-Za-z0-9_\-./:@=%+,]$/u;

/**
 * Splits one shell command into argv. Understands exactly: blanks between words,
 * single-quoted strings (literal, may span lines), `\` + newline as a line continuation,
 * and a final newline. Throws on anything else (double quotes, `$`, other escapes, `;`...).
 */
export function tokenizeShell(command: string): string[] {
  const argv: string[] = [];
  let word: string | null = null;
  let i = 0;
  const fail = (why: string): never => {
    throw new Error(`tokenizeShell: ${why} at offset ${i} in:\n${command}`);
  };
  while (i < command.length) {
    const c = command[i] as string;
    if (c === ' ' || c === '\t') {
      if (word !== null) argv.push(word);
      word = null;
      i++;
    } else if (c === '\\') {
      if (command[i + 1] !== '\n') fail('backslash not followed by a newline');
      if (word !== null) argv.push(word);
      word = null;
      i += 2;
    } else if (c === '\n') {
      if (command.slice(i + 1).trim() !== '') fail('newline outside quotes before the end of the command');
      break;
    } else if (c === "'") {
      const end = command.indexOf("'", i + 1);
      if (end === -1) fail('unterminated single quote');
      word = (word ?? '') + command.slice(i + 1, end);
      i = end + 1;
    } else if (PLAIN.test(c)) {
      word = (word ?? '') + c;
      i++;
    } else {
      fail(`unsupported character ${JSON.stringify(c)}`);
    }
  }
  if (word !== null) argv.push(word);
  if (argv.length === 0) fail('empty command');
  return argv;
}

/** The body of the first ``` block after the line that is exactly `label`. */
function codeBlockAfter(lines: string[], label: string): string {
  const at = lines.indexOf(label);
  if (at === -1) throw new Error(`page has no line ${JSON.stringify(label)}`);
  const open = lines.indexOf('```', at + 1);
  const close = open === -1 ? -1 : lines.indexOf('```', open + 1);
  if (open === -1 || close === -1) throw new Error(`no fenced block after ${JSON.stringify(label)}`);
  const between = lines.slice(at + 1, open).filter((l) => l.trim() !== '' && l.trim() !== 'Copy');
  if (between.length > 0) throw new Error(`unexpected text between ${JSON.stringify(label)} and its block: ${between.join(' | ')}`);
  return `${lines.slice(open + 1, close).join('\n')}\n`;
}

export interface PageExamples {
  nonStreaming: string[];
  streaming: string[];
}

/** The page's two curl commands as argv (`curl` first), exactly as written. */
export function pageCurlExamples(): PageExamples {
  const lines = readFileSync(PAGE, 'utf8').split('\n');
  const parse = (label: string): string[] => {
    const argv = tokenizeShell(codeBlockAfter(lines, label));
    if (argv[0] !== 'curl') throw new Error(`${label} example does not start with curl: ${argv.join(' ')}`);
    return argv;
  };
  return { nonStreaming: parse('Non-streaming:'), streaming: parse('Streaming:') };
}

/** The JSON given to `-d` in a curl argv. */
export function curlBody(argv: string[]): Record<string, unknown> {
  const flags = argv.flatMap((arg, i) => (arg === '-d' ? [i] : []));
  if (flags.length !== 1) throw new Error(`expected exactly one -d in: ${argv.join(' ')}`);
  const data = argv[(flags[0] as number) + 1];
  if (data === undefined) throw new Error('-d has no value');
  return JSON.parse(data) as Record<string, unknown>;
}

/** The `-H` headers of a curl argv, lower-cased names. */
export function curlHeaders(argv: string[]): Record<string, string> {
  const headers: Record<string, string> = {};
  argv.forEach((arg, i) => {
    if (arg !== '-H') return;
    const value = argv[i + 1] ?? '';
    const colon = value.indexOf(':');
    if (colon <= 0) throw new Error(`malformed header ${JSON.stringify(value)}`);
    headers[value.slice(0, colon).trim().toLowerCase()] = value.slice(colon + 1).trim();
  });
  return headers;
}
