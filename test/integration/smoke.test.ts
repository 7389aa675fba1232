import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postChat, startGateway, type TestGateway } from '../helpers/gateway.js';
import { readCompletion, readStream, streamedText } from '../helpers/read.js';

describe('echo agent end to end', () => {
  let gateway: TestGateway;
  beforeAll(async () => {
    gateway = await startGateway();
  });
  afterAll(() => gateway.close());

  it('answers JSON', async () => {
    const body = await readCompletion(await postChat(gateway, { model: 'moltbot', messages: [{ role: 'user', content: 'hi you' }] }));
    expect(body.choices[0]?.message.content).toBe('hi you');
  });

  it('streams', async () => {
    const stream = await readStream(await postChat(gateway, { model: 'moltbot', stream: true, messages: [{ role: 'user', content: 'one two three' }] }));
    expect(streamedText(stream)).toBe('one two three');
  });
});
