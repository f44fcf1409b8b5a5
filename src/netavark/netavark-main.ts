/**
 * Entry of the netavark plugin launcher (`tsnet-switch netavark install` writes it as
 * DIR/tsnet-switch): netavark runs it per container, so it loads only the plugin and the API client.
 * `tsnet-switch netavark …` runs the same code through the CLI.
 */
import { runNetavarkPlugin } from './netavark-plugin.js';
import { readStdin } from '../cni/read-stdin.js';

const argv = process.argv.slice(2);
const stdin = argv[0] === 'info' || argv.length === 0 ? '' : await readStdin();
const r = await runNetavarkPlugin(argv, stdin, process.env);
if (r.stdout) process.stdout.write(r.stdout + '\n');
process.exitCode = r.exitCode;
