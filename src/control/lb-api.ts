/**
 * The load balancer's API routes and request bodies (zod, strict: unknown fields are refused), kept
 * apart from api-server.ts so that file only dispatches here:
 *
 *   GET  /v1/lb[?connections=1&limit=N]   lb ls (services, servers, counters, rates; connections)
 *   POST /v1/lb/services                  lb add-service
 *   POST /v1/lb/services/edit             lb edit-service
 *   POST /v1/lb/services/delete           lb del-service
 *   POST /v1/lb/servers                   lb add-server   (dryRun: how many flows would move)
 *   POST /v1/lb/servers/edit              lb edit-server  (dryRun)
 *   POST /v1/lb/servers/delete            lb del-server   (graceful, dryRun)
 *   POST /v1/lb/zero                      lb zero
 *   POST /v1/lb/timeout                   lb timeout (GET /v1/lb shows them)
 */
import { z } from 'zod';
import { TsnError } from '../errors.js';
import type { LbControl } from './lb-control.js';

const str = (max = 256) => z.string().max(max);
const ref = { protocol: z.enum(['tcp', 'udp']), service: str(64) };

export const LbAddServiceBody = z.strictObject({ ...ref, network: str(64), scheduler: str(16).optional(), persistTimeout: z.number().int().optional() });
export const LbEditServiceBody = z.strictObject({ ...ref, scheduler: str(16).optional(), persistTimeout: z.number().int().optional() });
export const LbServiceRefBody = z.strictObject(ref);
export const LbServerBody = z.strictObject({
  ...ref,
  server: str(64),
  weight: z.number().int().optional(),
  method: z.enum(['nat', 'dr', 'tun']).optional(),
  options: z.array(str(256)).max(8).optional(),
  dryRun: z.boolean().optional(),
});
export const LbDelServerBody = z.strictObject({ ...ref, server: str(64), graceful: z.boolean().optional(), dryRun: z.boolean().optional() });
export const LbZeroBody = z.strictObject({ protocol: z.enum(['tcp', 'udp']).optional(), service: str(64).optional() });
export const LbTimeoutBody = z.strictObject({ tcp: z.number().int().optional(), tcpfin: z.number().int().optional(), udp: z.number().int().optional() });

/**
 * Answer an lb request: `[status, body]`, or null when the path is not an lb route. `parse` is the
 * server's zod check (a TsnError ERR_BAD_REQUEST naming the field).
 */
export function handleLbRoute(
  lb: LbControl,
  method: string,
  parts: string[],
  query: URLSearchParams,
  body: unknown,
  parse: <T>(schema: z.ZodType<T>, body: unknown) => T,
): [number, unknown] | null {
  const [, resource, name, action] = parts;
  if (resource !== 'lb') return null;
  if (method === 'GET' && !name) {
    const limit = query.get('limit');
    return [200, lb.list({ connections: query.get('connections') === '1', limit: limit && /^\d+$/.test(limit) ? Number(limit) : undefined })];
  }
  if (method !== 'POST') return null;
  if (name === 'services' && !action) return [201, lb.addService(parse(LbAddServiceBody, body))];
  if (name === 'services' && action === 'edit') return [200, lb.editService(parse(LbEditServiceBody, body))];
  if (name === 'services' && action === 'delete') return [200, lb.delService(parse(LbServiceRefBody, body))];
  if (name === 'servers' && !action) {
    const b = parse(LbServerBody, body);
    return [b.dryRun ? 200 : 201, lb.addServer(b)];
  }
  if (name === 'servers' && action === 'edit') return [200, lb.editServer(parse(LbServerBody, body))];
  if (name === 'servers' && action === 'delete') return [200, lb.delServer(parse(LbDelServerBody, body))];
  if (name === 'zero' && !action) {
    const b = parse(LbZeroBody, body);
    if (b.service !== undefined && b.protocol === undefined) throw new TsnError('ERR_BAD_REQUEST', 'invalid request: protocol is required with service');
    return [200, lb.zero(b)];
  }
  if (name === 'timeout' && !action) return [200, lb.setTimeouts(parse(LbTimeoutBody, body))];
  return null;
}
