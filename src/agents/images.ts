/**
 * Images in user messages: `data:` URIs are decoded and checked at once; http(s) URLs
 * are allowed only when configured, and fetched with a size and time limit.
 */
import { Buffer } from 'node:buffer';
import { GatewayError, invalidRequest } from '../errors.js';
import type { ImageInput } from '../providers/types.js';

export interface ImagePolicy {
  /** Images per request. */
  maxCount: number;
  /** Bytes per image, decoded. */
  maxBytes: number;
  /** Whether http(s) URLs are fetched; otherwise only `data:` URIs are taken. */
  allowUrls: boolean;
  fetchTimeoutMs: number;
}

/** An image as the request gave it: decoded already, or a URL still to fetch. */
export type ImageSource = ImageInput | { url: string; detail?: ImageInput['detail'] };

const DATA_URI = /^data:(image\/[a-z0-9.+-]+);base64,([A-Za-z0-9+/=\s]*)$/iu;

function tooLarge(param: string, bytes: number, policy: ImagePolicy): GatewayError {
  return invalidRequest(`The image at '${param}' is ${bytes} bytes; the limit is ${policy.maxBytes}.`, param, 'image_too_large');
}

/** Reads one `image_url` part; 400 naming `param` for anything it cannot take. */
export function parseImage(url: string, detail: ImageInput['detail'] | undefined, param: string, policy: ImagePolicy): ImageSource {
  const extra = detail === undefined ? {} : { detail };
  const data = DATA_URI.exec(url);
  if (data) {
    const base64 = (data[2] as string).replace(/\s+/gu, '');
    const bytes = Buffer.byteLength(base64, 'base64');
    if (bytes === 0) throw invalidRequest(`The image at '${param}' is empty.`, param, 'invalid_image');
    if (bytes > policy.maxBytes) throw tooLarge(param, bytes, policy);
    return { mimeType: (data[1] as string).toLowerCase(), data: base64, ...extra };
  }
  if (/^https?:\/\//iu.test(url)) {
    if (!policy.allowUrls) {
      throw invalidRequest(
        `Image URLs are not fetched by this gateway (gateway.http.images.allowUrls is off); send the image at '${param}' as a data:image/...;base64 URI.`,
        param,
        'image_url_not_allowed',
      );
    }
    return { url, ...extra };
  }
  throw invalidRequest(`The image at '${param}' must be a data:image/...;base64 URI or an http(s) URL.`, param, 'invalid_image');
}

/** Fetches a URL image within the policy's size and time limits. */
export async function fetchImage(source: { url: string; detail?: ImageInput['detail'] }, param: string, policy: ImagePolicy, signal: AbortSignal): Promise<ImageInput> {
  const failed = (why: string): GatewayError => invalidRequest(`The image at '${param}' could not be fetched: ${why}.`, param, 'image_fetch_failed');
  let response: Response;
  try {
    response = await fetch(source.url, { signal: AbortSignal.any([signal, AbortSignal.timeout(policy.fetchTimeoutMs)]), redirect: 'follow' });
  } catch (err) {
    if (signal.aborted) throw err;
    throw failed((err as Error).name === 'TimeoutError' ? `no answer within ${policy.fetchTimeoutMs} ms` : 'unreachable');
  }
  if (!response.ok) throw failed(`it answered ${response.status}`);
  const mimeType = (response.headers.get('content-type') ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (!mimeType.startsWith('image/')) throw failed(`it is ${mimeType || 'untyped'}, not an image`);
  const declared = Number(response.headers.get('content-length'));
  if (declared > policy.maxBytes) throw tooLarge(param, declared, policy);
  const chunks: Uint8Array[] = [];
  let size = 0;
  // Leaving the loop early (throw) cancels the stream, so nothing more is downloaded.
  for await (const chunk of response.body ?? []) {
    size += chunk.length;
    if (size > policy.maxBytes) throw tooLarge(param, size, policy);
    chunks.push(chunk);
  }
  return { mimeType, data: Buffer.concat(chunks).toString('base64'), ...(source.detail === undefined ? {} : { detail: source.detail }) };
}
