import http from 'node:http';
import https from 'node:https';
import axios, { type AxiosInstance, type CreateAxiosDefaults } from 'axios';

export interface HttpClientOptions extends Pick<CreateAxiosDefaults, 'baseURL' | 'headers' | 'maxRedirects' | 'maxBodyLength' | 'maxContentLength'> {
  /** Per request, in ms (axios `timeout`). */
  timeoutMs: number;
  /** Open sockets per origin, for each of the http and https agents; default 64. */
  maxSockets?: number;
  /** The agents' DNS lookup (default dns.lookup), e.g. publicOnlyLookup for URLs a tenant chose. */
  lookup?: http.AgentOptions['lookup'];
}

/** An axios instance over its own keep-alive agents; `close()` destroys them (idle sockets included). */
export type HttpClient = AxiosInstance & { close(): void };

/**
 * The one way services call HTTP: keep-alive agents created once per client (a new connection
 * per request costs more than the request), a timeout on every request, and every status
 * returned rather than thrown, because an AxiosError carries the request's config, headers and
 * secrets included, to wherever it is logged. Callers map statuses themselves. Whoever creates a
 * client closes it.
 */
export function createHttpClient(options: HttpClientOptions): HttpClient {
  const { timeoutMs, maxSockets = 64, lookup, ...rest } = options;
  const httpAgent = new http.Agent({ keepAlive: true, maxSockets, ...(lookup ? { lookup } : {}) });
  const httpsAgent = new https.Agent({ keepAlive: true, maxSockets, ...(lookup ? { lookup } : {}) });
  const instance = axios.create({ ...rest, timeout: timeoutMs, httpAgent, httpsAgent, validateStatus: () => true });
  return Object.assign(instance, {
    close() {
      httpAgent.destroy();
      httpsAgent.destroy();
    },
  });
}
