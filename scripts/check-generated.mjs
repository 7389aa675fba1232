#!/usr/bin/env node
// Fails when the committed generated/ is out of date with openapi.yaml.
//
//   node scripts/check-generated.mjs
//
// Regenerates into a fresh temp dir and compares it file by file with
// generated/ (missing, extra and differing files). Exit 0 when identical,
// 1 on drift (the differing paths are printed), 2 when generation fails.
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

import { defaultOutDir, generate } from './generate.mjs';

/** Files that tools may leave behind but that are not part of the output. */
const IGNORED = [/(^|\/)openapi-ts-error-[^/]*\.log$/, /(^|\/)\.DS_Store$/];

async function listFiles(dir) {
  let entries;
  try {
    entries = await readdir(dir, { recursive: true, withFileTypes: true });
  } catch (err) {
    if (err.code === 'ENOENT') return [];
    throw err;
  }
  return entries
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath ?? e.path, e.name)).split(path.sep).join('/'))
    .filter((rel) => !IGNORED.some((re) => re.test(rel)))
    .sort();
}

/**
 * Compare two directory trees byte for byte.
 * @param {string} expectedDir freshly generated output
 * @param {string} actualDir committed output
 * @returns {Promise<{ missing: string[], extra: string[], different: string[], fileCount: number }>}
 *   missing: in expectedDir only; extra: in actualDir only; different: contents differ.
 */
export async function compareDirs(expectedDir, actualDir) {
  const expected = await listFiles(expectedDir);
  const actual = await listFiles(actualDir);
  const actualSet = new Set(actual);
  const expectedSet = new Set(expected);
  const missing = expected.filter((f) => !actualSet.has(f));
  const extra = actual.filter((f) => !expectedSet.has(f));
  const different = [];
  for (const rel of expected) {
    if (!actualSet.has(rel)) continue;
    const [a, b] = await Promise.all([
      readFile(path.join(expectedDir, rel)),
      readFile(path.join(actualDir, rel)),
    ]);
    if (!a.equals(b)) different.push(rel);
  }
  return { missing, extra, different, fileCount: expected.length };
}

/** Regenerate into a temp dir and compare with `committedDir` (default generated/). */
export async function checkGenerated(committedDir = defaultOutDir) {
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'moltbot-generated-'));
  try {
    const freshDir = path.join(tmp, 'generated');
    await generate(freshDir);
    return await compareDirs(freshDir, committedDir);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

async function main() {
  let result;
  try {
    result = await checkGenerated();
  } catch (err) {
    console.error('check-generated: generation failed:', err);
    return 2;
  }
  const { missing, extra, different, fileCount } = result;
  if (missing.length + extra.length + different.length === 0) {
    console.log(`generated/ is up to date (${fileCount} files)`);
    return 0;
  }
  console.error('generated/ is out of date with openapi.yaml; run `npm run generate`:');
  for (const f of missing) console.error(`  missing:   generated/${f}`);
  for (const f of extra) console.error(`  extra:     generated/${f}`);
  for (const f of different) console.error(`  different: generated/${f}`);
  return 1;
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  process.exitCode = await main();
}
