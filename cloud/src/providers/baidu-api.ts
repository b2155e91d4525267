import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { type BceCredentials, signBceRequest } from './bce-signer.js';

/**
 * Baidu's IoT REST APIs (IoT Hub v1, IoT Core v1): JSON over HTTPS, every request signed with
 * bce-auth-v1. Both of Baidu's own clients (bce-sdk-java IotHubClient and IoTCoreClient) sign
 * `host` and `x-bce-date` only; so does this one.
 */

export interface BaiduApiOptions {
  readonly credentials: BceCredentials;
  /** Another API URL (a test's local server); each service has its own default. */
  readonly apiUrl?: string | undefined;
  /** Per request. Default 15 s. */
  readonly timeoutMs?: number | undefined;
  readonly now?: () => Date;
}

export class BaiduApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'BaiduApiError';
  }
}

const MAX_ANSWER_BYTES = 1024 * 1024;

export class BaiduApi {
  private readonly base: URL;

  constructor(
    private readonly options: BaiduApiOptions,
    defaultUrl: string,
  ) {
    this.base = new URL(options.apiUrl ?? defaultUrl);
  }

  /** The API's host name (`iot.gz.baidubce.com`). */
  get hostname(): string {
    return this.base.hostname;
  }

  /** Sends one request; resolves with the JSON answer (a GET: `undefined` on 404); throws BaiduApiError otherwise. */
  async call<T>(
    method: 'GET' | 'POST' | 'PUT' | 'DELETE',
    path: string,
    { query = {}, body }: { query?: Record<string, string>; body?: unknown } = {},
  ): Promise<T | undefined> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body), 'utf8');
    const timestamp = (this.options.now ?? (() => new Date()))();
    const headers: Record<string, string> = {
      host: this.base.host,
      'x-bce-date': timestamp.toISOString().replace(/\.\d{3}Z$/, 'Z'),
      'content-type': 'application/json; charset=utf-8',
      ...(payload ? { 'content-length': String(payload.length) } : {}),
    };
    headers.authorization = signBceRequest(
      this.options.credentials,
      { method, path, query, headers },
      { timestamp, headersToSign: ['host', 'x-bce-date'] },
    );
    const url = new URL(path, this.base);
    for (const [key, value] of Object.entries(query)) url.searchParams.set(key, value);
    const { status, text } = await this.send(method, url, headers, payload);
    if (status === 404 && method === 'GET') return undefined;
    const json = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    if (status < 200 || status >= 300) {
      const code = typeof json.code === 'string' ? json.code : `HTTP${status}`;
      const message = typeof json.message === 'string' ? json.message : text.slice(0, 200);
      throw new BaiduApiError(status, code, `${code}: ${message} (HTTP ${status})`);
    }
    return json as T;
  }

  private send(
    method: string,
    url: URL,
    headers: Record<string, string>,
    payload: Buffer | undefined,
  ): Promise<{ status: number; text: string }> {
    const request = url.protocol === 'http:' ? httpRequest : httpsRequest;
    const timeoutMs = this.options.timeoutMs ?? 15_000;
    return new Promise((resolve, reject) => {
      const req = request(url, { method, headers, timeout: timeoutMs }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_ANSWER_BYTES) req.destroy(new Error(`answer larger than ${MAX_ANSWER_BYTES} bytes`));
          else chunks.push(chunk);
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
      req.on('error', reject);
      req.end(payload);
    });
  }
}
