// `proxy-floor`: what holding a stream open costs any Node proxy, for the memory
// scenario. A plain node:http server that forwards each POST to the upstream given as
// argv[2] (a keep-alive pool, as the gateway's provider uses) and relays the response
// as it comes: two connections per stream and nothing else (no framework, no auth, no
// store, no turn). Prints `listening <url>`; exits when its stdin closes.
import { Buffer } from 'node:buffer';
import { Agent, createServer, request } from 'node:http';

const upstream = new URL(`${process.argv[2]}/chat/completions`);
const agent = new Agent({ keepAlive: true });

const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    const forward = request(upstream, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': body.length } }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, { 'content-type': answer.headers['content-type'] ?? 'text/event-stream' });
      answer.on('data', (chunk) => res.write(chunk));
      answer.on('end', () => res.end());
    });
    forward.on('error', () => res.destroy());
    res.on('close', () => forward.destroy());
    forward.end(body);
  });
});

server.listen(0, '127.0.0.1', () => {
  console.log(`listening http://127.0.0.1:${server.address().port}`);
});
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
