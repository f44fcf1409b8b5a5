/**
 * Entry of the CNI plugin binary (bin/tsnet-cni; installed as `tsnet-switch` in a runtime's CNI
 * bin directory by `tsnet-switch cni install`). A runtime runs it once per container and verb, so
 * it loads only the plugin (src/cni/) and the API client: no CLI framework, no data plane.
 */
import { runCniPlugin } from './cni-plugin.js';
import { readStdin } from './read-stdin.js';

const stdin = await readStdin().catch(() => null);
const r =
  stdin === null
    ? { stdout: JSON.stringify({ cniVersion: '1.1.0', code: 5, msg: 'I/O failure', details: 'could not read the network configuration from stdin' }), exitCode: 1 }
    : await runCniPlugin(process.env, stdin);
if (r.stdout) process.stdout.write(r.stdout + '\n');
process.exitCode = r.exitCode;
