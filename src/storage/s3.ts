/** ObjectStore over S3 (or any S3-compatible endpoint such as moto or LocalStack). */
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { Readable } from 'node:stream';
import { collectStream, limitStream } from './bounded';
import { ObjectNotFoundError, ObjectTooLargeError, PreconditionFailedError, type ObjectInfo, type ObjectStore, type PutOptions, type ReadOptions } from './types';
import { formatS3Uri, parseS3Uri } from './uri';

/** S3 client options from the environment: AWS_ENDPOINT_URL points every test at an emulator. */
export function s3ClientConfigFromEnv(env: NodeJS.ProcessEnv = process.env): S3ClientConfig {
  const endpoint = env.AWS_ENDPOINT_URL_S3 ?? env.AWS_ENDPOINT_URL;
  return {
    region: env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1',
    ...(endpoint ? { endpoint, forcePathStyle: true } : {}),
  };
}

function statusOf(error: unknown): number | undefined {
  return error instanceof S3ServiceException ? error.$metadata.httpStatusCode : undefined;
}

export class S3ObjectStore implements ObjectStore {
  readonly kind = 's3' as const;
  readonly client: S3Client;

  constructor(client?: S3Client) {
    this.client = client ?? new S3Client(s3ClientConfigFromEnv());
  }

  async get(uri: string, options: ReadOptions = {}): Promise<Buffer> {
    return collectStream(await this.getStream(uri, undefined, options), uri, options.maxBytes);
  }

  async getText(uri: string, options: ReadOptions = {}): Promise<string> {
    return (await this.get(uri, options)).toString('utf8');
  }

  async getStream(uri: string, range?: { start: number; end: number }, options: ReadOptions = {}): Promise<Readable> {
    const { bucket, key } = parseS3Uri(uri);
    let body: Readable;
    let length: number | undefined;
    try {
      const response = await this.client.send(
        new GetObjectCommand({ Bucket: bucket, Key: key, ...(range ? { Range: `bytes=${range.start}-${range.end - 1}` } : {}) }),
      );
      if (!response.Body) throw new ObjectNotFoundError(uri);
      body = response.Body as Readable;
      length = response.ContentLength;
    } catch (error) {
      if (statusOf(error) === 404) throw new ObjectNotFoundError(uri, { cause: error });
      throw error;
    }
    if (options.maxBytes === undefined) return body;
    // Refuse from the response's length before reading a byte; the stream limit covers a missing or wrong one.
    if (length !== undefined && length > options.maxBytes) {
      body.destroy();
      throw new ObjectTooLargeError(uri, options.maxBytes, length);
    }
    return limitStream(body, uri, options.maxBytes);
  }

  async head(uri: string): Promise<ObjectInfo | null> {
    const { bucket, key } = parseS3Uri(uri);
    try {
      const response = await this.client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      return { uri, size: response.ContentLength ?? 0, etag: response.ETag ?? '' };
    } catch (error) {
      if (statusOf(error) === 404) return null;
      throw error;
    }
  }

  async exists(uri: string): Promise<boolean> {
    return (await this.head(uri)) !== null;
  }

  async put(uri: string, body: Buffer | string | Uint8Array, options: PutOptions = {}): Promise<string> {
    const { bucket, key } = parseS3Uri(uri);
    try {
      const response = await this.client.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: key,
          Body: body,
          ContentType: options.contentType,
          IfNoneMatch: options.ifNoneMatch,
          IfMatch: options.ifMatch,
        }),
      );
      return response.ETag ?? '';
    } catch (error) {
      const status = statusOf(error);
      if (status === 412 || status === 409) throw new PreconditionFailedError(uri, { cause: error });
      throw error;
    }
  }

  async putStream(uri: string, body: Readable, options: Pick<PutOptions, 'contentType'> = {}): Promise<string> {
    const { bucket, key } = parseS3Uri(uri);
    // lib-storage's Upload sends parts as they fill (5 MB, 4 at a time), so memory stays bounded.
    const { Upload } = await import('@aws-sdk/lib-storage');
    const upload = new Upload({ client: this.client, params: { Bucket: bucket, Key: key, Body: body, ContentType: options.contentType } });
    const result = await upload.done();
    return result.ETag ?? '';
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    const { bucket, key } = parseS3Uri(prefix);
    const out: ObjectInfo[] = [];
    let token: string | undefined;
    do {
      const page = await this.client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: key, ContinuationToken: token }));
      for (const item of page.Contents ?? []) {
        out.push({ uri: formatS3Uri({ bucket, key: item.Key! }), size: item.Size ?? 0, etag: item.ETag ?? '' });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return out.sort((a, b) => (a.uri < b.uri ? -1 : a.uri > b.uri ? 1 : 0));
  }

  async delete(uri: string): Promise<void> {
    const { bucket, key } = parseS3Uri(uri);
    await this.client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
  }
}

/** A Readable from bytes, for callers that want a stream over a buffer. */
export function readableFrom(bytes: Uint8Array): Readable {
  return Readable.from([Buffer.from(bytes)]);
}
