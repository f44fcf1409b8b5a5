/**
 * Request bodies of the daemon's API, validated at the edge with zod: anything that reaches the
 * daemon has the right shape and types; the daemon then checks meaning (CIDRs, conflicts).
 * Unknown fields are refused, so a typo is an error rather than silently ignored.
 */
import { z } from 'zod';
import { DRIVER_NAMES } from './model.js';

const str = (max = 256) => z.string().max(max);

export const CreateNetworkBody = z.strictObject({
  name: str(64),
  driver: z.enum(DRIVER_NAMES).optional(),
  subnet: str(64).optional(),
  gateway: str(64).optional(),
  ipRange: str(64).optional(),
  ipv6: z.boolean().optional(),
  subnet6: str(64).optional(),
  gateway6: str(64).optional(),
  ipRange6: str(64).optional(),
  auxAddresses: z.record(str(64), str(64)).optional(),
  mtu: z.number().int().optional(),
  options: z.record(str(128), str(256)).optional(),
  force: z.boolean().optional(),
});

export const ConnectBody = z.strictObject({
  netns: str(4096).optional(),
  pid: z.number().int().optional(),
  ip: str(64).optional(),
  ip6: str(64).optional(),
  mac: str(64).optional(),
  ifname: str(64).optional(),
  /** HOSTPORT:PORT[/tcp|udp] (src/control/nat/published-ports.ts). */
  publish: z.array(str(32)).max(64).optional(),
});

/** POST /v1/fdb: a static remote entry on an overlay network (fdb add NETWORK MAC --vtep IP [--ip ADDR]). */
export const FdbAddBody = z.strictObject({
  network: str(128),
  mac: str(64),
  vtep: str(64),
  ip: str(64).optional(),
  ip6: str(64).optional(),
});

/** POST /v1/networks/NAME/uplinks: a host interface becomes a port of a bridge network (network uplink add). */
export const UplinkBody = z.strictObject({
  interface: str(64),
});

export const DisconnectBody = z.strictObject({
  endpoint: str(4096),
});

/** POST /v1/capture: start a streaming capture (src/control/capture-service.ts). */
export const CaptureBody = z.strictObject({
  target: str(4096),
  format: z.enum(['pcapng', 'pcap']).optional(),
  snaplen: z.number().int().optional(),
  count: z.number().int().optional(),
  filter: str(4096).optional(),
  annotate: z.boolean().optional(),
  underlay: z.boolean().optional(),
  writeSecrets: z.boolean().optional(),
});

/** POST /v1/networks/NAME/trace: run one frame through the pipeline without sending it. */
export const TraceBody = z.strictObject({
  in: str(4096),
  frame: str(60_000),
});

/** POST /v1/overlay/secrets: `passive` seconds: start no handshake, record those that happen (overlay secrets --passive). */
export const SecretsBody = z.strictObject({
  passive: z.number().int().min(1).max(600).optional(),
});

/** The page's actions (src/ui/ui-server.ts): a trace names its network; a capture is bounded by count and time. */
export const UiTraceBody = TraceBody.extend({ network: str(256) });
export const UiCaptureBody = z.strictObject({
  target: str(4096),
  count: z.number().int().min(1).max(100_000).optional(),
  seconds: z.number().min(0.1).max(600).optional(),
  filter: str(4096).optional(),
});

/** One line per problem: `field: what is wrong`. */
export function describeZodError(err: z.ZodError): string {
  return err.issues.map((i) => `${i.path.length ? i.path.join('.') : 'body'}: ${i.message}`).join('; ');
}
