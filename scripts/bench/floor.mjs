// `floor`: the machine's limit for this request/response pair. A plain node:http server
// on 127.0.0.1 that reads the whole request body (as any real server must) and answers
// every POST with precomputed bytes: the chat.completion JSON, or the 10-delta SSE stream
// when the body asks for `"stream":true`. Prints `listening <url>`; exits when its stdin
// closes, so it never outlives the benchmark that started it.
import { Buffer } from 'node:buffer';
import { createServer } from 'node:http';
import { COMPLETION_BYTES, SSE_BYTES, STREAM_MARKER } from './payloads.mjs';

const JSON_HEADERS = { 'content-type': 'application/json', 'content-length': COMPLETION_BYTES.length };
const SSE_HEADERS = { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'content-length': SSE_BYTES.length };

const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    if (req.method !== 'POST') {
      res.writeHead(404).end();
      return;
    }
    const streamed = Buffer.concat(chunks).includes(STREAM_MARKER);
    res.writeHead(200, streamed ? SSE_HEADERS : JSON_HEADERS);
    res.end(streamed ? SSE_BYTES : COMPLETION_BYTES);
  });
});

server.listen(0, '127.0.0.1', () => {
  console.log(`listening http://127.0.0.1:${server.address().port}`);
});
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
