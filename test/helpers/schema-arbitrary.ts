/**
 * A small JSON Schema → fast-check translator for the keywords openapi.yaml's request
 * schemas use: type (also arrays of types), properties/required, items/minItems/maxItems,
 * enum/const, anyOf/oneOf, minimum/maximum, minLength/maxLength, pattern, a boolean
 * `additionalProperties` and `$ref` to `#/components/...`. Any other validation keyword throws, so a spec change the
 * translator does not understand cannot silently weaken the fuzz test.
 *
 * Also: which JSON types a schema accepts (for "wrong type" mutations) and values of the
 * right type that break one of its bounds (for "out of range" mutations).
 */
import fc from 'fast-check';

export type Schema = Record<string, unknown>;
export type JsonType = 'string' | 'number' | 'integer' | 'boolean' | 'null' | 'array' | 'object';
export const JSON_TYPES: readonly JsonType[] = ['string', 'number', 'integer', 'boolean', 'null', 'array', 'object'];

const VALIDATION = new Set(['$ref', 'type', 'properties', 'required', 'items', 'minItems', 'maxItems', 'enum', 'const', 'anyOf', 'oneOf', 'minimum', 'maximum', 'minLength', 'maxLength', 'pattern', 'additionalProperties']);
/** Keywords that do not constrain instances (`discriminator` only narrows which branch is checked). */
const ANNOTATIONS = new Set(['description', 'examples', 'example', 'title', 'default', 'deprecated', 'discriminator', '$comment', 'readOnly', 'writeOnly']);

export interface SchemaArbitraryOptions {
  /** Most items generated for an array without a smaller `maxItems` (default 3). */
  maxItems?: number;
  /** Most characters generated for a string beyond its `minLength`, besides `maxLength` itself (default 16). */
  stringSlack?: number;
}

/** One code point per unit, ASCII or anything, so lengths match JSON Schema's code-point counts. */
const codePoint = fc.oneof({ weight: 3, arbitrary: fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 1 }) }, { weight: 1, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) });
const codePoints = (min: number, max: number): fc.Arbitrary<string> => fc.string({ unit: codePoint, minLength: min, maxLength: max });
const length = (s: string): number => [...s].length;

/** A free-form JSON object (`type: object` without properties). */
const freeObject = fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 });

export class SchemaTranslator {
  private readonly memo = new Map<string, fc.Arbitrary<unknown>>();
  private readonly maxItems: number;
  private readonly stringSlack: number;

  constructor(
    private readonly document: Schema,
    options: SchemaArbitraryOptions = {},
  ) {
    this.maxItems = options.maxItems ?? 3;
    this.stringSlack = options.stringSlack ?? 16;
  }

  /** The schema a `#/...` reference points at. */
  resolve(ref: string): Schema {
    if (!ref.startsWith('#/')) throw new Error(`only local $refs are supported: ${ref}`);
    let node: unknown = this.document;
    for (const part of ref.slice(2).split('/')) node = (node as Record<string, unknown> | undefined)?.[part.replace(/~1/gu, '/').replace(/~0/gu, '~')];
    if (node === null || typeof node !== 'object') throw new Error(`$ref ${ref} points at nothing`);
    return node as Schema;
  }

  /** The schema itself, with a `$ref` followed (annotations beside it are ignored). */
  deref(schema: Schema): Schema {
    return typeof schema.$ref === 'string' ? this.deref(this.resolve(schema.$ref)) : schema;
  }

