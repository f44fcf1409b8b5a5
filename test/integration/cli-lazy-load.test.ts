/**
 * What the CLI loads, measured on the running program (bin/ -> dist/) with a loader hook that records
 * every module it loads: `network ls` against an API socket loads neither the bench harness nor the
 * daemon nor the data plane; `bench --list` does load the harness (so the hook sees lazy imports too).
 * The socket is a small HTTP server answering the one route `network ls` asks for: this test is about
 * module loading, not about the daemon. Needs no root.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO } from '../helpers/import-graph.js';

const run = promisify(execFile);
let dir: string;
let server: Server;
let socket: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tsn-lazy-'));
  socket = join(dir, 'api.sock');
  server = createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    if (req.method === 'GET' && req.url?.startsWith('/v1/networks')) {
      res.end(JSON.stringify([{ id: 'a1b2c3d4e5f6', name: 'lazynet', driver: 'bridge', subnet: '10.77.0.0/24', gateway: '10.77.0.1', endpoints: 0, internal: false }]));
    } else {
      res.statusCode = 404;
      res.end(JSON.stringify({ code: 'ERR_NOT_FOUND', message: `no route ${req.method} ${req.url}` }));
    }
  });
  await new Promise<void>((r) => server.listen(socket, r));
});

afterAll(async () => {
  await new Promise<void>((r) => server.close(() => r()));
  rmSync(dir, { recursive: true, force: true });
});

/** Run the CLI with the hook; returns its stdout and the repo-relative paths of the dist/ modules it loaded. */
async function loaded(args: string[], log: string): Promise<{ stdout: string; modules: string[] }> {
  const { stdout } = await run(process.execPath, ['--import', join(REPO, 'test/helpers/record-loads.mjs'), join(REPO, 'bin/tsnet-switch.js'), ...args], {
    env: { ...process.env, TSN_LOAD_LOG: log },
  });
  const prefix = `file://${REPO}/`;
  const modules = readFileSync(log, 'utf8')
    .split('\n')
    .filter((u) => u.startsWith(prefix))
    .map((u) => u.slice(prefix.length));
  return { stdout, modules };
}

describe('lazy loading in the CLI', () => {
  it('network ls loads neither the bench harness nor the daemon nor the data plane', async () => {
    const { stdout, modules } = await loaded(['network', 'ls', '--socket', socket, '--json'], join(dir, 'ls.log'));
    expect(JSON.parse(stdout)[0].name).toBe('lazynet'); // it did talk to the socket
    expect(modules).toContain('dist/cli/main.js');
    expect(modules).toContain('dist/control/api-client.js');
    expect(modules.filter((m) => m.startsWith('dist/bench/') || m === 'dist/cli/bench-run.js')).toEqual([]);
    expect(modules.filter((m) => m === 'dist/control/daemon.js' || m === 'dist/cli/daemon-command.js' || m === 'dist/dataplane/switch-engine.js')).toEqual([]);
  });

  it('bench --list loads the harness when it is asked for', async () => {
    const { stdout, modules } = await loaded(['bench', '--list'], join(dir, 'bench.log'));
    expect(stdout).toContain('bridge');
    expect(modules).toContain('dist/cli/bench-run.js');
    expect(modules).toContain('dist/bench/registry.js');
  });
});
