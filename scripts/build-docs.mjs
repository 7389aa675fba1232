// Builds the self-contained API reference page served at /docs: Redoc with its scripts
// inlined (`--inlineBundle`), then with the remote images Redoc always references (its
// "API docs by Redocly" badge) swapped for an inline blank image, so the page loads
// nothing from elsewhere. The gateway also sends a Content-Security-Policy with it.
//
// The page also has a "WebSocket protocol" section, written from asyncapi.yaml (the
// channel, each method with its scope, params and result, each event) into the spec's
// description for Redoc to render; the served openapi.json is not changed.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import { listWsContract } from './generate-ws.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const output = `${root}dist/docs/index.html`;

/** The WebSocket protocol as a Markdown section, from asyncapi.yaml. */
function websocketSection() {
  const doc = parse(readFileSync(`${root}asyncapi.yaml`, 'utf8'));
  const { methods, events } = listWsContract(doc);
  const summary = (key) => (doc.operations[key]?.summary ?? '').replaceAll('|', '\\|');
  const eventSummary = (name) => (doc.operations[`${name}.event`]?.summary ?? '').replaceAll('|', '\\|');
  return [
    '## WebSocket protocol',
    '',
    `The same port also serves the Moltbot Gateway WebSocket protocol, version 3 (\`ws://HOST:18789/\`, any path). ${doc.channels.gateway.description}`,
    '',
    'Frames: `{"type":"req","id","method","params"}` from the client; `{"type":"res","id","ok","payload"|"error":{"code","message","details"}}` and `{"type":"event","event","payload","seq"}` from the gateway. Authenticate in `connect` with `auth.token` (token mode) or `auth.password` (password mode); a `device` block, when sent, must carry a valid Ed25519 signature of the challenge. Its full description is `asyncapi.yaml` (AsyncAPI 3.0).',
    '',
    '| method | scope | params | result | what it does |',
    '|---|---|---|---|---|',
    ...methods.map((m) => `| \`${m.name}\` | operator.${m.scope} | \`${m.params}\` | \`${m.result}\` | ${summary(m.name)} |`),
    '',
    '| event | payload | when |',
    '|---|---|---|',
    ...events.map((e) => `| \`${e.name}\` | \`${e.payload}\` | ${eventSummary(e.name)} |`),
    '',
  ].join('\n');
}

const spec = parse(readFileSync(`${root}openapi.yaml`, 'utf8'));
spec.info.description = `${spec.info.description ?? ''}\n\n${websocketSection()}`;
const scratch = mkdtempSync(join(tmpdir(), 'moltbot-docs-'));
const input = join(scratch, 'openapi.yaml');
writeFileSync(input, stringify(spec, { lineWidth: 0 }));
try {
  execFileSync(
    `${root}node_modules/.bin/redocly`,
    ['build-docs', input, '--inlineBundle', '--title', 'Moltbot Gateway API', '-o', output],
    { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] },
  );
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
const blank = `data:image/svg+xml,${encodeURIComponent('<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"/>')}`;
const page = readFileSync(output, 'utf8');
const rewritten = page.replace(/https:\/\/cdn\.redoc\.ly\/redoc\/[A-Za-z0-9._-]+\.svg/gu, blank);
writeFileSync(output, rewritten);
console.log(`built ${output.slice(root.length)} (${Math.round(rewritten.length / 1024)} KiB)`);
