/**
 * StateStore: the daemon's state (networks, endpoints, IPAM allocations, ...) as one JSON document,
 * `<dir>/state.json`, written atomically so that a crash or power loss at any moment leaves either the
 * previous document or the new one, never a torn mix:
 *
 *   1. write the whole document to a temp file in the same directory (`state.json.tmp-<pid>-<rand>`,
 *      created O_EXCL, mode 0600)                         open(O_CREAT|O_EXCL|O_WRONLY), write
 *   2. fsync the temp file: its bytes are on disk          fsync
 *   3. rename it over state.json: atomic within a directory  rename
 *   4. fsync the directory: the rename itself is on disk   open(dir, O_RDONLY), fsync
 *
 * The document carries a `version` (the state schema's); a document of a newer version is refused
 * (ERR_STATE_VERSION) and left alone, an older one goes through `migrate` if given. A document that
 * cannot be parsed or fails `validate` is corrupt: it is moved aside to
 * `state.json.corrupt-<time>` (kept, never deleted) and load() throws ERR_STATE_CORRUPT naming both
 * paths; the caller decides whether to go on with empty state. Temp files left by a crash between
 * steps 1 and 3 are removed by load().
 *
 * The directory is created with mode 0700 (the state names namespaces and addresses; only root
 * should read it). An existing directory's mode is left as it is.
 *
 * Synchronous fs calls throughout: the file is small and this is the daemon's control path, where a
 * write must be complete before the API answers.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { TsnError } from '../errors.js';

export interface StateStoreOptions<T> {
  /** Default 'state.json'. */
  fileName?: string;
  /** The document version this code reads and writes. Default 1. */
  version?: number;
  /** Check a parsed document of the current version; throw to reject it (it is then corrupt). */
  validate?: (doc: { version: number }) => T;
  /** Turn a document of an older version into the current one. Without it, older is refused. */
  migrate?: (doc: { version: number }) => T;
  /** Clock for the corrupt file's name (tests). */
  now?: () => Date;
}

function errnoText(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  return err && err.code ? `${err.code}: ${err.message}` : String(e);
}

export class StateStore<T extends { version: number }> {
  readonly dir: string;
  /** The state file's path. */
  readonly file: string;
  readonly version: number;
  private readonly tmpPrefix: string;
  private readonly opts: StateStoreOptions<T>;

  constructor(dir: string, opts: StateStoreOptions<T> = {}) {
    const fileName = opts.fileName ?? 'state.json';
    if (fileName === '' || fileName.includes('/') || fileName === '.' || fileName === '..') {
      throw new TsnError('ERR_BAD_OPTION', `state file name ${JSON.stringify(fileName)}: expected a plain file name such as state.json`);
    }
    const version = opts.version ?? 1;
    if (!Number.isInteger(version) || version < 1) throw new TsnError('ERR_BAD_OPTION', `state version ${version}: expected a positive integer`);
    this.dir = path.resolve(dir);
    this.file = path.join(this.dir, fileName);
    this.tmpPrefix = `${fileName}.tmp-`;
    this.version = version;
    this.opts = opts;
    this.ensureDir();
  }

  private ensureDir(): void {
    try {
      fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    } catch (e) {
      throw new TsnError('ERR_STATE_WRITE', `cannot create the state directory ${this.dir} (${errnoText(e)}): run as root or give a writable --state-dir`, { dir: this.dir }, { cause: e });
    }
  }

