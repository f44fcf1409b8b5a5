// native-c: the addon's standalone C tests and fuzzers (native/test/*.c), built here with the system C
// compiler under AddressSanitizer and UndefinedBehaviorSanitizer and run; each exits non-zero on a
// failed check, and a sanitizer report fails it too. They drive the C functions the Node-API glue calls
// (vtep_rx.c's receive decoding, packet_rx.c's AF_PACKET rows, gso.c's segmentation and checksums)
// with frames built byte by byte, and a bounded deterministic fuzz run (rx_fuzz.c; its libFuzzer entry
// point is for longer runs by hand: clang -fsanitize=fuzzer,address,undefined -DTSN_LIBFUZZER).
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');
const cc = process.env.CC ?? 'cc';
const haveCc = spawnSync(cc, ['--version']).status === 0;
if (!haveCc) console.warn(`skipping the native C tests: no C compiler (${cc}); node-gyp needs one to build the addon anyway`);
const out = mkdtempSync(join(tmpdir(), 'tsn-ctest-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

const SAN = ['-O1', '-g', '-fsanitize=address,undefined', '-fno-sanitize-recover=all', '-fno-omit-frame-pointer', '-Wall', '-Wextra', '-Wno-unused-parameter', '-std=gnu11'];

/** Compile native/test/<name>.c with the given addon sources, run it, return its stdout (throws with its stderr on failure). */
function buildAndRun(name: string, sources: string[], args: string[] = [], libs: string[] = []): string {
  const bin = join(out, name);
  execFileSync(cc, [...SAN, join(root, 'native/test', `${name}.c`), ...sources.map((s) => join(root, 'native/src', s)), ...libs, '-o', bin], { stdio: 'pipe' });
  const r = spawnSync(bin, args, { encoding: 'utf8', env: { ...process.env, ASAN_OPTIONS: 'detect_leaks=1:abort_on_error=0', UBSAN_OPTIONS: 'print_stacktrace=1' }, timeout: 120_000 });
  if (r.status !== 0) throw new Error(`${name} exited ${r.status ?? r.signal}:\n${r.stderr}\n${r.stdout}`);
  return r.stdout;
}

describe.skipIf(!haveCc)('native C tests under ASan/UBSan', () => {
  it('gso_test: segmentation and checksum completion (gso.c)', () => {
    expect(buildAndRun('gso_test', ['gso.c'])).toMatch(/\d+ checks, 0 failures/);
  }, 180_000);

  it('vtep_rx_test: VXLAN receive decoding, GRO runs and tunnel GSO (vtep_rx.c)', () => {
    expect(buildAndRun('vtep_rx_test', ['vtep_rx.c', 'gso.c'])).toMatch(/\d+ checks, 0 failures/);
  }, 180_000);

  it('vtep_addr6_test: an IPv6 VTEP numbering its remote addresses, full table included (vtep_addr6.c)', () => {
    expect(buildAndRun('vtep_addr6_test', ['vtep_addr6.c'])).toMatch(/\d+ checks, 0 failures/);
  }, 180_000);

  it('rx_fuzz: 100000 mutated VXLAN messages and AF_PACKET frames through vtep_rx.c, packet_rx.c and gso.c (deterministic)', () => {
    expect(buildAndRun('rx_fuzz', ['vtep_rx.c', 'packet_rx.c', 'gso.c'], ['100000'])).toMatch(/100000 inputs, .*; 0 failures/);
  }, 180_000);

  it('wg_tx_test: WireGuard send counting when sealing fails part-way (wg_tx.c: what left, what did not)', () => {
    expect(buildAndRun('wg_tx_test', ['wg_tx.c', 'udp_batch.c', 'flow_hash.c', 'gso.c'])).toMatch(/\d+ checks, 0 failures/);
  }, 180_000);

  it('wg_data_aead_test: the data path ChaCha20-Poly1305 equals libcrypto\'s combined AEAD, refuses tampering, stays in its bounds (wg_data_aead.c)', () => {
    expect(buildAndRun('wg_data_aead_test', ['wg_data_aead.c'], [], ['-lcrypto'])).toMatch(/\d+ checks, 0 failures/);
  }, 180_000);
});
