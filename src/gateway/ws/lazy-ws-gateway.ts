/**
 * The WebSocket protocol loaded on the first upgrade rather than at start-up: the `ws`
 * package, the protocol's validators and method handlers are a tenth of what a start
 * loads (docs/decisions/0017-bundled-command.md), and a gateway that only serves HTTP never
 * needs them. The first upgrade waits for the load (tens of milliseconds, once).
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { WsGateway } from './ws-gateway.js';

/**
 * A `WsGateway` whose real one is made by `load` on the first upgrade. A shutdown or
 * close that comes before (or while) it loads is passed on once it has, so an upgrade
 * that waited is refused as any other during a shutdown.
 */
export function lazyWsGateway(load: () => Promise<WsGateway>): WsGateway {
  let gateway: WsGateway | undefined;
  let loading: Promise<WsGateway> | undefined;
  let stopReason: string | undefined;
  let closedWith: [number | undefined, string | undefined] | undefined;

  const ensure = (): Promise<WsGateway> =>
    (loading ??= load().then((loaded) => {
      if (stopReason !== undefined) loaded.shutdown(stopReason);
      if (closedWith) loaded.closeAll(...closedWith);
      gateway = loaded;
      return loaded;
    }));

  return {
    get connections() {
      return gateway?.connections ?? 0;
    },
    handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer) {
      if (gateway) return gateway.handleUpgrade(req, socket, head);
      // Node's HTTP server stops listening for this socket's errors once it emits
      // `upgrade`; until `ws` takes it over, one must not crash the process.
      const onError = (): void => {
        socket.destroy();
      };
      socket.on('error', onError);
      ensure().then(
        (loaded) => {
          socket.off('error', onError);
          if (!socket.destroyed) loaded.handleUpgrade(req, socket, head);
        },
        () => socket.destroy(),
      );
    },
    shutdown(reason?: string) {
      stopReason ??= reason ?? 'gateway stopping';
      gateway?.shutdown(reason);
    },
    async runsSettled(timeoutMs: number) {
      // Nothing loaded, nothing ran; a load under way may bring a connection that did.
      if (loading) await (await loading).runsSettled(timeoutMs);
    },
    closeAll(code?: number, reason?: string) {
      closedWith = [code, reason];
      gateway?.closeAll(code, reason);
    },
  };
}
