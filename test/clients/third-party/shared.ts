/**
 * Inputs both third-party programs send: real JSON Schemas for a tool's `parameters` and
 * for `response_format.json_schema.schema` (the spec once typed both as empty objects).
 */
export const weatherParameters = {
  type: 'object',
  properties: {
    city: { type: 'string', description: 'City name, e.g. Paris' },
    unit: { type: 'string', enum: ['celsius', 'fahrenheit'] },
    days: { type: 'integer', minimum: 1, maximum: 7 },
  },
  required: ['city'],
  additionalProperties: false,
} as const;

export const answerSchema = {
  type: 'object',
  properties: {
    answer: { type: 'string' },
    confidence: { type: 'number', minimum: 0, maximum: 1 },
    sources: { type: 'array', items: { type: 'string', format: 'uri' } },
  },
  required: ['answer', 'confidence'],
  additionalProperties: false,
} as const;

/** What a program reports back to the test. */
export interface ProgramResult {
  /** The final reply after the tool-call round trip. */
  reply: string | null;
  /** The tool call the model made, as the program read it. */
  call: { name: string; arguments: unknown } | undefined;
  sessionKey: string | null;
}
