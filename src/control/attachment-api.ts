/**
 * The runtime attachments' API routes (CNI and netavark plugins; runtime-attachments.ts), kept apart
 * from api-server.ts so that file only dispatches here. An attachment is named by (containerId, ifname):
 *
 *   POST /v1/attachments          ADD: connect (making the network on first use); 409 if it exists
 *   POST /v1/attachments/check    CHECK: the attachment and its interface, as they were made
 *   POST /v1/attachments/delete   DEL: remove it; an unknown attachment is no error
 *   POST /v1/attachments/gc       GC: remove a network's attachments not in `valid`
 */
import { z } from 'zod';
import { DRIVER_NAMES } from './model.js';
import type { RuntimeAttachments } from './runtime-attachments.js';

const str = (max = 256) => z.string().max(max);
const ref = { containerId: str(256), ifname: str(64) };

export const AttachBody = z.strictObject({
  ...ref,
  network: str(64),
  netns: str(4096),
  ip: str(64).optional(),
  prefixLen: z.number().int().min(0).max(32).optional(),
  mac: str(64).optional(),
  routes: z.array(z.strictObject({ dst: str(64), gw: str(64).optional() })).max(64).optional(),
  create: z
    .strictObject({
      driver: z.enum(DRIVER_NAMES).optional(),
      subnet: str(64).optional(),
      gateway: str(64).optional(),
      ipRange: str(64).optional(),
      mtu: z.number().int().optional(),
      options: z.record(str(128), str(256)).optional(),
    })
    .optional(),
});
export const AttachmentRefBody = z.strictObject(ref);
export const AttachmentGcBody = z.strictObject({ network: str(64), valid: z.array(z.strictObject(ref)).max(1 << 16) });

export function handleAttachmentRoute(
  attachments: RuntimeAttachments,
  method: string,
  parts: string[],
  body: unknown,
  parse: <T>(schema: z.ZodType<T>, body: unknown) => T,
): Promise<[number, unknown]> | null {
  const [, resource, action, extra] = parts;
  if (resource !== 'attachments' || method !== 'POST' || extra !== undefined) return null;
  if (!action) return attachments.add(parse(AttachBody, body)).then((r) => [201, r]);
  if (action === 'check') {
    const b = parse(AttachmentRefBody, body);
    return Promise.resolve().then(() => [200, attachments.check(b.containerId, b.ifname)]);
  }
  if (action === 'delete') {
    const b = parse(AttachmentRefBody, body);
    return attachments.remove(b.containerId, b.ifname).then((r) => [200, r]);
  }
  if (action === 'gc') {
    const b = parse(AttachmentGcBody, body);
    return attachments.gc(b.network, b.valid).then((r) => [200, r]);
  }
  return null;
}
