/** `--docker-api`: dockerd's socket as unix:///PATH, or off; anything else is refused naming it. */
import { createServer } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DockerContainerNames, parseDockerApi } from '../../../src/docker/container-names.js';

describe('container names from dockerd', () => {
  it('parses --docker-api', () => {
    expect(parseDockerApi('unix:///run/docker.sock')).toBe('/run/docker.sock');
    expect(parseDockerApi('off')).toBeNull();
    expect(() => parseDockerApi('tcp://127.0.0.1:2375')).toThrow('--docker-api "tcp://127.0.0.1:2375": expected unix:///PATH (dockerd\'s socket) or off');
  });

  it('finds the container holding an endpoint in /containers/json, and answers null when none does or dockerd is away', async () => {
    // A stand-in for dockerd's list (the shape `docker ps` reads); the real one is in docker-driver.test.ts.
    const dir = mkdtempSync(join(tmpdir(), 'tsn-names-'));
    const sock = join(dir, 'd.sock');
    const paths: string[] = [];
    const server = createServer((req, res) => {
      paths.push(req.url ?? '');
      res.end(JSON.stringify([{ Names: ['/web1'], NetworkSettings: { Networks: { web: { EndpointID: 'e1' }, other: { EndpointID: 'e2' } } } }]));
    });
    await new Promise<void>((r) => server.listen(sock, r));
    try {
      const names = new DockerContainerNames(sock, () => undefined);
      expect(await names.lookup('e2')).toBe('web1');
      expect(await names.lookup('e3')).toBeNull();
      expect(paths[0]).toBe('/containers/json?all=1');
      expect(await new DockerContainerNames(join(dir, 'none.sock'), () => undefined).lookup('e1')).toBeNull();
    } finally {
      server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