  /** fsync a directory so that a rename in it is durable. Filesystems that cannot do it are tolerated. */
  private syncDir(): void {
    let fd: number | null = null;
    try {
      fd = fs.openSync(this.dir, 'r');
      fs.fsyncSync(fd);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'EINVAL' && code !== 'ENOTSUP' && code !== 'EISDIR') throw e;
    } finally {
      if (fd !== null) fs.closeSync(fd);
    }
  }

  /** Remove temp files a crashed save() left behind. Returns how many. */
  cleanTempFiles(): number {
    let names: string[];
    try {
      names = fs.readdirSync(this.dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 0;
      throw new TsnError('ERR_STATE_UNREADABLE', `cannot list the state directory ${this.dir} (${errnoText(e)})`, { dir: this.dir }, { cause: e });
    }
    let n = 0;
    for (const name of names) {
      if (!name.startsWith(this.tmpPrefix)) continue;
      try {
        fs.unlinkSync(path.join(this.dir, name));
        n++;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new TsnError('ERR_STATE_WRITE', `cannot remove the leftover temp file ${path.join(this.dir, name)} (${errnoText(e)})`, undefined, { cause: e });
      }
    }
    return n;
  }

  /**
   * The stored state, or null if there is none yet. Throws ERR_STATE_UNREADABLE (the file exists but
   * cannot be read: permissions, a directory in its place), ERR_STATE_VERSION (a newer version, or an
   * older one without `migrate`), ERR_STATE_CORRUPT (moved aside; see the class comment).
   */
  load(): T | null {
    this.cleanTempFiles();
    let text: string;
    try {
      text = fs.readFileSync(this.file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw new TsnError('ERR_STATE_UNREADABLE', `cannot read the state file ${this.file} (${errnoText(e)}): check its owner and mode (the daemon runs as root), or move it away to start empty`, { file: this.file }, { cause: e });
    }
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (e) {
      return this.corrupt(text.length === 0 ? 'the file is empty' : `it is not valid JSON: ${(e as Error).message}`, e);
    }
    if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
      return this.corrupt(`the document is ${Array.isArray(doc) ? 'an array' : JSON.stringify(doc)}, expected an object with a version`);
    }
    const version = (doc as { version?: unknown }).version;
    if (typeof version !== 'number' || !Number.isInteger(version) || version < 1) {
      return this.corrupt(`its version is ${JSON.stringify(version)}, expected a positive integer`);
    }
    const versioned = doc as { version: number };
    if (version > this.version) {
      throw new TsnError('ERR_STATE_VERSION', `the state file ${this.file} has version ${version}, written by a newer tsnet-switch; this one reads version ${this.version}: upgrade, or move the file away to start empty`, { file: this.file, version, supported: this.version });
    }
    if (version < this.version) {
      if (!this.opts.migrate) {
        throw new TsnError('ERR_STATE_VERSION', `the state file ${this.file} has version ${version}; this tsnet-switch reads version ${this.version} and cannot migrate it: move the file away to start empty`, { file: this.file, version, supported: this.version });
      }
      try {
        return this.opts.migrate(versioned);
      } catch (e) {
        if (e instanceof TsnError && e.code.startsWith('ERR_STATE_')) throw e;
        return this.corrupt(`migrating it from version ${version} failed: ${(e as Error).message}`, e);
      }
    }
    if (!this.opts.validate) return versioned as T;
    try {
      return this.opts.validate(versioned);
    } catch (e) {
      return this.corrupt(`it failed validation: ${(e as Error).message}`, e);
    }
  }

  /** Move the corrupt file aside and throw ERR_STATE_CORRUPT. */
  private corrupt(reason: string, cause?: unknown): never {
    const stamp = (this.opts.now?.() ?? new Date()).toISOString().replace(/:/g, '-');
    let aside = `${this.file}.corrupt-${stamp}`;
    for (let i = 1; fs.existsSync(aside); i++) aside = `${this.file}.corrupt-${stamp}-${i}`;
    try {
      fs.renameSync(this.file, aside);
      this.syncDir();
    } catch (e) {
      throw new TsnError('ERR_STATE_CORRUPT', `the state file ${this.file} is corrupt (${reason}), and moving it aside to ${aside} failed (${errnoText(e)}): move or remove it by hand`, { file: this.file, reason }, { cause });
    }
    throw new TsnError(
      'ERR_STATE_CORRUPT',
      `the state file ${this.file} is corrupt (${reason}); it was moved aside to ${aside} and nothing was loaded: go on with empty state, or put a good copy back at ${this.file}`,
      { file: this.file, movedTo: aside, reason },
      { cause },
    );
  }

  /**
   * Write the state atomically (see the class comment). On any failure the previous file is intact
   * and ERR_STATE_WRITE is thrown with the errno (ENOSPC, EACCES, ...).
   */
  save(state: T): void {
    if (state === null || typeof state !== 'object' || state.version !== this.version) {
      throw new TsnError('ERR_STATE_VERSION', `refusing to save state of version ${JSON.stringify((state as { version?: unknown } | null)?.version)}: this store writes version ${this.version}`, { version: this.version });
    }
    let text: string;
    try {
      text = `${JSON.stringify(state, null, 2)}\n`;
    } catch (e) {
      throw new TsnError('ERR_STATE_WRITE', `cannot serialize the state for ${this.file}: ${(e as Error).message}`, { file: this.file }, { cause: e });
    }
    this.ensureDir();
    const tmp = path.join(this.dir, `${this.tmpPrefix}${process.pid}-${randomBytes(4).toString('hex')}`);
    let fd: number | null = null;
    let renamed = false;
    try {
      fd = fs.openSync(tmp, 'wx', 0o600);
      fs.writeFileSync(fd, text);
      fs.fsyncSync(fd);
      fs.closeSync(fd);
      fd = null;
      fs.renameSync(tmp, this.file);
      renamed = true;
      this.syncDir();
    } catch (e) {
      if (renamed) {
        throw new TsnError('ERR_STATE_WRITE', `the state file ${this.file} was replaced, but syncing its directory failed (${errnoText(e)}): the new state may not survive a power loss`, { file: this.file }, { cause: e });
      }
      if (fd !== null) {
        try {
          fs.closeSync(fd);
        } catch {
          // already failing; the write error is the one to report
        }
      }
      try {
        fs.unlinkSync(tmp);
      } catch {
        // absent (renamed, or never created): nothing to clean
      }
      throw new TsnError('ERR_STATE_WRITE', `cannot write the state file ${this.file} (${errnoText(e)}); the previous state is intact`, { file: this.file }, { cause: e });
    }
  }
}
