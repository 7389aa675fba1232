/**
 * Ajv's standalone validator code as one of our generated ES modules: the header line,
 * no type-checking or linting of generated code, and `require` for the few runtime helpers
 * Ajv's output still loads. Used for every validator module `npm run generate` writes.
 */
import standaloneCodeModule from 'ajv/dist/standalone/index.js';

// CJS interop: the package puts its main export on `.default`.
const standaloneCode = standaloneCodeModule.default ?? standaloneCodeModule;

/** `refs` maps each exported function name to the schema it validates (an id or `$ref`). */
export function standaloneModule(header, ajv, refs) {
  const code = standaloneCode(ajv, refs);
  return (
    header +
    '// @ts-nocheck\n' +
    '/* eslint-disable */\n' +
    "import { createRequire } from 'node:module';\n" +
    'const require = createRequire(import.meta.url);\n' +
    // Ajv's ESM output still starts with a CJS "use strict" prologue; modules are strict anyway.
    code.replace(/^\s*"use strict";\s*/, '').replace(/\s*$/, '\n')
  );
}
