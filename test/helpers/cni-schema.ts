/**
 * The CNI spec's result types as strict zod schemas, per version (SPEC.md section 5 at the
 * spec-v0.4.0, spec-v1.0.0 and spec-v1.1.0 tags): a result with a field its version does not have
 * (0.4.0's ips[].version in 1.0.0, 1.1.0's interfaces[].mtu in 1.0.0) fails, as does a missing one.
 */
import { z } from 'zod';

const cidr4 = z.string().regex(/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/);
const ip4 = z.string().regex(/^\d{1,3}(\.\d{1,3}){3}$/);
const mac = z.string().regex(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
const dns = z.strictObject({ nameservers: z.array(z.string()).optional(), domain: z.string().optional(), search: z.array(z.string()).optional(), options: z.array(z.string()).optional() });
const route = z.strictObject({ dst: cidr4, gw: ip4.optional() });

function resultSchema(version: string) {
  const iface = z.strictObject({
    name: z.string().min(1),
    mac: mac.optional(),
    sandbox: z.string().optional(),
    ...(version === '1.1.0' ? { mtu: z.number().int().positive().optional(), socketPath: z.string().optional(), pciID: z.string().optional() } : {}),
  });
  const ip = z.strictObject({
    ...(version === '0.4.0' ? { version: z.enum(['4', '6']) } : {}),
    address: cidr4,
    gateway: ip4.optional(),
    interface: z.number().int().nonnegative().optional(),
  });
  return z.strictObject({ cniVersion: z.literal(version), interfaces: z.array(iface).optional(), ips: z.array(ip).optional(), routes: z.array(route).optional(), dns: dns.optional() });
}

export type CniResult = z.infer<ReturnType<typeof resultSchema>>;

/** Parse an ADD result against its version's schema; throws naming the field on a mismatch. */
export function checkResult(version: string, json: unknown): CniResult {
  const r = resultSchema(version).safeParse(json);
  if (!r.success) throw new Error(`not a CNI ${version} result: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}\n${JSON.stringify(json)}`);
  const res = r.data;
  for (const x of res.ips ?? []) {
    if (x.interface !== undefined && !(x.interface < (res.interfaces?.length ?? 0))) throw new Error(`ips[].interface ${x.interface} is not an index into interfaces`);
  }
  return res;
}

export const ErrorSchema = z.strictObject({ cniVersion: z.string(), code: z.number().int().nonnegative(), msg: z.string().min(1), details: z.string().optional() });

export function checkError(json: unknown): z.infer<typeof ErrorSchema> {
  const r = ErrorSchema.safeParse(json);
  if (!r.success) throw new Error(`not a CNI error object: ${JSON.stringify(json)}`);
  return r.data;
}

export const VersionSchema = z.strictObject({ cniVersion: z.string(), supportedVersions: z.array(z.string()) });
