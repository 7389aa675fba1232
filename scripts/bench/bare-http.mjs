// The start-up baseline: a bare node:http server script, the least any Node server does
// before its first 200 (start Node, load one module, listen). Listens on 127.0.0.1 at the
// port given as its argument, answers 200 to everything, exits when its stdin closes.
import { createServer } from 'node:http';

const server = createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
});
server.listen(Number(process.argv[2]), '127.0.0.1', () => {
  console.log(`listening http://127.0.0.1:${server.address().port}`);
});
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
