// native-readiness: readiness.c's ready list is C-owned; the Int32Array JavaScript gets is only a copy
// (issue 19, item 4). In a child process (the readiness handler is one per process): a FIFO watched by
// pollStart and a UDP socket whose 'message' handler scribbles over the shared array become readable
// in the same event-loop turn, so JavaScript writes into that array between the native poll callback
// and the check that reports it. Before the fix the check indexed its flag array with those values
// (an out-of-bounds write: the child died of SIGSEGV); now every report names the watched port.
// Also: a descriptor libuv cannot poll (a regular file) throws its errno and leaves the loop sound.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const addon = join(import.meta.dirname, '..', '..', 'build', 'Release', 'tsnet_native.node');

const CHILD = `
const fs = require('fs'), dgram = require('dgram');
const native = require(process.argv[1]);
const fifo = process.argv[2];
const ready = new Int32Array(64);
let calls = 0, wrong = 0, scribbles = 0;
const rd = fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
const wr = fs.openSync(fifo, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
const file = fs.openSync(process.argv[3], 'w+');
try { native.pollStart(file, 7); console.log('regular file accepted'); } catch (e) { console.log('regular file: ' + e.code); }
const sock = dgram.createSocket('udp4');
sock.on('message', () => { ready.fill(0x7ffffff0); scribbles++; });
let rounds = 0;
function round() {
  if (rounds++ === 300) { console.log(JSON.stringify({ calls, wrong, scribbles })); sock.close(); native.pollStop(5); fs.closeSync(rd); fs.closeSync(wr); return; }
  fs.writeSync(wr, 'x');
  sock.send('y', sock.address().port, '127.0.0.1');
}
native.setReadyHandler((n) => {
  calls++;
  for (let i = 0; i < n; i++) if (ready[i] !== 5) wrong++;
  try { while (fs.readSync(rd, Buffer.alloc(64)) > 0); } catch {}
  setImmediate(round);
}, ready);
try { native.pollStart(file, 7); console.log('regular file accepted'); } catch (e) { console.log('regular file: ' + e.code + ' ' + e.syscall); }
native.pollStart(rd, 5);
sock.bind(0, '127.0.0.1', round);
`;

describe('readiness.c ready list', () => {
  it('never indexes by what JavaScript wrote into the shared array; refuses an unpollable descriptor by errno', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsn-ready-'));
    try {
      const fifo = join(dir, 'fifo');
      execFileSync('mkfifo', [fifo]);
      const r = spawnSync(process.execPath, ['-e', CHILD, addon, fifo, join(dir, 'file')], { encoding: 'utf8', timeout: 60_000 });
      expect(r.signal, r.stderr).toBeNull();
      expect(r.status, r.stderr).toBe(0);
      const lines = r.stdout.trim().split('\n');
      expect(lines).toContain('regular file: ERR_INVALID_STATE'); // before setReadyHandler
      expect(lines).toContain('regular file: EPERM uv_poll_init'); // epoll cannot watch a regular file
      const got = JSON.parse(lines[lines.length - 1]) as { calls: number; wrong: number; scribbles: number };
      expect(got.calls).toBeGreaterThanOrEqual(300);
      expect(got.scribbles).toBeGreaterThanOrEqual(300); // JavaScript really did write over the array every round
      expect(got.wrong).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 90_000);
});
