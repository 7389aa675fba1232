#!/usr/bin/env node
// `npm run lint`: validates asyncapi.yaml with the AsyncAPI parser (its own rules plus the
// AsyncAPI 3.0 JSON Schema); any error or warning fails. Info and hints are printed only.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Parser } from '@asyncapi/parser';

const file = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'asyncapi.yaml');
const { document, diagnostics } = await new Parser().parse(await readFile(file, 'utf8'));
const SEVERITY = ['error', 'warning', 'info', 'hint'];
let failed = document === undefined;
for (const d of diagnostics) {
  const severity = SEVERITY[d.severity] ?? String(d.severity);
  if (d.severity <= 1) failed = true;
  console.log(`asyncapi.yaml ${severity} ${d.code}: ${d.message} (${d.path.join('.') || '/'})`);
}
if (failed) {
  console.error('asyncapi.yaml is not a valid AsyncAPI document');
  process.exitCode = 1;
} else {
  console.log(`asyncapi.yaml: valid AsyncAPI ${document.version()} (${document.operations().length} operations)`);
}
