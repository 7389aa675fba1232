/**
 * Request and response classes whose instances are born with an Express app's own
 * prototypes (`app.request`, `app.response`), for `http.createServer`'s `IncomingMessage`
 * and `ServerResponse` options. Express's `app.handle` sets those prototypes on every
 * request with `Object.setPrototypeOf`; on objects that already have them the call
 * changes nothing. Changing a live object's prototype is what costs: measured on a plain
 * node:http server, the two calls alone turned 0.2 ms young-generation GCs that kept
 * nothing into 3.5–5.7 ms ones promoting 2.4–3.3 MB each (see expressjs/express#5998).
 * Every request still goes through Express.
 *
 * They are `class … extends` Node's classes, not plain functions calling Node's
 * constructors: V8 sizes an instance's in-object fields by what the constructor chain
 * assigns, and a plain function wrapper assigns nothing, so every request and response
 * (~40 and ~60 fields, many of them symbol-keyed) fell into dictionary mode: 1.6 and
 * 3.1 kB of property tables each, and slow property access on every use. A derived class
 * is sized with its base's fields. Its prototype object cannot be replaced, so the app's
 * (`app.request`, `app.response`) becomes the class's: it gets their properties and
 * their prototype, and the app uses it from then on.
 */
import { IncomingMessage, ServerResponse } from 'node:http';
import type { Express } from 'express';

/** Gives `Derived.prototype` `proto`'s place: `proto`'s own properties, `proto`'s prototype. */
function adopt(Derived: { prototype: object }, proto: object): void {
  Object.defineProperties(Derived.prototype, Object.getOwnPropertyDescriptors(proto));
  Object.setPrototypeOf(Derived.prototype, Object.getPrototypeOf(proto));
}

/**
 * Constructors for `http.createServer({ IncomingMessage, ServerResponse })`. Replaces
 * `app.request` and `app.response` with the classes' prototypes (the same properties).
 */
export function expressClasses(app: Express): { IncomingMessage: typeof IncomingMessage; ServerResponse: typeof ServerResponse } {
  // Classes per app: their prototypes take the app's own (which name the app).
  class ExpressRequest extends IncomingMessage {}
  class ExpressResponse extends ServerResponse {}
  adopt(ExpressRequest, app.request);
  adopt(ExpressResponse, app.response);
  app.request = ExpressRequest.prototype as Express['request'];
  app.response = ExpressResponse.prototype as Express['response'];
  return { IncomingMessage: ExpressRequest, ServerResponse: ExpressResponse as typeof ServerResponse };
}
