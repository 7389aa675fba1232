// `npm start`: the gateway on the embedded defaults (config/moltbot.default.json5:
// 127.0.0.1:18789, endpoint enabled, agent `main` on the echo stand-in).
// When no token is in the environment it generates one, prints it once and passes it
// to the gateway through CLAWDBOT_GATEWAY_TOKEN; once the gateway listens it prints a
// ready-to-paste curl line. Extra arguments go to `moltbot gateway`.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const env = { ...process.env };
let token = env.CLAWDBOT_GATEWAY_TOKEN || env.MOLTBOT_GATEWAY_TOKEN;
const generated = !token;
if (generated) {
  token = randomBytes(24).toString('base64url');
  env.CLAWDBOT_GATEWAY_TOKEN = token;
  console.log(`Generated a gateway token for this run (set CLAWDBOT_GATEWAY_TOKEN to choose your own):\n  ${token}\n`);
}

const child = spawn(
  process.execPath,
  [`${root}bin/moltbot.mjs`, 'gateway', '--config', `${root}config/moltbot.default.json5`, ...process.argv.slice(2)],
  { env, stdio: ['inherit', 'pipe', 'inherit'] },
);
createInterface({ input: child.stdout }).on('line', (line) => {
  console.log(line);
  const listening = /^listening on (http:\/\/\S+)$/u.exec(line);
  if (!listening) return;
  // A token the user chose is theirs to paste; only a generated one is shown.
  const shownToken = generated ? token : env.CLAWDBOT_GATEWAY_TOKEN ? '$CLAWDBOT_GATEWAY_TOKEN' : '$MOLTBOT_GATEWAY_TOKEN';
  console.log(
    `\nTry it (agent "main" answers with the echo stand-in, which repeats your message):\n` +
      `  curl -sS ${listening[1]}/v1/chat/completions -H 'Authorization: Bearer ${shownToken}' ` +
      `-H 'Content-Type: application/json' -d '{"model":"moltbot","messages":[{"role":"user","content":"hi"}]}'\n`,
  );
});
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 0 : 1)));