  /** Values valid against `schema`. */
  arbitrary(schema: Schema): fc.Arbitrary<unknown> {
    for (const key of Object.keys(schema)) {
      if (!VALIDATION.has(key) && !ANNOTATIONS.has(key)) throw new Error(`schema keyword '${key}' is not supported by the translator: ${JSON.stringify(schema).slice(0, 200)}`);
    }
    if ('additionalProperties' in schema && typeof schema.additionalProperties !== 'boolean') {
      throw new Error(`only a boolean additionalProperties is supported by the translator: ${JSON.stringify(schema).slice(0, 200)}`);
    }
    if (typeof schema.$ref === 'string') {
      const ref = schema.$ref;
      let arb = this.memo.get(ref);
      if (!arb) {
        // Recursive schemas would need fc.letrec; the request schemas are not recursive.
        arb = this.arbitrary(this.resolve(ref));
        this.memo.set(ref, arb);
      }
      return arb;
    }
    const combined = (schema.anyOf ?? schema.oneOf) as Schema[] | undefined;
    if ('const' in schema) return fc.constant(schema.const);
    if (Array.isArray(schema.enum)) return fc.constantFrom(...(schema.enum as unknown[]));
    if (combined) {
      if (schema.type !== undefined) throw new Error('type beside anyOf/oneOf is not supported');
      // oneOf branches in the spec are told apart by a const tag, so any branch's value matches one only.
      return fc.oneof(...combined.map((branch) => this.arbitrary(branch)));
    }
    const types = this.typesOf(schema);
    return fc.oneof(...types.map((type) => this.ofType(type, schema)));
  }

  private typesOf(schema: Schema): JsonType[] {
    if (schema.type === undefined) return [...JSON_TYPES].filter((t) => t !== 'integer');
    return (Array.isArray(schema.type) ? schema.type : [schema.type]) as JsonType[];
  }

  private ofType(type: JsonType, schema: Schema): fc.Arbitrary<unknown> {
    const minimum = schema.minimum as number | undefined;
    const maximum = schema.maximum as number | undefined;
    switch (type) {
      case 'null':
        return fc.constant(null);
      case 'boolean':
        return fc.boolean();
      case 'integer':
        return fc.integer({ min: Math.ceil(minimum ?? -(2 ** 31)), max: Math.floor(maximum ?? 2 ** 31 - 1) });
      case 'number': {
        const min = minimum ?? -1e9;
        const max = maximum ?? 1e9;
        return fc.oneof(
          fc.double({ min, max, noNaN: true, noDefaultInfinity: true }),
          fc.integer({ min: Math.ceil(min), max: Math.floor(max) }),
          fc.constantFrom(...[min, max].filter((n) => Number.isFinite(n))),
        );
      }
      case 'string': {
        const minLength = (schema.minLength as number | undefined) ?? 0;
        const maxLength = (schema.maxLength as number | undefined) ?? Number.POSITIVE_INFINITY;
        if (typeof schema.pattern === 'string') {
          const pattern = new RegExp(schema.pattern, 'u');
          return fc.stringMatching(pattern, { maxLength: Number.isFinite(maxLength) ? maxLength : 64 }).filter((s) => length(s) >= minLength && length(s) <= maxLength);
        }
        const short = codePoints(minLength, Math.min(maxLength, minLength + this.stringSlack));
        return Number.isFinite(maxLength) ? fc.oneof({ weight: 9, arbitrary: short }, { weight: 1, arbitrary: codePoints(maxLength, maxLength) }) : short;
      }
      case 'array': {
        const items = (schema.items as Schema | undefined) ?? {};
        const minItems = (schema.minItems as number | undefined) ?? 0;
        const maxItems = Math.min((schema.maxItems as number | undefined) ?? Number.POSITIVE_INFINITY, Math.max(minItems, this.maxItems));
        return fc.array(this.arbitrary(items), { minLength: minItems, maxLength: maxItems });
      }
      case 'object': {
        const properties = schema.properties as Record<string, Schema> | undefined;
        // Generated objects hold only the listed keys, which `additionalProperties: false` allows too.
        if (!properties) return schema.additionalProperties === false ? fc.constant({}) : freeObject;
        const model = Object.fromEntries(Object.entries(properties).map(([key, sub]) => [key, this.arbitrary(sub)]));
        return fc.record(model, { requiredKeys: (schema.required as string[] | undefined) ?? [] });
      }
    }
  }

