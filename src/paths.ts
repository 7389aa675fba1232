/**
 * Files the gateway serves from its own package: the spec and the docs page built from
 * it (`npm run build` writes `dist/docs/index.html`). Found from the package root, so the
 * same code works from `src/` (tests) and `dist/` (the built command).
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('moltbot-gateway: package.json not found above the code');
    dir = parent;
  }
  return dir;
}

const root = packageRoot();

export const paths = {
  openapi: join(root, 'openapi.yaml'),
  docs: join(root, 'dist', 'docs', 'index.html'),
} as const;
