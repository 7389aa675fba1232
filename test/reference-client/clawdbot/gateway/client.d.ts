// Types for the vendored reference client, as the test uses it.
export interface GatewayClientOptions {
  url: string;
  token?: string;
  password?: string;
  clientName?: string;
  mode?: string;
  role?: string;
  scopes?: string[];
  instanceId?: string;
  deviceIdentity?: { deviceId: string; publicKeyPem: string; privateKeyPem: string };
  onHelloOk?: (hello: Record<string, unknown>) => void;
  onEvent?: (event: { type: 'event'; event: string; payload?: unknown; seq?: number }) => void;
  onClose?: (code: number, reason: string) => void;
  onConnectError?: (err: Error) => void;
  onGap?: (gap: { expected: number; received: number }) => void;
}
export class GatewayClient {
  constructor(options: GatewayClientOptions);
  start(): void;
  stop(): void;
  request<T = unknown>(method: string, params?: unknown, options?: { expectFinal?: boolean }): Promise<T>;
}