  /** The JSON types some value valid against `schema` can have. */
  acceptedTypes(schema: Schema): Set<JsonType> {
    const s = this.deref(schema);
    const combined = (s.anyOf ?? s.oneOf) as Schema[] | undefined;
    if (combined) return new Set(combined.flatMap((branch) => [...this.acceptedTypes(branch)]));
    const literals = 'const' in s ? [s.const] : Array.isArray(s.enum) ? (s.enum as unknown[]) : undefined;
    if (literals) return new Set(literals.map(jsonTypeOf));
    const types = new Set(this.typesOf(s));
    if (types.has('number')) types.add('integer');
    return types;
  }

  /**
   * Values of a type `schema` accepts that break one of its bounds (minimum/maximum,
   * minLength/maxLength, minItems/maxItems) and match no other branch.
   */
  outOfRange(schema: Schema): fc.Arbitrary<unknown>[] {
    const s = this.deref(schema);
    const combined = (s.anyOf ?? s.oneOf) as Schema[] | undefined;
    if (combined) {
      return combined.flatMap((branch, i) => {
        const others = new Set(combined.filter((_, j) => j !== i).flatMap((other) => [...this.acceptedTypes(other)]));
        const own = [...this.acceptedTypes(branch)];
        // A string too long for one branch may be fine for another that takes any string.
        return own.some((type) => others.has(type)) ? [] : this.outOfRange(branch);
      });
    }
    const types = this.typesOf(s);
    const found: fc.Arbitrary<unknown>[] = [];
    const minimum = s.minimum as number | undefined;
    const maximum = s.maximum as number | undefined;
    const integer = types.includes('integer') && !types.includes('number');
    if (types.includes('number') || types.includes('integer')) {
      // Filtered: -0 is not below a minimum of 0 once it is JSON.
      if (minimum !== undefined) {
        const below = integer ? fc.integer({ min: minimum - 1000, max: minimum - 1 }) : fc.double({ min: minimum - 100, max: minimum, maxExcluded: true, noNaN: true });
        found.push(below.filter((n) => n < minimum));
      }
      if (maximum !== undefined) {
        const above = integer ? fc.integer({ min: maximum + 1, max: maximum + 1000 }) : fc.double({ min: maximum, minExcluded: true, max: maximum + 100, noNaN: true });
        found.push(above.filter((n) => n > maximum));
      }
    }
    if (types.includes('string')) {
      const minLength = s.minLength as number | undefined;
      const maxLength = s.maxLength as number | undefined;
      if (minLength !== undefined && minLength > 0) found.push(codePoints(0, minLength - 1));
      if (maxLength !== undefined) found.push(codePoints(maxLength + 1, maxLength + 20));
    }
    if (types.includes('array')) {
      const minItems = s.minItems as number | undefined;
      const maxItems = s.maxItems as number | undefined;
      const item = this.arbitrary((s.items as Schema | undefined) ?? {});
      if (minItems !== undefined && minItems > 0) found.push(fc.array(item, { maxLength: minItems - 1 }));
      if (maxItems !== undefined) found.push(fc.array(item, { minLength: maxItems + 1, maxLength: maxItems + 3 }));
    }
    return found;
  }
}

/** The JSON type of a value (`integer` for whole numbers). */
export function jsonTypeOf(value: unknown): JsonType {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value as JsonType;
}

/** Values of a JSON type, for "wrong type" mutations. */
export function valueOfType(type: JsonType): fc.Arbitrary<unknown> {
  switch (type) {
    case 'string':
      return fc.string({ maxLength: 8 });
    case 'integer':
      return fc.integer();
    case 'number':
      return fc.integer({ min: -1000, max: 1000 }).map((n) => n + 0.5);
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    case 'array':
      return fc.array(fc.jsonValue({ maxDepth: 1 }), { maxLength: 2 });
    case 'object':
      return freeObject;
  }
}
