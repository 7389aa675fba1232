// Builds the self-contained API reference page served at /docs: Redoc with its scripts
// inlined (`--inlineBundle`), then with the remote images Redoc always references (its
// "API docs by Redocly" badge) swapped for an inline blank image, so the page loads
// nothing from elsewhere. The gateway also sends a Content-Security-Policy with it.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const output = `${root}dist/docs/index.html`;
execFileSync(
  `${root}node_modules/.bin/redocly`,
  ['build-docs', 'openapi.yaml', '--inlineBundle', '--title', 'Moltbot Gateway API', '-o', output],
  { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] },
);
const blank = `data:image/svg+xml,${encodeURIComponent('<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"/>')}`;
const page = readFileSync(output, 'utf8');
const rewritten = page.replace(/https:\/\/cdn\.redoc\.ly\/redoc\/[A-Za-z0-9._-]+\.svg/gu, blank);
writeFileSync(output, rewritten);
console.log(`built ${output.slice(root.length)} (${Math.round(rewritten.length / 1024)} KiB)`);
