/**
 * Validators for the models endpoints' bodies, which test/helpers/schemas.ts does not
 * cover: OpenAI's official `ListModelsResponse` / `Model` (reference/openai, loaded the
 * same way schemas.ts does) and ours, compiled with Ajv from the components of the
 * generated openapi-document.ts (generated/validators has no models validators).
 */
import { readFileSync } from 'node:fs';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { openapiDocument } from '../../generated/openapi-document.js';

function allowNullable(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(allowNullable);
  if (node === null || typeof node !== 'object') return node;
  const entries = Object.entries(node as Record<string, unknown>).filter(([key]) => key !== 'nullable');
  const copy = Object.fromEntries(entries.map(([key, value]) => [key, allowNullable(value)]));
  if ((node as { nullable?: unknown }).nullable === true) return { anyOf: [copy, { type: 'null' }] };
  return copy;
}

const OURS_ID = 'https://moltbot.invalid/openapi.json';

const officialDocument = allowNullable(
  JSON.parse(readFileSync(new URL('../../reference/openai/openai-chat-completions.schema.json', import.meta.url), 'utf8')),
) as { $id: string };

const ajv = new Ajv2020({ strict: false, allErrors: true, discriminator: false });
addFormats.default(ajv);
ajv.addFormat('unixtime', { type: 'number', validate: (n: number) => Number.isInteger(n) && n >= 0 });
ajv.addSchema(officialDocument);
// Our spec's components, addressable as `${OURS_ID}#/components/schemas/<Name>`.
ajv.addSchema({ $id: OURS_ID, components: structuredClone(openapiDocument.components) });

function compiled(ref: string): ValidateFunction {
  const validate = ajv.getSchema(ref);
  if (!validate) throw new Error(`no schema ${ref}`);
  return validate;
}

export type ModelShape = 'list' | 'model';

const validators: Record<ModelShape, { ours: ValidateFunction; openai: ValidateFunction }> = {
  list: {
    ours: compiled(`${OURS_ID}#/components/schemas/ListModelsResponse`),
    openai: compiled(`${officialDocument.$id}#/$defs/ListModelsResponse`),
  },
  model: {
    ours: compiled(`${OURS_ID}#/components/schemas/Model`),
    openai: compiled(`${officialDocument.$id}#/$defs/Model`),
  },
};

/** Problems of `value` against our spec and OpenAI's official schema; empty when valid. */
export function modelSchemaProblems(shape: ModelShape, value: unknown): string[] {
  const problems: string[] = [];
  for (const [who, validate] of Object.entries(validators[shape])) {
    if (!validate(value)) problems.push(`${who}: ${ajv.errorsText(validate.errors)}`);
  }
  return problems;
}
