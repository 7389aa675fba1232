/**
 * What the agent's model is sent, as the fake upstream records it: one leading system
 * message (agent prompt, then request system/developer text), the conversation as real
 * turns, the stored transcript as authoritative history, streaming with usage, and the
 * agent's configured model name.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { postChat } from '../helpers/gateway.js';
import { readCompletion, readError, readStream } from '../helpers/read.js';
import { BETA_MODEL, BETA_PROMPT, startTwoAgentGateway, upstreamMessages, type TwoAgentSetup } from '../helpers/scenarios.js';

const BETA = 'moltbot:beta';
const REPLY = 'Hello from upstream';

let setup: TwoAgentSetup | undefined;
async function start(options: Parameters<typeof startTwoAgentGateway>[0] = {}): Promise<TwoAgentSetup> {
  setup = await startTwoAgentGateway(options);
  return setup;
}
afterEach(async () => {
  await setup?.close();
  setup = undefined;
});

describe('the upstream request', () => {
  it('streams with usage, for the agent model name, on /chat/completions', async () => {
    const { gateway, upstream } = await start();
    await readCompletion(await postChat(gateway, { model: BETA, messages: [{ role: 'user', content: 'hi' }] }));
    expect(upstream.requests).toHaveLength(1);
    const [request] = upstream.requests;
    expect(request?.method).toBe('POST');
    expect(request?.path).toBe('/v1/chat/completions');
    expect(request?.body.model).toBe(BETA_MODEL);
    expect(request?.body.stream).toBe(true);
    expect(request?.body.stream_options).toEqual({ include_usage: true });
  });

  it('uses everything after the provider id as the model name', async () => {
    const { gateway, upstream } = await start({
      edit: (file) => {
        file.agents?.list?.push({ id: 'gamma', model: 'local/org/model-7b:q4' });
      },
    });
    await readCompletion(await postChat(gateway, { model: 'agent:gamma', messages: [{ role: 'user', content: 'hi' }] }));
    expect(upstream.requests[0]?.body.model).toBe('org/model-7b:q4');
  });

  it('is also streamed upstream when the client does not stream, and vice versa', async () => {
    const { gateway, upstream } = await start();
    await readStream(await postChat(gateway, { model: BETA, stream: true, messages: [{ role: 'user', content: 'hi' }] }));
    await readCompletion(await postChat(gateway, { model: BETA, stream: false, messages: [{ role: 'user', content: 'hi' }] }));
    expect(upstream.requests.map((r) => r.body.stream)).toEqual([true, true]);
  });
});

describe('system prompt', () => {
  it('joins the agent prompt and request system/developer text into one leading system message', async () => {
    const { gateway, upstream } = await start();
    await readCompletion(
      await postChat(gateway, {
        model: BETA,
        messages: [
          { role: 'system', content: 'Be brief.' },
          { role: 'user', content: 'first' },
          { role: 'developer', content: 'Answer in French.' },
          { role: 'system', content: [{ type: 'text', text: 'No ' }, { type: 'text', text: 'emoji.' }] },
          { role: 'user', content: 'second' },
        ],
      }),
    );
    const messages = upstreamMessages(upstream);
    expect(messages).toEqual([
      { role: 'system', content: `${BETA_PROMPT}\n\nBe brief.\n\nAnswer in French.\n\nNo emoji.` },
      { role: 'user', content: 'first' },
      { role: 'user', content: 'second' },
    ]);
  });

  it('is only the request instructions when the agent has no prompt, and absent when there is none', async () => {
    const { gateway, upstream } = await start({ betaPrompt: '' });
    await readCompletion(
      await postChat(gateway, {
        model: BETA,
        messages: [
          { role: 'developer', content: 'D' },
          { role: 'user', content: 'u' },
        ],
      }),
    );
    await readCompletion(await postChat(gateway, { model: BETA, messages: [{ role: 'user', content: 'u' }] }));
    expect(upstreamMessages(upstream, 0)).toEqual([
      { role: 'system', content: 'D' },
      { role: 'user', content: 'u' },
    ]);
    expect(upstreamMessages(upstream, 1)).toEqual([{ role: 'user', content: 'u' }]);
  });
});

describe('conversation', () => {
  it('passes user and assistant messages as real turns, in order', async () => {
    const { gateway, upstream } = await start();
    await readCompletion(
      await postChat(gateway, {
        model: BETA,
        messages: [
          { role: 'user', content: 'What is 2+2?' },
          { role: 'assistant', content: '4' },
          { role: 'user', content: 'And 3+3?' },
          { role: 'assistant', content: [{ type: 'text', text: '6' }] },
          { role: 'user', content: 'Thanks.' },
          { role: 'user', content: 'One more?' },
        ],
      }),
    );
    expect(upstreamMessages(upstream)).toEqual([
      { role: 'system', content: BETA_PROMPT },
      { role: 'user', content: 'What is 2+2?' },
      { role: 'assistant', content: '4' },
      { role: 'user', content: 'And 3+3?' },
      { role: 'assistant', content: '6' },
      { role: 'user', content: 'Thanks.' },
      { role: 'user', content: 'One more?' },
    ]);
  });

  it('joins text-part arrays in order', async () => {
    const { gateway, upstream } = await start();
    await readCompletion(
      await postChat(gateway, {
        model: BETA,
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'Hello, ' },
              { type: 'text', text: 'world' },
              { type: 'text', text: '!' },
            ],
          },
        ],
      }),
    );
    expect(upstreamMessages(upstream).at(-1)).toEqual({ role: 'user', content: 'Hello, world!' });
  });

  it('passes tool messages with their tool_call_id', async () => {
    const { gateway, upstream } = await start();
    await readCompletion(
      await postChat(gateway, {
        model: BETA,
        messages: [
          { role: 'user', content: 'Weather in Paris and Rome?' },
          { role: 'assistant', content: 'Looking it up.' },
          { role: 'tool', tool_call_id: 'call_paris', content: '18C' },
          { role: 'tool', tool_call_id: 'call_rome', content: [{ type: 'text', text: '24C' }] },
        ],
      }),
    );
    expect(upstreamMessages(upstream)).toEqual([
      { role: 'system', content: BETA_PROMPT },
      { role: 'user', content: 'Weather in Paris and Rome?' },
      { role: 'assistant', content: 'Looking it up.' },
      { role: 'tool', tool_call_id: 'call_paris', content: '18C' },
      { role: 'tool', tool_call_id: 'call_rome', content: '24C' },
    ]);
  });

  it("keeps an assistant message's tool_calls, which the following tool messages answer", async () => {
    // OpenAI rejects a `tool` message that does not follow an assistant message with the
    // matching `tool_calls`, so dropping them makes the upstream request invalid.
    const { gateway, upstream } = await start();
    const toolCalls = [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }];
    await readCompletion(
      await postChat(gateway, {
        model: BETA,
        messages: [
          { role: 'user', content: 'Weather in Paris?' },
          { role: 'assistant', content: null, tool_calls: toolCalls },
          { role: 'tool', tool_call_id: 'call_1', content: '18C' },
        ],
      }),
    );
    const messages = upstreamMessages(upstream) as Record<string, unknown>[];
    expect(messages[2]).toMatchObject({ role: 'assistant', tool_calls: toolCalls });
    expect(messages[3]).toEqual({ role: 'tool', tool_call_id: 'call_1', content: '18C' });
  });

  it('refuses messages that end with an assistant message, before the model', async () => {
    const { gateway, upstream } = await start();
    for (const messages of [
      [
        { role: 'user', content: 'hi' },
        { role: 'assistant', content: 'hello' },
      ],
      [{ role: 'system', content: 'only instructions' }],
      [
        { role: 'user', content: 'hi' },
        { role: 'assistant', content: 'hello' },
        { role: 'developer', content: 'be nice' },
      ],
    ]) {
      const res = await postChat(gateway, { model: BETA, messages }, { 'x-moltbot-session-key': 'agent:beta:no-turn' });
      const error = await readError(res, 400);
      expect(error.param).toBe('messages');
    }
    expect(upstream.requests).toHaveLength(0);
    expect(await gateway.store.loadTurns('beta', 'agent:beta:no-turn')).toEqual([]);
  });
});

describe('an existing transcript is authoritative', () => {
  it('a client re-sending the whole conversation with user set adds only its new turn', async () => {
    const { gateway, upstream } = await start();
    upstream.behave({ kind: 'reply', deltas: ['Paris', '.'] });
    await readCompletion(
      await postChat(gateway, {
        model: BETA,
        user: 'resender',
        messages: [
          { role: 'system', content: 'Be brief.' },
          { role: 'user', content: 'Capital of France?' },
        ],
      }),
    );
    upstream.behave({ kind: 'reply', deltas: ['Rome', '.'] });
    await readCompletion(
      await postChat(gateway, {
        model: BETA,
        user: 'resender',
        messages: [
          { role: 'system', content: 'Be brief.' },
          { role: 'user', content: 'Capital of France?' },
          // The client's copy of the reply differs: the stored one is what the model sees.
          { role: 'assistant', content: 'Paris, of course.' },
          { role: 'user', content: 'And of Italy?' },
        ],
      }),
    );
    expect(upstreamMessages(upstream, 1)).toEqual([
      { role: 'system', content: `${BETA_PROMPT}\n\nBe brief.` },
      { role: 'user', content: 'Capital of France?' },
      { role: 'assistant', content: 'Paris.' },
      { role: 'user', content: 'And of Italy?' },
    ]);
    const turns = await gateway.store.loadTurns('beta', 'agent:beta:openai-user:resender');
    expect(turns.map((t) => [t.input, t.reply])).toEqual([
      [[{ role: 'user', content: 'Capital of France?' }], { role: 'assistant', content: 'Paris.' }],
      [[{ role: 'user', content: 'And of Italy?' }], { role: 'assistant', content: 'Rome.' }],
    ]);
  });

  it('with an explicit session key, a new turn of tool results is appended after the history', async () => {
    const { gateway, upstream } = await start();
    const headers = { 'x-moltbot-session-key': 'agent:beta:tools' };
    await readCompletion(await postChat(gateway, { model: BETA, messages: [{ role: 'user', content: 'q1' }] }, headers));
    await readCompletion(
      await postChat(
        gateway,
        {
          model: BETA,
          messages: [
            { role: 'user', content: 'q1' },
            { role: 'assistant', content: 'calling a tool' },
            { role: 'tool', tool_call_id: 'call_9', content: 'result' },
            { role: 'user', content: 'q2' },
          ],
        },
        headers,
      ),
    );
    expect(upstreamMessages(upstream, 1)).toEqual([
      { role: 'system', content: BETA_PROMPT },
      { role: 'user', content: 'q1' },
      { role: 'assistant', content: REPLY },
      { role: 'tool', tool_call_id: 'call_9', content: 'result' },
      { role: 'user', content: 'q2' },
    ]);
  });

  it('request instructions are not replayed on later turns', async () => {
    const { gateway, upstream } = await start();
    await readCompletion(
      await postChat(gateway, {
        model: BETA,
        user: 'instr',
        messages: [
          { role: 'system', content: 'Only this turn.' },
          { role: 'user', content: 'a' },
        ],
      }),
    );
    await readCompletion(await postChat(gateway, { model: BETA, user: 'instr', messages: [{ role: 'user', content: 'b' }] }));
    expect(upstreamMessages(upstream, 1)).toEqual([
      { role: 'system', content: BETA_PROMPT },
      { role: 'user', content: 'a' },
      { role: 'assistant', content: REPLY },
      { role: 'user', content: 'b' },
    ]);
  });
});
