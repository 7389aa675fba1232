/**
 * `session.maxStoredReplyBytes` (default 8 MiB): the client gets a large reply whole, the
 * transcript stores its beginning with a marker and its original size, and later turns
 * send the model the stored (cut) text as history. Never a reply-sized row.
 */
import { join } from 'node:path';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { readCompletion, readStream, streamedText } from '../helpers/read.js';
import { assistant, chat, messagesOf, readStreamUntil, reply, roundTrip, startCore, system, user, type CoreSetup } from '../core/support.js';

const KIB = 1024;
const MIB = 1024 * KIB;

let setup: CoreSetup | undefined;
afterEach(async () => {
  await setup?.close();
  setup = undefined;
});

/** `total` bytes of text in deltas of 64 KiB. */
const bigDeltas = (total: number, letter: string): string[] => Array.from({ length: Math.ceil(total / (64 * KIB)) }, () => letter.repeat(64 * KIB));

describe('stored reply cap', () => {
  for (const stream of [false, true]) {
    it(`${stream ? 'streamed' : 'JSON'}: a 1 MiB reply reaches the client whole, is stored cut to 64 KiB with a marker, and is history as stored`, async () => {
      setup = await startCore({ edit: (file) => (file.session = { ...file.session, maxStoredReplyBytes: 64 * KIB }) });
      const { gateway, upstream } = setup;
      const deltas = bigDeltas(MIB, 'q');
      upstream.behaveOnce({ kind: 'reply', deltas }, reply('short answer'));
      const res = await chat(gateway, { user: 'big', content: 'tell me everything', stream });
      const text = stream ? streamedText(await readStream(res)) : ((await readCompletion(res)).choices[0]?.message.content ?? '');
      expect(text).toBe(deltas.join(''));

      const [turn] = await gateway.store.loadTurns('main', 'agent:main:openai-user:big');
      expect(turn?.replyTruncated).toEqual({ originalBytes: MIB });
      const stored = turn?.reply?.content ?? '';
      expect(Buffer.byteLength(stored)).toBeLessThanOrEqual(64 * KIB);
      expect(stored).toMatch(/^q{60000,}\n\n\[moltbot: reply truncated in the transcript; it was 1048576 bytes, over the limit of 65536 \(session\.maxStoredReplyBytes\)\]$/u);

      await readCompletion(await chat(gateway, { user: 'big', content: 'and now briefly' }));
      expect(messagesOf(await upstream.nthRequest(2))).toEqual([system(), user('tell me everything'), assistant(stored), user('and now briefly')]);
    });
  }

  it('an aborted reply (client gone mid-stream) is stored cut the same way', async () => {
    setup = await startCore({ edit: (file) => (file.session = { ...file.session, maxStoredReplyBytes: 64 * KIB }) });
    const { gateway, upstream } = setup;
    upstream.behaveOnce({ kind: 'hold', deltas: bigDeltas(256 * KIB, 'a') });
    const leaving = new AbortController();
    const res = await chat(gateway, { key: 'agent:main:gone', content: 'start', stream: true, signal: leaving.signal });
    await readStreamUntil(res, (text) => text.length >= 256 * KIB);
    leaving.abort();
    await (await upstream.nthRequest(1)).closedEarly;
    await roundTrip(gateway);
    const [turn] = await gateway.store.loadTurns('main', 'agent:main:gone');
    expect(turn).toMatchObject({ status: 'aborted', replyTruncated: { originalBytes: 256 * KIB } });
    expect(Buffer.byteLength(turn?.reply?.content ?? '')).toBeLessThanOrEqual(64 * KIB);
  });

  it('default 8 MiB: a 9 MiB streamed reply leaves a row of at most 8 MiB', { timeout: 60_000 }, async () => {
    const storePath = join(mkdtempSync(join(tmpdir(), 'moltbot-cap-')), 'sessions.sqlite');
    setup = await startCore({ storePath });
    const { gateway, upstream } = setup;
    upstream.behaveOnce({ kind: 'reply', deltas: bigDeltas(9 * MIB, 'w') });
    const streamed = await readStream(await chat(gateway, { key: 'agent:main:huge', content: 'flood me', stream: true }));
    expect(streamedText(streamed).length).toBe(9 * MIB);
    const db = new Database(storePath, { readonly: true });
    try {
      const row = db.prepare('SELECT length(reply) AS length, reply_original_bytes AS original FROM turns').get() as { length: number; original: number };
      expect(row.original).toBe(9 * MIB);
      expect(row.length).toBeLessThanOrEqual(8 * MIB + 100);
      expect(row.length).toBeGreaterThan(8 * MIB - 1000);
    } finally {
      db.close();
    }
    expect((await gateway.store.loadTurns('main', 'agent:main:huge'))[0]).toMatchObject({ status: 'ok', replyTruncated: { originalBytes: 9 * MIB } });
  });
});
