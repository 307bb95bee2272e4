import https from 'node:https';
import http from 'node:http';
import axios, { type AxiosInstance } from 'axios';
import type { MetaCredentials } from '@bridge/shared';
import { fromNetworkError, permanent, retryAfterMs, transient } from './errors';
import { classifyMetaError, type MetaSendBody } from './mapping';

/** Sends messages through the WhatsApp Cloud API with a tenant's token and number. */
export class MetaClient {
  private readonly http: AxiosInstance;

  constructor(private readonly options: { graphUrl: string; timeoutMs: number }) {
    this.http = axios.create({
      timeout: options.timeoutMs,
      httpAgent: new http.Agent({ keepAlive: true, maxSockets: 256 }),
      httpsAgent: new https.Agent({ keepAlive: true, maxSockets: 256 }),
      validateStatus: () => true,
    });
  }

  /** Returns the wamid Meta assigned; throws a DeliveryError classified by Meta's error code. */
  async send(credentials: MetaCredentials, body: MetaSendBody): Promise<string> {
    const url = `${this.options.graphUrl.replace(/\/+$/, '')}/${encodeURIComponent(credentials.phoneNumberId)}/messages`;
    let res;
    try {
      res = await this.http.post(url, body, { headers: { Authorization: `Bearer ${credentials.accessToken}`, 'Content-Type': 'application/json' } });
    } catch (err) {
      throw fromNetworkError(err, 'Meta');
    }
    const data = res.data as { messages?: Array<{ id?: string }>; error?: { code?: number; message?: string; error_data?: { details?: string } } };
    const wamid = data?.messages?.[0]?.id;
    if (res.status >= 200 && res.status < 300 && wamid) return wamid;
    const code = typeof data?.error?.code === 'number' ? data.error.code : undefined;
    const message = `Meta ${res.status}${code ? ` (#${code})` : ''} ${data?.error?.message ?? ''}`.trim();
    if (classifyMetaError(code, res.status) === 'transient') {
      throw transient('META_UNAVAILABLE', message, retryAfterMs(res.headers['retry-after']), code);
    }
    throw permanent(code === 190 ? 'META_TOKEN_INVALID' : 'META_REJECTED', message, code);
  }

  /** Releases kept-alive connections. */
  close(): void {
    (this.http.defaults.httpAgent as http.Agent).destroy();
    (this.http.defaults.httpsAgent as https.Agent).destroy();
  }
}
