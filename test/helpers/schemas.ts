/**
 * Validators for every response and stream chunk: ours (generated from openapi.yaml)
 * and OpenAI's official schemas (reference/openai, MIT; `nullable: true` is OAS 3.0 and
 * is rewritten to allow null before compiling with Ajv 2020).
 */
import { readFileSync } from 'node:fs';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import {
  validateCreateChatCompletionResponse,
  validateCreateChatCompletionStreamResponse,
  validateErrorResponse,
} from '../../generated/validators/index.js';

function allowNullable(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(allowNullable);
  if (node === null || typeof node !== 'object') return node;
  const entries = Object.entries(node as Record<string, unknown>).filter(([key]) => key !== 'nullable');
  const copy = Object.fromEntries(entries.map(([key, value]) => [key, allowNullable(value)]));
  if ((node as { nullable?: unknown }).nullable === true) return { anyOf: [copy, { type: 'null' }] };
  return copy;
}

const officialDocument = allowNullable(
  JSON.parse(readFileSync(new URL('../../reference/openai/openai-chat-completions.schema.json', import.meta.url), 'utf8')),
) as { $id: string };
const ajv = new Ajv2020({ strict: false, allErrors: true, discriminator: false });
addFormats.default(ajv);
// OpenAI's own format for Unix timestamps.
ajv.addFormat('unixtime', { type: 'number', validate: (n: number) => Number.isInteger(n) && n >= 0 });
ajv.addSchema(officialDocument);
const official = (name: string): ValidateFunction => {
  const validate = ajv.getSchema(`${officialDocument.$id}#/$defs/${name}`);
  if (!validate) throw new Error(`no official schema ${name}`);
  return validate;
};

export type Shape = 'completion' | 'chunk' | 'error';

const validators: Record<Shape, { ours: ValidateFunction; openai: ValidateFunction }> = {
  completion: { ours: validateCreateChatCompletionResponse, openai: official('CreateChatCompletionResponse') },
  chunk: { ours: validateCreateChatCompletionStreamResponse, openai: official('CreateChatCompletionStreamResponse') },
  error: { ours: validateErrorResponse, openai: official('ErrorResponse') },
};

/** Problems of `value` against our spec and OpenAI's official schema; empty when valid. */
export function schemaProblems(shape: Shape, value: unknown): string[] {
  const problems: string[] = [];
  for (const [who, validate] of Object.entries(validators[shape])) {
    if (!validate(value)) problems.push(`${who}: ${ajv.errorsText(validate.errors)}`);
  }
  return problems;
}
