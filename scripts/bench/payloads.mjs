// The bytes every benchmark target sees and answers with. Shared by the floors (plain
// node), the fake upstream and the driver, so that every target gets the identical
// request and the floors answer with what the gateway itself would send back.
import { Buffer } from 'node:buffer';

/** The bearer token the gateways are started with; every request carries it. */
export const TOKEN = 'bench-token-6f1d2a9c4e7b';

/** A realistic 10-word user message: the echo agent and the upstream reply with it. */
export const MESSAGE = 'Summarise the quarterly sales report for the northern region please';

/** One delta per word, keeping the space that follows it (as the echo stand-in does). */
export const DELTAS = MESSAGE.match(/\S+\s*|\s+/gu) ?? [];

const messages = [{ role: 'user', content: MESSAGE }];
export const REQUEST_BODY = JSON.stringify({ model: 'moltbot', messages });
export const STREAM_BODY = JSON.stringify({ model: 'moltbot', messages, stream: true });
/** The same request continuing a `user`-keyed session (the history scenario). */
export const userBody = (user) => JSON.stringify({ model: 'moltbot', messages, user });
/** Streamed, continuing a `user`-keyed session (the many-users scenario). */
export const streamUserBody = (user) => JSON.stringify({ model: 'moltbot', messages, user, stream: true });

/** The paced upstream (many-users scenario): 10 deltas 200 ms apart, `[DONE]` after 2.2 s. */
export const PACED_DELTAS = 10;
export const PACED_DELAY_MS = 200;

export const REQUEST_HEADERS = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };

const ID = 'chatcmpl-0123456789abcdef0123456789abcdef';
const CREATED = 1767225600;
const USAGE = { prompt_tokens: 17, completion_tokens: 10, total_tokens: 27 };

/** The gateway's own non-streaming answer shape, precomputed once. */
export const COMPLETION_BYTES = Buffer.from(
  JSON.stringify({
    id: ID,
    object: 'chat.completion',
    created: CREATED,
    model: 'moltbot',
    choices: [{ index: 0, message: { role: 'assistant', content: MESSAGE, refusal: null }, logprobs: null, finish_reason: 'stop' }],
    usage: USAGE,
  }),
);

const chunk = (delta, finishReason = null) =>
  `data: ${JSON.stringify({
    id: ID,
    object: 'chat.completion.chunk',
    created: CREATED,
    model: 'moltbot',
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
  })}\n\n`;

/** The gateway's streamed shape: role chunk, 10 content deltas, finish chunk, [DONE]. */
export const SSE_BYTES = Buffer.from(
  [chunk({ role: 'assistant', content: '' }), ...DELTAS.map((text) => chunk({ content: text })), chunk({}, 'stop'), 'data: [DONE]\n\n'].join(''),
);

/** Cheap test the floors use to pick the streamed answer without parsing JSON. */
export const STREAM_MARKER = Buffer.from('"stream":true');
