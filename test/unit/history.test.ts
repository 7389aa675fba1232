/**
 * src/agents/history.ts `boundedHistory`: the most recent turns that fit maxTurns and
 * maxTokens, oldest first, kept or dropped whole, oldest dropped first.
 */
import { describe, expect, it } from 'vitest';
import { boundedHistory, estimateTokens } from '../../src/agents/history.js';
import type { TranscriptMessage, Turn } from '../../src/sessions/store.js';

function turn(seq: number, input: TranscriptMessage[], reply?: string | TranscriptMessage): Turn {
  return {
    sessionId: 's',
    sessionKey: 'k',
    agentId: 'main',
    seq,
    input,
    ...(reply === undefined ? {} : { reply: typeof reply === 'string' ? { role: 'assistant', content: reply } : reply }),
    status: 'ok',
    startedAt: seq,
    endedAt: seq,
  };
}

const u = (content: string): TranscriptMessage => ({ role: 'user', content });
const a = (content: string): TranscriptMessage => ({ role: 'assistant', content });

/** A turn of exactly `tokens` estimated tokens: a 4-character question and an answer of the rest. */
const sized = (seq: number, tokens: number): Turn => turn(seq, [u(`q${seq}`.padEnd(4, '.'))], `a${seq}`.padEnd(tokens * 4 - 4, '.'));

describe('estimateTokens', () => {
  it('is about four characters a token, rounded up, over all messages', () => {
    expect(estimateTokens([])).toBe(0);
    expect(estimateTokens([u('abcd')])).toBe(1);
    expect(estimateTokens([u('abcde')])).toBe(2);
    expect(estimateTokens([u('abcd'), a('efgh')])).toBe(2);
  });

  it('counts tool call names and arguments', () => {
    const call: TranscriptMessage = { role: 'assistant', content: '', toolCalls: [{ id: 'c1', name: 'look', arguments: '{"q":"x"}' }] };
    expect(estimateTokens([call])).toBe(Math.ceil(('look'.length + '{"q":"x"}'.length) / 4));
  });
});

describe('boundedHistory', () => {
  const four = [turn(1, [u('u1')], 'a1'), turn(2, [u('u2')], 'a2'), turn(3, [u('u3')], 'a3'), turn(4, [u('u4')], 'a4')];

  it('without limits returns every turn, oldest first', () => {
    expect(boundedHistory(four, {})).toEqual([u('u1'), a('a1'), u('u2'), a('a2'), u('u3'), a('a3'), u('u4'), a('a4')]);
  });

  it('maxTurns keeps the most recent turns', () => {
    expect(boundedHistory(four, { maxTurns: 2 })).toEqual([u('u3'), a('a3'), u('u4'), a('a4')]);
    expect(boundedHistory(four, { maxTurns: 10 })).toHaveLength(8);
  });

  it('maxTurns 0 keeps nothing', () => {
    expect(boundedHistory(four, { maxTurns: 0 })).toEqual([]);
  });

  it('returns nothing for no turns', () => {
    expect(boundedHistory([], { maxTurns: 5, maxTokens: 100 })).toEqual([]);
  });

  it('maxTokens drops the oldest turns first', () => {
    const turns = [sized(1, 10), sized(2, 10), sized(3, 10)];
    expect(estimateTokens([...turns[0]!.input, turns[0]!.reply!])).toBe(10);
    expect(boundedHistory(turns, { maxTokens: 20 }).map((m) => m.content.slice(0, 2))).toEqual(['q2', 'a2', 'q3', 'a3']);
    expect(boundedHistory(turns, { maxTokens: 30 })).toHaveLength(6);
    expect(boundedHistory(turns, { maxTokens: 19 }).map((m) => m.content.slice(0, 2))).toEqual(['q3', 'a3']);
  });

  it('keeps turns whole: a turn that does not fit entirely is dropped, never cut', () => {
    // 5 tokens left after the newest turn: the older turn's question (1 token) would fit alone.
    const turns = [sized(1, 10), sized(2, 10)];
    expect(boundedHistory(turns, { maxTokens: 15 }).map((m) => m.content.slice(0, 2))).toEqual(['q2', 'a2']);
  });

  it('keeps a tool call with its result', () => {
    const call: TranscriptMessage = { role: 'assistant', content: '', toolCalls: [{ id: 'c1', name: 'look', arguments: '{}' }] };
    const toolTurn = turn(2, [u('use the tool'), call, { role: 'tool', content: 'result', toolCallId: 'c1' }], 'done');
    const history = boundedHistory([turn(1, [u('u1')], 'a1'), toolTurn], { maxTurns: 1 });
    expect(history).toEqual([...toolTurn.input, a('done')]);
  });

  it('is a contiguous suffix: a small old turn is not kept past a newer one that did not fit', () => {
    const turns = [sized(1, 2), sized(2, 50), sized(3, 2)];
    expect(boundedHistory(turns, { maxTokens: 10 }).map((m) => m.content.slice(0, 2))).toEqual(['q3', 'a3']);
  });

  it('a newest turn over the budget leaves no history', () => {
    expect(boundedHistory([sized(1, 2), sized(2, 50)], { maxTokens: 10 })).toEqual([]);
  });

  it('turns without a reply contribute their input only', () => {
    expect(boundedHistory([turn(1, [u('u1')]), turn(2, [u('u2')], 'a2')], {})).toEqual([u('u1'), u('u2'), a('a2')]);
  });

  it('applies maxTurns and maxTokens together', () => {
    const turns = [sized(1, 2), sized(2, 2), sized(3, 2), sized(4, 2)];
    expect(boundedHistory(turns, { maxTurns: 3, maxTokens: 4 }).map((m) => m.content.slice(0, 2))).toEqual(['q3', 'a3', 'q4', 'a4']);
    expect(boundedHistory(turns, { maxTurns: 1, maxTokens: 100 }).map((m) => m.content.slice(0, 2))).toEqual(['q4', 'a4']);
  });
});
