/**
 * `moltbot` on a PostgreSQL store: `gateway` with the database down exits 2 naming
 * host:port/database (never the password, also with a wrong one); `sessions migrate
 * --dry-run` prints the pending SQL, `sessions migrate` applies it and then says it is up
 * to date; `sessions list/show/prune` read and prune what a gateway process wrote. The
 * SQLite store answers `sessions migrate` too.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { cleanEnv, runCli, startCliGateway, writeConfig, type RunningGateway } from '../helpers/cli.js';
import { DATABASE_URL, HAS_POSTGRES, dropSchemas, freshSchema, urlWithPassword } from '../helpers/postgres.js';
import { PROCESS_TOKEN, chat, processEnv, user } from '../helpers/process-gateway.js';
import { readCompletion } from '../helpers/read.js';
import type { SessionInfo } from '../../src/sessions/store.js';

const PASSWORD = HAS_POSTGRES ? decodeURIComponent(new URL(DATABASE_URL ?? '').password) : '';
const children: RunningGateway[] = [];
afterEach(() => {
  for (const child of children.splice(0)) child.child.kill('SIGKILL');
});
afterAll(dropSchemas);

function postgresConfig(schema: string): string {
  return writeConfig(`{
  gateway: { http: { endpoints: { chatCompletions: { enabled: true } } } },
  session: { store: { kind: 'postgres', url: '\${MOLTBOT_DATABASE_URL}', schema: '${schema}' } },
}`);
}

const envWith = (url: string): Record<string, string> => cleanEnv({ CLAWDBOT_GATEWAY_TOKEN: PROCESS_TOKEN, MOLTBOT_DATABASE_URL: url });

describe.skipIf(!HAS_POSTGRES)('moltbot on PostgreSQL', () => {
  it('gateway with the database down or the password wrong: exit 2, host:port/database named, the password nowhere', async () => {
    const config = postgresConfig(freshSchema('down'));
    const down = await runCli(['gateway', '--port', '0', '--config', config], envWith(`postgres://moltbot:${encodeURIComponent(PASSWORD)}@127.0.0.1:1/moltbot_test`));
    expect(down.code).toBe(2);
    expect(down.stderr).toMatch(/^moltbot: session store: cannot connect to PostgreSQL at 127\.0\.0\.1:1\/moltbot_test: connect ECONNREFUSED/u);
    const port = new URL(DATABASE_URL ?? '').port;
    const wrong = await runCli(['gateway', '--port', '0', '--config', config], envWith(urlWithPassword(`${PASSWORD}-not`)));
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain(`cannot connect to PostgreSQL at 127.0.0.1:${port}/moltbot_test: password authentication failed`);
    for (const result of [down, wrong]) expect(`${result.stdout}${result.stderr}`).not.toContain(PASSWORD);
    console.log(`postgres-cli: ${down.stderr.trim()}\npostgres-cli: ${wrong.stderr.trim()}`);
  });

  it('sessions migrate --dry-run prints the pending SQL; migrate applies it; then up to date', async () => {
    const config = postgresConfig(freshSchema('migrate'));
    const env = envWith(DATABASE_URL ?? '');
    const dry = await runCli(['sessions', 'migrate', '--dry-run', '--config', config], env);
    expect(dry, JSON.stringify(dry)).toMatchObject({ code: 0, stderr: '' });
    expect(dry.stdout).toContain('-- migration 1: sessions, turns, instances');
    expect(dry.stdout).toContain('(pending)');
    expect(dry.stdout).toMatch(/CREATE TABLE "t_migrate_[0-9a-f]+"\.sessions/u);
    // A dry run changed nothing: the same is still pending.
    expect((await runCli(['sessions', 'migrate', '--dry-run', '--config', config], env)).stdout).toBe(dry.stdout);
    const applied = await runCli(['sessions', 'migrate', '--config', config], env);
    expect(applied.stdout).toContain('(applied)');
    expect(await runCli(['sessions', 'migrate', '--dry-run', '--config', config], env)).toMatchObject({ code: 0, stdout: 'up to date\n' });
  });

  it('sessions list, show and prune work on what a gateway process wrote', async () => {
    const config = postgresConfig(freshSchema('cli'));
    const env = envWith(DATABASE_URL ?? '');
    const gateway = await startCliGateway(['--port', '0', '--config', config], env);
    children.push(gateway);
    await readCompletion(await chat(gateway.url, { model: 'moltbot', user: 'lee', messages: [user('hello')] }));
    await readCompletion(await chat(gateway.url, { model: 'moltbot', messages: [user('one-off')] }));
    const list = await runCli(['sessions', 'list', '--json', '--config', config], env);
    expect(list.code, list.stderr).toBe(0);
    const sessions = JSON.parse(list.stdout) as SessionInfo[];
    expect(sessions.map((s) => s.kind).sort()).toEqual(['stateless', 'user']);
    const show = await runCli(['sessions', 'show', 'agent:main:openai-user:lee', '--json', '--config', config], env);
    expect(JSON.parse(show.stdout)).toMatchObject([{ session: { kind: 'user', turns: 1 }, turns: [{ status: 'ok', input: [user('hello')] }] }]);
    const prune = await runCli(['sessions', 'prune', '--older-than', '0s', '--kind', 'stateless', '--json', '--config', config], env);
    expect(JSON.parse(prune.stdout)).toMatchObject({ sessions: 1, turns: 1 });
    expect((JSON.parse((await runCli(['sessions', 'list', '--json', '--config', config], env)).stdout) as SessionInfo[]).map((s) => s.kind)).toEqual(['user']);
  });
});

describe('moltbot sessions migrate on SQLite', () => {
  it('lists the pending migrations of a store that does not exist yet, applies them, then is up to date', async () => {
    const { env } = processEnv();
    const config = writeConfig('{}');
    const dry = await runCli(['sessions', 'migrate', '--dry-run', '--config', config], env);
    expect(dry).toMatchObject({ code: 0, stderr: '' });
    expect(dry.stdout).toContain('migration 1: baseline: sessions and turns (pending)');
    expect((await runCli(['sessions', 'migrate', '--config', config], env)).stdout).toContain('(applied)');
    expect(await runCli(['sessions', 'migrate', '--dry-run', '--config', config], env)).toMatchObject({ code: 0, stdout: 'up to date\n' });
  });
});
