// Preloaded (`node --import`) into a peer gateway the benchmark runs: a server that listens
// on a port without naming a host (Portkey's `serve({ port })` does) listens on
// 127.0.0.1 instead of every interface. The benchmark binds everything it starts to loopback.
import net from 'node:net';

const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function listenOnLoopback(...args) {
  if (typeof args[0] === 'number' && (args[1] === undefined || typeof args[1] === 'function')) {
    if (args[1] === undefined) args[1] = '127.0.0.1';
    else args.splice(1, 0, '127.0.0.1');
  }
  return listen.apply(this, args);
};
