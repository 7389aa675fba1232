import { IncomingMessage, ServerResponse, createServer, request, type Server } from 'node:http';
import { Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { setFlagsFromString } from 'node:v8';
import { describe, expect, it } from 'vitest';
import { expressClasses } from '../../src/gateway/express-classes.js';

describe('expressClasses', () => {
  it('builds requests and responses whose own prototype is the app’s, so Express’s setPrototypeOf changes nothing', () => {
    const app = express();
    const classes = expressClasses(app);
    const req = new classes.IncomingMessage(new Socket());
    const res = new classes.ServerResponse(req);
    expect(Object.getPrototypeOf(req)).toBe(app.request);
    expect(Object.getPrototypeOf(res)).toBe(app.response);
    expect(req).toBeInstanceOf(IncomingMessage);
    expect(res).toBeInstanceOf(ServerResponse);
    expect(req.headers).toEqual({});
  });

  it('gives requests and responses fast properties (V8 sizes them by the base class), not dictionaries', async () => {
    // Natives syntax only for the function compiled below; the flag changes nothing else here.
    setFlagsFromString('--allow-natives-syntax');
    const hasFastProperties = new Function('o', 'return %HasFastProperties(o)') as (o: object) => boolean;
    const app = express();
    const seen: boolean[][] = [];
    app.post('/x', (req, res) => {
      // What the gateway does to every response before its body.
      res.setHeader('x-request-id', 'r');
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('a');
      seen.push([hasFastProperties(req), hasFastProperties(res)]);
      res.end('b');
    });
    const server: Server = createServer({ ...expressClasses(app) }, app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      for (let i = 0; i < 3; i += 1) {
        const res = await fetch(`http://127.0.0.1:${port}/x`, { method: 'POST', body: '{}' });
        expect(await res.text()).toBe('ab');
      }
      expect(seen).toEqual([
        [true, true],
        [true, true],
        [true, true],
      ]);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('serves Express routes through a server made with them, with Express’s own request and response methods', async () => {
    const app = express();
    const seen: boolean[] = [];
    app.get('/x', (req, res) => {
      seen.push(Object.getPrototypeOf(req) === app.request && Object.getPrototypeOf(res) === app.response);
      res.status(201).json({ path: req.path, q: req.get('x-q') });
    });
    const server: Server = createServer({ ...expressClasses(app) }, app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const body = await new Promise<{ status: number; text: string }>((resolve, reject) => {
        request({ host: '127.0.0.1', port, path: '/x', headers: { 'x-q': 'v' } }, (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (text += chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        })
          .on('error', reject)
          .end();
      });
      expect(body).toEqual({ status: 201, text: JSON.stringify({ path: '/x', q: 'v' }) });
      expect(seen).toEqual([true]);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
