/**
 * The CNI parameters a runtime passes in the environment (SPEC.md, section 2 "Parameters"), checked
 * per command: ADD and CHECK need CNI_CONTAINERID, CNI_NETNS and CNI_IFNAME; DEL needs the id and
 * ifname (the namespace may be gone); GC needs CNI_PATH; VERSION and STATUS need only the command.
 * A missing or malformed variable is error 4, naming the variable.
 */
import { CNI_ERR, CniError } from './cni-error.js';

export const CNI_COMMANDS = ['ADD', 'DEL', 'CHECK', 'VERSION', 'STATUS', 'GC'] as const;
export type CniCommand = (typeof CNI_COMMANDS)[number];

export interface CniEnv {
  command: CniCommand;
  containerId: string;
  netns: string;
  ifname: string;
  /** CNI_ARGS as key/value pairs ("FOO=BAR;ABC=123"). */
  args: Map<string, string>;
  /** CNI_PATH split on ':'. */
  path: string[];
}

const CONTAINER_ID_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

function invalid(name: string, value: string | undefined, expected: string): CniError {
  return new CniError(CNI_ERR.INVALID_ENV, `invalid ${name}`, `${name}=${JSON.stringify(value ?? '')}: ${expected}`);
}

export function parseCniArgs(text: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  if (!text) return out;
  for (const pair of text.split(';')) {
    if (pair === '') continue;
    const i = pair.indexOf('=');
    if (i <= 0) throw invalid('CNI_ARGS', text, `${JSON.stringify(pair)} is not KEY=VALUE; expected pairs separated by ';', e.g. "IgnoreUnknown=1;IP=10.88.0.5"`);
    out.set(pair.slice(0, i), pair.slice(i + 1));
  }
  return out;
}

export function readCniEnv(env: NodeJS.ProcessEnv): CniEnv {
  const command = env.CNI_COMMAND;
  if (!command || !(CNI_COMMANDS as readonly string[]).includes(command)) {
    throw invalid('CNI_COMMAND', command, `expected one of ${CNI_COMMANDS.join(', ')}`);
  }
  const cmd = command as CniCommand;
  const attachment = cmd === 'ADD' || cmd === 'DEL' || cmd === 'CHECK';
  const containerId = env.CNI_CONTAINERID ?? '';
  const ifname = env.CNI_IFNAME ?? '';
  const netns = env.CNI_NETNS ?? '';
  if (attachment) {
    if (!CONTAINER_ID_RE.test(containerId)) throw invalid('CNI_CONTAINERID', containerId, 'expected a non-empty id of [a-zA-Z0-9_.-], starting with a letter or digit');
    if (Buffer.byteLength(ifname) < 1 || Buffer.byteLength(ifname) > 15 || ifname === '.' || ifname === '..' || /[/:%\s]/.test(ifname)) {
      throw invalid('CNI_IFNAME', ifname, "expected an interface name of 1 to 15 bytes without '/', ':', '%' or spaces");
    }
    if (cmd !== 'DEL' && !netns.startsWith('/')) throw invalid('CNI_NETNS', netns, 'expected the path of the container\'s network namespace, e.g. /run/netns/NAME');
  }
  const pathText = env.CNI_PATH ?? '';
  if (cmd === 'GC' && pathText === '') throw invalid('CNI_PATH', pathText, 'GC needs the list of plugin directories');
  return { command: cmd, containerId, netns, ifname, args: parseCniArgs(env.CNI_ARGS), path: pathText.split(':').filter(Boolean) };
}
