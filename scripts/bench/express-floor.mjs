// `express-floor`: what the framework alone costs. A bare Express app (the gateway's own
// express 5) with one POST route, no middleware, `etag` and `x-powered-by` off,
// answering the same precomputed bytes as `floor`. Same stdout/stdin contract as floor.mjs.
import { Buffer } from 'node:buffer';
import express from 'express';
import { COMPLETION_BYTES, SSE_BYTES, STREAM_MARKER } from './payloads.mjs';

const JSON_HEADERS = { 'content-type': 'application/json', 'content-length': COMPLETION_BYTES.length };
const SSE_HEADERS = { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'content-length': SSE_BYTES.length };

const app = express();
app.disable('etag');
app.disable('x-powered-by');
app.post('/v1/chat/completions', (req, res) => {
  // No body parser is mounted: read the body by hand, as floor.mjs does.
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const streamed = Buffer.concat(chunks).includes(STREAM_MARKER);
    res.writeHead(200, streamed ? SSE_HEADERS : JSON_HEADERS);
    res.end(streamed ? SSE_BYTES : COMPLETION_BYTES);
  });
});

const server = app.listen(0, '127.0.0.1', () => {
  console.log(`listening http://127.0.0.1:${server.address().port}`);
});
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
