// Types for payloads.mjs (plain JS so the floors run on bare node), for the .ts scripts.
export declare const TOKEN: string;
export declare const MESSAGE: string;
export declare const DELTAS: string[];
export declare const REQUEST_BODY: string;
export declare const STREAM_BODY: string;
export declare function userBody(user: string): string;
export declare function streamUserBody(user: string): string;
export declare const PACED_DELTAS: number;
export declare const PACED_DELAY_MS: number;
export declare const REQUEST_HEADERS: Record<string, string>;
export declare const COMPLETION_BYTES: Buffer;
export declare const SSE_BYTES: Buffer;
export declare const STREAM_MARKER: Buffer;
