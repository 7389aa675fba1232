/**
 * Image parts in user messages: data: URIs reach a vision-capable upstream as the same
 * data URL; the echo stand-in refuses them; http(s) URLs are refused unless
 * `gateway.http.images.allowUrls`, and then fetched from a real local server within the
 * size and time limits and sent on as data URLs; count, size and shape limits are 400s;
 * the transcript keeps the image.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { sessionKeyOf, startFeatureGateway, type FeatureOptions, type FeatureSetup } from '../helpers/features.js';
import { postChat } from '../helpers/gateway.js';
import { PNG_BASE64, PNG_BYTES, PNG_DATA_URL, startImageServer, type ImageServer } from '../helpers/image-server.js';
import { readCompletion, readError, readStream } from '../helpers/read.js';
import { keyAgent } from '../helpers/keys.js';

const URL_PARAM = 'messages[0].content[1].image_url.url';

function withImages(model: string, ...urls: string[]): Record<string, unknown> {
  return {
    model,
    messages: [
      {
        role: 'user',
        content: [{ type: 'text', text: 'What is in this picture?' }, ...urls.map((url) => ({ type: 'image_url', image_url: { url } }))],
      },
    ],
  };
}

/** The content of the user message the upstream received in its request `i`. */
function upstreamUserContent(setup: FeatureSetup, i: number): unknown {
  const messages = setup.upstream.requests[i]?.body.messages as { role: string; content: unknown }[] | undefined;
  return messages?.find((m) => m.role === 'user')?.content;
}

async function expectImageError(setup: FeatureSetup, body: unknown, code: string, param: string | null = URL_PARAM): Promise<string> {
  const before = setup.upstream.requests.length;
  const error = await readError(await postChat(setup.gateway, body), 400);
  expect(error.code).toBe(code);
  expect(error.param).toBe(param);
  expect(error.type).toBe('invalid_request_error');
  expect(setup.upstream.requests, 'a refused image never reaches the upstream').toHaveLength(before);
  return error.message;
}

let images: ImageServer;
beforeAll(async () => {
  images = await startImageServer();
});
afterAll(() => images.close());

const setups: FeatureSetup[] = [];
async function start(http: FeatureOptions['http'] = {}): Promise<FeatureSetup> {
  const setup = await startFeatureGateway({ http });
  setups.push(setup);
  return setup;
}
afterEach(async () => {
  await Promise.all(setups.splice(0).map((s) => s.close()));
});

describe('data: URIs', () => {
  it('reach the upstream as an image_url content part with the same data URL, and stay in the transcript', async () => {
    const setup = await start();
    const res = await postChat(setup.gateway, withImages('moltbot:beta', PNG_DATA_URL));
    const key = sessionKeyOf(res);
    await readCompletion(res);
    expect(upstreamUserContent(setup, 0)).toEqual([
      { type: 'text', text: 'What is in this picture?' },
      { type: 'image_url', image_url: { url: PNG_DATA_URL } },
    ]);
    const [turn] = await setup.gateway.store.loadTurns(keyAgent(key), key);
    expect(turn?.status).toBe('ok');
    expect(turn?.input).toEqual([{ role: 'user', content: 'What is in this picture?', images: [{ mimeType: 'image/png', data: PNG_BASE64 }] }]);
  });

  it('keep detail, and work streaming', async () => {
    const setup = await start();
    const body = withImages('moltbot:beta', PNG_DATA_URL);
    ((body.messages as { content: { image_url?: { detail?: string } }[] }[])[0]?.content[1]?.image_url as { detail?: string }).detail = 'low';
    await readStream(await postChat(setup.gateway, { ...body, stream: true }));
    expect(upstreamUserContent(setup, 0)).toEqual([
      { type: 'text', text: 'What is in this picture?' },
      { type: 'image_url', image_url: { url: PNG_DATA_URL, detail: 'low' } },
    ]);
  });

  it('the image is replayed from the transcript on the next turn of the session', async () => {
    const setup = await start();
    const first = await postChat(setup.gateway, withImages('moltbot:beta', PNG_DATA_URL));
    const key = sessionKeyOf(first);
    await readCompletion(first);
    await readCompletion(await postChat(setup.gateway, { model: 'moltbot:beta', messages: [{ role: 'user', content: 'and now?' }] }, { 'x-moltbot-session-key': key }));
    const messages = setup.upstream.requests[1]?.body.messages as { role: string; content: unknown }[];
    expect(messages.map((m) => m.role)).toEqual(['system', 'user', 'assistant', 'user']);
    expect(messages[1]?.content).toEqual([
      { type: 'text', text: 'What is in this picture?' },
      { type: 'image_url', image_url: { url: PNG_DATA_URL } },
    ]);
  });

  it('to the echo agent → 400 images_not_supported', async () => {
    const setup = await start();
    const message = await expectImageError(setup, withImages('moltbot', PNG_DATA_URL), 'images_not_supported', 'messages');
    expect(message).toContain('echo');
  });

  it('over maxBytes → 400 image_too_large', async () => {
    const setup = await start({ images: { maxBytes: 10 } });
    const message = await expectImageError(setup, withImages('moltbot:beta', PNG_DATA_URL), 'image_too_large');
    expect(message).toContain(String(PNG_BYTES.length));
  });

  it('more than maxCount → 400 too_many_images', async () => {
    const setup = await start({ images: { maxCount: 1 } });
    await expectImageError(setup, withImages('moltbot:beta', PNG_DATA_URL, PNG_DATA_URL), 'too_many_images', 'messages');
    // Counted across messages too.
    const body = withImages('moltbot:beta', PNG_DATA_URL);
    const messages = body.messages as unknown[];
    messages.push({ role: 'assistant', content: 'a pixel' }, (withImages('x', PNG_DATA_URL).messages as unknown[])[0]);
    await expectImageError(setup, body, 'too_many_images', 'messages');
  });

  it('exactly maxCount images is fine', async () => {
    const setup = await start({ images: { maxCount: 2 } });
    await readCompletion(await postChat(setup.gateway, withImages('moltbot:beta', PNG_DATA_URL, PNG_DATA_URL)));
    expect((upstreamUserContent(setup, 0) as unknown[]).length).toBe(3);
  });
});

