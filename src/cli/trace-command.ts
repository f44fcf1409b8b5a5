/**
 * `tsnet-switch trace NETWORK --in ENDPOINT FRAME... [--json]`: what the switch would do with one
 * frame, stage by stage, without sending it (POST /v1/networks/NAME/trace). FRAME is a short spec
 * (src/capture/frame-spec.ts): `icmp 10.0.0.2 > 10.0.0.3`, `tcp 10.0.0.2:1234 > 10.0.0.100:80 syn`,
 * `udp ...`, `arp who-has 10.0.0.3`, or the frame in hex. Output, in the spirit of ofproto/trace:
 *
 *   frame     02:42:0a:00:00:02 > 02:42:0a:00:00:03, IPv4 10.0.0.2 > 10.0.0.3, ICMP echo request, 98 bytes
 *   ingress   accept from c1:eth0 (98 bytes)
 *   l2-learn  static entry, not learned: 02:42:0a:00:00:02 on c1:eth0
 *   l2-fwd    fdb hit 02:42:0a:00:00:03 -> c2:eth0
 *   egress    output c2:eth0
 *   result    output c2:eth0
 */
import { Command, Option } from 'commander';
import { ApiClient, DEFAULT_SOCKET, socketPathFrom } from '../control/api-client.js';

interface TraceAnswer {
  network: string;
  in: string;
  frame: { spec: string; summary: string; length: number; hex: string };
  stages: { stage: string; decision: string }[];
  outputs: string[];
  dropped: boolean;
}

export function formatTrace(t: TraceAnswer): string {
  const width = Math.max(9, ...t.stages.map((s) => s.stage.length + 1));
  const lines = [`${'frame'.padEnd(width)} ${t.frame.summary}`];
  for (const s of t.stages) lines.push(`${s.stage.padEnd(width)} ${s.decision}`);
  lines.push(`${'result'.padEnd(width)} ${t.dropped ? 'dropped' : `output ${t.outputs.join(', ')}`}`);
  return lines.join('\n');
}

export function registerTraceCommand(program: Command): void {
  program
    .command('trace')
    .description('run one frame through the live pipeline without sending it, and print what each stage decides')
    .argument('<network>')
    .argument('<frame...>', 'icmp SRC > DST | tcp SRC:PORT > DST:PORT [syn|ack|fin|rst|psh|urg] | udp SRC:PORT > DST:PORT | arp who-has IP [tell IP] | hex')
    .requiredOption('--in <endpoint>', 'the endpoint the frame enters by (id, netns name, interface, label like c1:eth0, or the gateway device)')
    .option('--json', 'print JSON')
    .addOption(new Option('--socket <path>', `the daemon's API socket (env TSNET_SWITCH_SOCKET; default ${DEFAULT_SOCKET})`))
    .action(async (network: string, frame: string[], o: { in: string; json?: boolean; socket?: string }) => {
      const r = await new ApiClient(socketPathFrom(o.socket)).call<TraceAnswer>('POST', `/v1/networks/${encodeURIComponent(network)}/trace`, { in: o.in, frame: frame.join(' ') });
      console.log(o.json ? JSON.stringify(r, null, 2) : formatTrace(r));
    });
}
