/**
 * Request and response classes whose instances are born with an Express app's own
 * prototypes (`app.request`, `app.response`), for `http.createServer`'s `IncomingMessage`
 * and `ServerResponse` options. Express's `app.handle` sets those prototypes on every
 * request with `Object.setPrototypeOf`; on objects that already have them the call
 * changes nothing. Changing a live object's prototype is what costs: measured on a plain
 * node:http server, the two calls alone turned 0.2 ms young-generation GCs that kept
 * nothing into 3.5–5.7 ms ones promoting 2.4–3.3 MB each (see expressjs/express#5998).
 * Every request still goes through Express.
 */
import { IncomingMessage, ServerResponse } from 'node:http';
import type { Express } from 'express';

/** Constructors for `http.createServer({ IncomingMessage, ServerResponse })`. */
export function expressClasses(app: Express): { IncomingMessage: typeof IncomingMessage; ServerResponse: typeof ServerResponse } {
  // Function constructors, as Node's own are, so `prototype` can be the app's object itself.
  function ExpressRequest(this: IncomingMessage, ...args: ConstructorParameters<typeof IncomingMessage>): void {
    IncomingMessage.apply(this, args);
  }
  function ExpressResponse(this: ServerResponse, ...args: ConstructorParameters<typeof ServerResponse>): void {
    ServerResponse.apply(this, args);
  }
  ExpressRequest.prototype = app.request;
  ExpressResponse.prototype = app.response;
  return {
    IncomingMessage: ExpressRequest as unknown as typeof IncomingMessage,
    ServerResponse: ExpressResponse as unknown as typeof ServerResponse,
  };
}
