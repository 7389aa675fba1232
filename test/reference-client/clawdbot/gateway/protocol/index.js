// REPLACEMENT (not from the package): the package's protocol/index.js compiles its TypeBox
// schemas (`./schema.js`, which needs @sinclair/typebox) with the same Ajv options; these
// are the same schemas as JSON Schema (reference/moltbot-gateway/gateway-protocol-v3.schema.json,
// converted from them; all 101 definitions identical), compiled the same way. Only what
// client.js imports is exported.
import { readFileSync } from "node:fs";
import AjvPkg from "ajv";
const { definitions } = JSON.parse(readFileSync(new URL("../../../../../reference/moltbot-gateway/gateway-protocol-v3.schema.json", import.meta.url), "utf8"));
const Ajv = AjvPkg.default ?? AjvPkg;
const ajv = new Ajv({
    allErrors: true,
    strict: false,
    removeAdditional: false,
});
export const PROTOCOL_VERSION = 3;
export const validateRequestFrame = ajv.compile(definitions.RequestFrame);
export const validateResponseFrame = ajv.compile(definitions.ResponseFrame);
export const validateEventFrame = ajv.compile(definitions.EventFrame);
