/**
 * `tsnet-switch cni install [--dir DIR] [--socket PATH]`: put the plugin where runtimes look for it
 * (`tsnet-switch netavark install` does the same for the netavark plugin)
 * (CNI's bin directory, default /opt/cni/bin; Debian's runtimes also search /usr/lib/cni). The
 * file is named after the plugin type, `tsnet-switch`, and is a two-line launcher: the node that
 * runs this command (an absolute path, as runtimes pass a minimal PATH) and an import of the
 * plugin's entry by absolute path. Written to a temporary name and renamed into place, so a runtime
 * that runs it at that moment never sees half a file ("text file busy" is what libcni retries).
 */
import { chmodSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

export const CNI_PLUGIN_TYPE = 'tsnet-switch';
export const DEFAULT_CNI_BIN_DIR = '/opt/cni/bin';

/** The launcher's text: runs `entry` (an absolute path of a built .js module) with this node. */
export function launcherText(entry: string, socket?: string): string {
  return [
    `#!${process.execPath}`,
    '// Written by `tsnet-switch cni|netavark install`: runs the plugin from where tsnet-switch is installed.',
    ...(socket !== undefined ? [`process.env.TSNET_SWITCH_SOCKET ??= ${JSON.stringify(socket)};`] : []),
    `import(${JSON.stringify(pathToFileURL(entry).href)});`,
    '',
  ].join('\n');
}

export function installLauncher(dir: string, name: string, entry: string, socket?: string): string {
  const target = join(resolve(dir), name);
  mkdirSync(dir, { recursive: true });
  const tmp = `${target}.tmp-${process.pid}`;
  writeFileSync(tmp, launcherText(entry, socket), { mode: 0o755 });
  chmodSync(tmp, 0o755);
  renameSync(tmp, target);
  return target;
}

export const DEFAULT_NETAVARK_PLUGIN_DIR = '/usr/local/lib/netavark';

/** Install the netavark plugin (driver name tsnet-switch) into one of netavark_plugin_dirs; returns the file written. */
export function installNetavarkPlugin(dir = DEFAULT_NETAVARK_PLUGIN_DIR, socket?: string): string {
  return installLauncher(dir, CNI_PLUGIN_TYPE, resolve(import.meta.dirname, '../netavark/netavark-main.js'), socket);
}

/** Install the CNI plugin; returns the file written. */
export function installCniPlugin(dir = DEFAULT_CNI_BIN_DIR, socket?: string): string {
  return installLauncher(dir, CNI_PLUGIN_TYPE, resolve(import.meta.dirname, 'plugin-main.js'), socket);
}
