/**
 * The orval fetch mutator: every generated call goes through it, so the gateway's base
 * URL and bearer secret are set once at run time (orval 7's `baseUrl` takes a constant).
 */
let baseUrl = 'http://127.0.0.1:18789';
let token: string | undefined;

export function configureGateway(options: { baseUrl: string; token?: string }): void {
  baseUrl = options.baseUrl.replace(/\/$/u, '');
  token = options.token;
}

export function gatewayUrl(path: string): string {
  return `${baseUrl}${path}`;
}

export async function customFetch<T>(url: string, options: RequestInit): Promise<T> {
  const headers = new Headers(options.headers);
  if (token) headers.set('authorization', `Bearer ${token}`);
  const res = await fetch(gatewayUrl(url), { ...options, headers });
  const body = [204, 205, 304].includes(res.status) ? null : await res.text();
  const data: unknown = body ? JSON.parse(body) : {};
  return { data, status: res.status, headers: res.headers } as T;
}
