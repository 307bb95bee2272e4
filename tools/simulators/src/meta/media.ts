/**
 * Media: `GET /{version}/{media-id}` looks an upload up and hands out a download URL,
 * `GET /media-download/{token}` serves the bytes. A download URL requires exactly the token that
 * looked the media up; an expired URL is 404.
 */
import { createHash, randomBytes } from 'node:crypto';
import { bearerToken, type SimRequest, type SimResponse } from '../common';
import { metaError, type MetaFaults } from './faults';
import type { MetaNumbers } from './numbers';

export interface MetaMediaOptions {
  mediaId: string;
  bytes: Buffer;
  mimeType: string;
  /** When set, only that number's token may look the media up. */
  phoneNumberId?: string;
}

export interface MetaMediaInfo {
  mediaId: string;
  mimeType: string;
  fileSize: number;
  /** Hex SHA-256 (as the media lookup returns it). */
  sha256Hex: string;
  /** Base64 SHA-256 (as webhooks carry it). */
  sha256Base64: string;
}

/** The media of one simulator and the download links it handed out. */
export class MetaMediaStore {
  private readonly media = new Map<string, MetaMediaOptions & MetaMediaInfo>();
  private readonly downloads = new Map<string, { mediaId: string; token: string; expiresAt: number }>();
  /** `http://host:port` of the simulator, for download URLs; set once it listens. */
  baseUrl = '';

  constructor(
    private readonly numbers: MetaNumbers,
    private readonly faults: MetaFaults,
    private readonly urlTtlMs: number,
  ) {}

  add(m: MetaMediaOptions): MetaMediaInfo {
    const info: MetaMediaInfo = {
      mediaId: m.mediaId,
      mimeType: m.mimeType,
      fileSize: m.bytes.length,
      sha256Hex: createHash('sha256').update(m.bytes).digest('hex'),
      sha256Base64: createHash('sha256').update(m.bytes).digest('base64'),
    };
    this.media.set(m.mediaId, { ...m, ...info });
    return info;
  }

  handleLookup(req: SimRequest, mediaId: string): SimResponse {
    if (req.method !== 'GET') {
      return metaError(100, { message: `Unsupported ${req.method.toLowerCase()} request.`, subcode: 33 });
    }
    const token = bearerToken(req.headers);
    if (!token) return metaError(190, { message: 'An access token is required to request this resource.' });
    if (!this.numbers.tokenIsKnown(token)) return metaError(190);
    const fault = this.faults.take({ endpoint: 'media' });
    if (fault) return fault;
    const item = this.media.get(mediaId);
    const scoped = req.query.get('phone_number_id');
    const allowed =
      item !== undefined &&
      (item.phoneNumberId === undefined || this.numbers.tokenOf(item.phoneNumberId) === token) &&
      (scoped === null || scoped === item.phoneNumberId || item.phoneNumberId === undefined);
    if (!item || !allowed) {
      return metaError(100, {
        message: `Unsupported get request. Object with ID '${mediaId}' does not exist, cannot be loaded due to missing permissions, or does not support this operation.`,
        subcode: 33,
      });
    }
    const downloadToken = randomBytes(24).toString('base64url');
    this.downloads.set(downloadToken, { mediaId, token, expiresAt: Date.now() + this.urlTtlMs });
    return {
      status: 200,
      body: {
        url: `${this.baseUrl}/media-download/${downloadToken}`,
        mime_type: item.mimeType,
        sha256: item.sha256Hex,
        file_size: item.fileSize,
        id: mediaId,
        messaging_product: 'whatsapp',
      },
    };
  }

  handleDownload(req: SimRequest, downloadToken: string): SimResponse {
    if (req.method !== 'GET') return metaError(100, { message: 'Unsupported request.' });
    const token = bearerToken(req.headers);
    const link = this.downloads.get(downloadToken);
    if (!link || link.expiresAt <= Date.now()) {
      return metaError(100, { message: 'The media URL is unknown or has expired.', httpStatus: 404 });
    }
    if (!token) return metaError(190, { message: 'An access token is required to download this media.' });
    if (token !== link.token) return metaError(190, { message: 'This access token may not download this media.' });
    const fault = this.faults.take({ endpoint: 'download' });
    if (fault) return fault;
    const item = this.media.get(link.mediaId);
    if (!item) return metaError(100, { message: 'The media no longer exists.', httpStatus: 404 });
    return { status: 200, raw: item.bytes, headers: { 'Content-Type': item.mimeType } };
  }
}
