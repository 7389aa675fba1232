/** `GET /openapi.yaml` and `GET /docs`: the spec and its reference page, no auth, no config. */
import { readFile } from 'node:fs/promises';
import { paths } from '../../paths.js';
import type { HandlerResult } from '../handler.js';
import { docsMissing } from '../http-errors.js';

/** Reads a served file once, on first use. */
function cached(path: string, what: string): () => Promise<Buffer> {
  let content: Promise<Buffer> | undefined;
  return () => {
    content ??= readFile(path).catch((err: NodeJS.ErrnoException) => {
      content = undefined;
      throw docsMissing(what, err);
    });
    return content;
  };
}

const spec = cached(paths.openapi, 'OpenAPI document');
const page = cached(paths.docs, 'API reference page');

export async function getOpenApiDocument(): Promise<HandlerResult<'getOpenApiDocument'>> {
  return { kind: 'raw', status: 200, contentType: 'application/yaml; charset=utf-8', body: await spec() };
}

/** Redoc runs inline scripts and a blob: worker; everything else must come from here. */
const DOCS_POLICY = [
  "default-src 'self'",
  "script-src 'self' 'unsafe-inline' blob:",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "font-src 'self' data:",
  "worker-src 'self' blob:",
  "connect-src 'self'",
].join('; ');

export async function getDocs(): Promise<HandlerResult<'getDocs'>> {
  return {
    kind: 'raw',
    status: 200,
    contentType: 'text/html; charset=utf-8',
    headers: { 'content-security-policy': DOCS_POLICY },
    body: await page(),
  };
}
