/**
 * Images in user messages: `data:` URIs are decoded and checked at once; http(s) URLs
 * are allowed only when configured, and fetched with a size and time limit. Errors name
 * the image as the turn input it is (`input[i].images[j]`).
 */
import { Buffer } from 'node:buffer';
import { imageFetchFailed, imageTooLarge, imageUrlNotAllowed, invalidImage, type TurnField } from '../domain/errors.js';
import type { ImageInput, ImageRef } from '../domain/messages.js';

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
export type ImageSource = ImageInput | ImageRef;

const DATA_URI = /^data:(image\/[a-z0-9.+-]+);base64,([A-Za-z0-9+/=\s]*)$/iu;

/** Reads one image reference; 400 naming `field` for anything the policy does not take. */
export function parseImage(ref: ImageRef, field: TurnField, policy: ImagePolicy): ImageSource {
  const extra = ref.detail === undefined ? {} : { detail: ref.detail };
  const data = DATA_URI.exec(ref.url);
  if (data) {
    const base64 = (data[2] as string).replace(/\s+/gu, '');
    const bytes = Buffer.byteLength(base64, 'base64');
    if (bytes === 0) throw invalidImage(field, 'empty');
    if (bytes > policy.maxBytes) throw imageTooLarge(field, bytes, policy.maxBytes);
    return { mimeType: (data[1] as string).toLowerCase(), data: base64, ...extra };
  }
  if (/^https?:\/\//iu.test(ref.url)) {
    if (!policy.allowUrls) throw imageUrlNotAllowed(field);
    return { url: ref.url, ...extra };
  }
  throw invalidImage(field, 'scheme');
}

/** Fetches a URL image within the policy's size and time limits. */
export async function fetchImage(source: ImageRef, field: TurnField, policy: ImagePolicy, signal: AbortSignal): Promise<ImageInput> {
  let response: Response;
  try {
    response = await fetch(source.url, { signal: AbortSignal.any([signal, AbortSignal.timeout(policy.fetchTimeoutMs)]), redirect: 'follow' });
  } catch (err) {
    if (signal.aborted) throw err;
    throw imageFetchFailed(field, (err as Error).name === 'TimeoutError' ? `no answer within ${policy.fetchTimeoutMs} ms` : 'unreachable');
  }
  if (!response.ok) throw imageFetchFailed(field, `it answered ${response.status}`);
  const mimeType = (response.headers.get('content-type') ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (!mimeType.startsWith('image/')) throw imageFetchFailed(field, `it is ${mimeType || 'untyped'}, not an image`);
  const declared = Number(response.headers.get('content-length'));
  if (declared > policy.maxBytes) throw imageTooLarge(field, declared, policy.maxBytes);
  const chunks: Uint8Array[] = [];
  let size = 0;
  // Leaving the loop early (throw) cancels the stream, so nothing more is downloaded.
  for await (const chunk of response.body ?? []) {
    size += chunk.length;
    if (size > policy.maxBytes) throw imageTooLarge(field, size, policy.maxBytes);
    chunks.push(chunk);
  }
  return { mimeType, data: Buffer.concat(chunks).toString('base64'), ...(source.detail === undefined ? {} : { detail: source.detail }) };
}