describe('malformed image urls → 400 invalid_image', () => {
  const bad = ['ftp://x', 'data:text/plain;base64,AAA', 'data:image/png;base64,', 'data:image/png,rawbytes', 'file:///etc/passwd', 'javascript:alert(1)'];
  it.each(bad)('%s', async (url) => {
    const setup = await start({ images: { allowUrls: true } });
    await expectImageError(setup, withImages('moltbot:beta', url), 'invalid_image');
  });

  it('names the right part when the bad image is not the first', async () => {
    const setup = await start();
    await expectImageError(setup, withImages('moltbot:beta', PNG_DATA_URL, 'ftp://x'), 'invalid_image', 'messages[0].content[2].image_url.url');
  });
});

describe('http(s) URLs', () => {
  it('are refused with allowUrls off: 400 image_url_not_allowed naming the part, nothing fetched', async () => {
    const setup = await start();
    const fetched = images.requested.length;
    await expectImageError(setup, withImages('moltbot:beta', `${images.url}/pixel.png`), 'image_url_not_allowed');
    expect(images.requested).toHaveLength(fetched);
  });

  it('with allowUrls on are fetched and reach the upstream as a data URL; the transcript keeps the image', async () => {
    const setup = await start({ images: { allowUrls: true } });
    const res = await postChat(setup.gateway, withImages('moltbot:beta', `${images.url}/pixel.png`));
    const key = sessionKeyOf(res);
    await readCompletion(res);
    expect(images.requested.at(-1)).toBe('/pixel.png');
    expect(upstreamUserContent(setup, 0)).toEqual([
      { type: 'text', text: 'What is in this picture?' },
      { type: 'image_url', image_url: { url: PNG_DATA_URL } },
    ]);
    const [turn] = await setup.gateway.store.loadTurns(keyAgent(key), key);
    expect(turn?.input).toEqual([{ role: 'user', content: 'What is in this picture?', images: [{ mimeType: 'image/png', data: PNG_BASE64 }] }]);
  });

  it('a fetched image over maxBytes (content-length) → 400 image_too_large', async () => {
    const setup = await start({ images: { allowUrls: true, maxBytes: 10 } });
    await expectImageError(setup, withImages('moltbot:beta', `${images.url}/pixel.png`), 'image_too_large');
  });

  it('a fetched image streamed past maxBytes without content-length → 400 image_too_large', async () => {
    const setup = await start({ images: { allowUrls: true, maxBytes: 1000 } });
    await expectImageError(setup, withImages('moltbot:beta', `${images.url}/stream.png?size=200000`), 'image_too_large');
  });

  it('a streamed image within maxBytes is fine', async () => {
    const setup = await start({ images: { allowUrls: true, maxBytes: 1000 } });
    await readCompletion(await postChat(setup.gateway, withImages('moltbot:beta', `${images.url}/stream.png?size=1000`)));
    const content = upstreamUserContent(setup, 0) as { image_url?: { url: string } }[];
    expect(content[1]?.image_url?.url).toBe(`data:image/png;base64,${Buffer.alloc(1000, 0x42).toString('base64')}`);
  });

  it('a URL that answers 404 → 400 image_fetch_failed', async () => {
    const setup = await start({ images: { allowUrls: true } });
    const message = await expectImageError(setup, withImages('moltbot:beta', `${images.url}/missing.png`), 'image_fetch_failed');
    expect(message).toContain('404');
  });

  it('a URL that answers text/html → 400 image_fetch_failed', async () => {
    const setup = await start({ images: { allowUrls: true } });
    await expectImageError(setup, withImages('moltbot:beta', `${images.url}/page.html`), 'image_fetch_failed');
  });

  it('an unreachable URL → 400 image_fetch_failed', async () => {
    const setup = await start({ images: { allowUrls: true } });
    // Port 9 on loopback: nothing listens there.
    await expectImageError(setup, withImages('moltbot:beta', 'http://127.0.0.1:9/x.png'), 'image_fetch_failed');
  });

  it('a server that never answers → 400 image_fetch_failed within the fetch timeout', async () => {
    const setup = await start({ images: { allowUrls: true, fetchTimeoutSeconds: 0.2 } });
    const started = performance.now();
    await expectImageError(setup, withImages('moltbot:beta', `${images.url}/hang.png`), 'image_fetch_failed');
    const elapsed = performance.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(190);
    expect(elapsed).toBeLessThan(5000);
  });

  it('streaming: a fetch failure is still an HTTP 400, not a stream', async () => {
    const setup = await start({ images: { allowUrls: true } });
    const res = await postChat(setup.gateway, { ...withImages('moltbot:beta', `${images.url}/missing.png`), stream: true });
    expect((await readError(res, 400)).code).toBe('image_fetch_failed');
  });

  it('the echo agent refuses URL images before fetching them', async () => {
    const setup = await start({ images: { allowUrls: true } });
    const fetched = images.requested.length;
    await expectImageError(setup, withImages('moltbot', `${images.url}/pixel.png`), 'images_not_supported', 'messages');
    expect(images.requested).toHaveLength(fetched);
  });
});
