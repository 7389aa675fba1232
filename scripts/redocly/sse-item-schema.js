/**
 * A Redocly plugin: a Media Type Object's `x-itemSchema` is a Schema. The spec stays on
 * OAS 3.1, where OAS 3.2's `itemSchema` (the schema of each item of a sequential media
 * type such as `text/event-stream`) does not exist yet, and carries it under this
 * extension name (docs/decisions/0008-sse-item-schema.md). With the plugin, Redocly resolves
 * and lints the `$ref` inside it, and the stream's event schema counts as used, so
 * `no-unused-components` stays on.
 */
export default function sseItemSchemaPlugin() {
  return {
    id: 'sse-item-schema',
    typeExtension: {
      oas3(types) {
        return {
          ...types,
          MediaType: {
            ...types.MediaType,
            properties: { ...types.MediaType.properties, 'x-itemSchema': 'Schema' },
          },
        };
      },
    },
  };
}
