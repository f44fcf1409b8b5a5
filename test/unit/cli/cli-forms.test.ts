/**
 * The CLI's argument forms, run as users run it (bin/ -> dist/), without a daemon: where the global
 * options may go, and the completion scripts. A socket path that does not exist shows which socket
 * a command would have used. The forms against a live daemon are in test/integration/cli-forms.test.ts.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const CLI = resolve(import.meta.dirname, '../../../bin/tsnet-switch.js');
const built = existsSync(resolve(import.meta.dirname, '../../../dist/cli/main.js'));
const cli = (args: string[], env: NodeJS.ProcessEnv = {}) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, TSNET_SWITCH_SOCKET: '', ...env } });
const dir = mkdtempSync(join(tmpdir(), 'tsnet-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.skipIf(!built)('CLI forms (needs `npx tsc -p tsconfig.build.json`)', () => {
  it('--socket before or after the subcommand, and the subcommand\'s own wins', () => {
    for (const args of [
      ['--socket', '/nonexistent/a.sock', 'network', 'ls'],
      ['--socket=/nonexistent/a.sock', 'network', 'ls', '--json'],
      ['--json', '--socket', '/nonexistent/a.sock', 'stats'],
      ['network', 'inspect', 'x', '--json', '--socket', '/nonexistent/a.sock'],
      ['--socket', '/nonexistent/b.sock', 'lb', 'ls', '--socket', '/nonexistent/a.sock'],
    ]) {
      const r = cli(args);
      expect(r.status, args.join(' ')).toBe(1);
      expect(r.stderr, args.join(' ')).toContain('cannot reach the daemon at /nonexistent/a.sock (ENOENT)');
    }
  });

  it('a global --json does not become bench\'s --json FILE', () => {
    const r = cli(['--json', 'bench', '--from', join(dir, 'missing.json')]);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(cli(['bench', '--from', join(dir, 'missing.json')]).stderr);
    expect(r.stderr).toContain('missing.json: cannot read it (ENOENT)');
  });

  it('completion bash completes subcommands and options at every level', () => {
    const script = join(dir, 'c.bash');
    writeFileSync(script, cli(['completion', 'bash']).stdout);
    const complete = (words: string[]) =>
      execFileSync('bash', ['-c', `source ${script}; COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _tsnet_switch; echo "\${COMPREPLY[*]}"`], { encoding: 'utf8' }).trim().split(' ');
    expect(complete(['tsnet-switch', 'netw'])).toEqual(['network']);
    expect(complete(['tsnet-switch', 'network', ''])).toEqual(expect.arrayContaining(['create', 'ls', 'inspect', 'rm']));
    expect(complete(['tsnet-switch', '--socket', '/s', 'network', 'inspect', '--f'])).toEqual(['--format']);
    expect(complete(['tsnet-switch', 'lb', 'add-s'])).toEqual(['add-service', 'add-server']);
    expect(complete(['tsnet-switch', 'network', 'create', '--dri'])).toEqual(['--driver']);
  });

  it('completion zsh offers what follows the typed command path (compadd stubbed to print)', () => {
    const out = cli(['completion', 'zsh']).stdout;
    expect(out.startsWith('#compdef tsnet-switch\n')).toBe(true);
    const file = join(dir, 'c.zsh');
    writeFileSync(file, out);
    const offered = (words: string[]) =>
      execFileSync('zsh', ['-c', `compdef() { : }; compadd() { shift; print -r -- "$@"; }; source ${file}; words=(${words.map((w) => `'${w}'`).join(' ')}); CURRENT=${words.length}; _tsnet_switch`], { encoding: 'utf8' }).trim().split(' ');
    expect(offered(['tsnet-switch', '--socket', '/s', 'network', 'inspect', ''])).toEqual(['--json', '--format', '-f', '--socket', '--help']);
    expect(offered(['tsnet-switch', 'fdb', ''])).toEqual(expect.arrayContaining(['show', 'add', 'del']));
  });

  it('completion of an unknown shell names what is accepted', () => {
    const r = cli(['completion', 'fish']);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('completion "fish": expected bash or zsh');
  });
});
