/**
 * A JSON request body, read with a size cap, and checked against a schema: the API socket, the
 * Docker plugin socket and the page's actions all take their bodies this way.
 */
import type { IncomingMessage } from 'node:http';
import type { z } from 'zod';
import { TsnError } from '../errors.js';
import { describeZodError } from './api-schema.js';

/** The parsed body; an empty one is `{}`. Over `maxBytes`: ERR_BODY_TOO_LARGE; not JSON: ERR_BAD_JSON. */
export async function readJsonBody(req: IncomingMessage, maxBytes: number): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) throw new TsnError('ERR_BODY_TOO_LARGE', `request body over ${maxBytes} bytes`);
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return {};
  try {
    return JSON.parse(text);
  } catch {
    throw new TsnError('ERR_BAD_JSON', 'request body is not valid JSON');
  }
}

/** The body as the schema types it, or ERR_BAD_REQUEST naming each field that is wrong. */
export function parseRequest<T>(schema: z.ZodType<T>, body: unknown): T {
  const r = schema.safeParse(body);
  if (!r.success) throw new TsnError('ERR_BAD_REQUEST', `invalid request: ${describeZodError(r.error)}`);
  return r.data;
}
