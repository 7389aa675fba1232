/**
 * Runs once per test run: the PostgreSQL tests need `MOLTBOT_TEST_DATABASE_URL`. Locally
 * without it they skip, and this prints one line saying how to run them; in CI
 * (`CI=true`) a missing database fails the run: they never skip there.
 */
export default function setup(): void {
  if (process.env.MOLTBOT_TEST_DATABASE_URL) return;
  if (process.env.CI === 'true') {
    throw new Error('CI=true but MOLTBOT_TEST_DATABASE_URL is not set: the PostgreSQL tests must run in CI (.ci/run starts a server with scripts/ci/postgres.sh)');
  }
  process.stderr.write(
    '\n*** PostgreSQL tests SKIPPED: MOLTBOT_TEST_DATABASE_URL is not set. Run them with: eval "$(scripts/ci/postgres.sh start)" && npm test ***\n\n',
  );
}
