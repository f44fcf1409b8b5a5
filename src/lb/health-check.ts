/**
 * TcpHealthCheck: keepalived's TCP_CHECK, built in. Every `interval` seconds the daemon opens a TCP
 * connection to the real server (net.connect from the daemon's own network namespace, where the
 * network's gateway port makes the subnet reachable) and closes it as soon as it is established.
 * `fall` consecutive failures (refused, unreachable, or no answer within `timeout`) mark the server
 * down: it gets no new connections; `rise` consecutive successes mark it up again. A server starts up.
 * `port=N` checks another port than the server's (keepalived's connect_port; a UDP service needs it).
 *
 * One check in flight per server at a time; timers are unref'd so checks never keep a process alive.
 */
import { connect, type Socket } from 'node:net';

export interface HealthCheckSpec {
  type: 'tcp';
  /** Seconds between checks. */
  interval: number;
  /** Seconds a connect may take. */
  timeout: number;
  fall: number;
  rise: number;
  /** Port to connect to instead of the real server's (keepalived's connect_port); needed for UDP services. */
  port?: number;
}

export const DEFAULT_HEALTH_CHECK: Readonly<HealthCheckSpec> = Object.freeze({ type: 'tcp', interval: 1, timeout: 1, fall: 3, rise: 2 });

export interface HealthState {
  healthy: boolean;
  /** Consecutive results of the current kind. */
  streak: number;
  checks: number;
  failures: number;
  lastError: string | null;
  lastChange: string | null;
}

export class TcpHealthCheck {
  readonly state: HealthState = { healthy: true, streak: 0, checks: 0, failures: 0, lastError: null, lastChange: null };
  private timer: NodeJS.Timeout | null = null;
  private inFlight: Socket | null = null;

  constructor(
    readonly spec: HealthCheckSpec,
    /** The server's address as text (either family). */
    readonly host: string,
    readonly port: number,
    /** Called when the server goes up or down. */
    private readonly onChange: (healthy: boolean, why: string) => void,
  ) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.runOnce(), this.spec.interval * 1000);
    this.timer.unref();
    this.runOnce();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.inFlight?.destroy();
    this.inFlight = null;
  }

  /** One check; resolves with its result (tests call this directly). */
  runOnce(): Promise<boolean> {
    if (this.inFlight) return Promise.resolve(this.state.healthy);
    return new Promise((resolve) => {
      const sock = connect({ host: this.host, port: this.port });
      this.inFlight = sock;
      let done = false;
      const finish = (ok: boolean, err: string | null) => {
        if (done) return;
        done = true;
        clearTimeout(t);
        sock.destroy();
        if (this.inFlight === sock) this.inFlight = null;
        this.record(ok, err);
        resolve(ok);
      };
      const t = setTimeout(() => finish(false, `no answer within ${this.spec.timeout}s`), this.spec.timeout * 1000);
      t.unref();
      sock.once('connect', () => finish(true, null));
      sock.once('error', (e: NodeJS.ErrnoException) => finish(false, e.code ?? e.message));
    });
  }

  private record(ok: boolean, err: string | null): void {
    const s = this.state;
    s.checks++;
    if (!ok) {
      s.failures++;
      s.lastError = err;
    }
    // streak counts consecutive results that disagree with the current state.
    if (ok === s.healthy) {
      s.streak = 0;
      return;
    }
    s.streak++;
    if ((!ok && s.streak >= this.spec.fall) || (ok && s.streak >= this.spec.rise)) {
      s.healthy = ok;
      s.streak = 0;
      s.lastChange = new Date().toISOString();
      this.onChange(ok, ok ? `${this.spec.rise} checks passed` : `${this.spec.fall} checks failed (${err})`);
    }
  }
}

/** Parse `check=tcp,interval=1s,fall=3,rise=2[,timeout=1s]` (the value of `-o`). Throws a message naming what is wrong. */
export function parseHealthCheck(text: string): HealthCheckSpec | null {
  const spec: HealthCheckSpec = { ...DEFAULT_HEALTH_CHECK };
  let seenCheck = false;
  for (const part of text.split(',')) {
    const i = part.indexOf('=');
    const key = i > 0 ? part.slice(0, i).trim() : part.trim();
    const value = i > 0 ? part.slice(i + 1).trim() : '';
    if (key === 'check') {
      if (value === 'none' || value === 'off') return null;
      if (value !== 'tcp') throw new Error(`check=${value}: expected check=tcp (a TCP connect check) or check=none`);
      seenCheck = true;
    } else if (key === 'interval' || key === 'timeout') {
      const m = /^(\d+(?:\.\d+)?)(ms|s)?$/.exec(value);
      const secs = m ? Number(m[1]) / (m[2] === 'ms' ? 1000 : 1) : NaN;
      if (!(secs >= 0.1 && secs <= 3600)) throw new Error(`${key}=${value}: expected a duration from 100ms to 3600s, like 1s or 500ms`);
      spec[key] = secs;
    } else if (key === 'port') {
      if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > 65535) throw new Error(`port=${value}: expected a TCP port from 1 to 65535`);
      spec.port = Number(value);
    } else if (key === 'fall' || key === 'rise') {
      if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > 100) throw new Error(`${key}=${value}: expected a whole number from 1 to 100`);
      spec[key] = Number(value);
    } else {
      throw new Error(`${JSON.stringify(part)}: unknown health-check option; accepted: check=tcp|none, interval=DURATION, timeout=DURATION, fall=N, rise=N, port=N`);
    }
  }
  if (!seenCheck) throw new Error(`${JSON.stringify(text)}: expected check=tcp first, e.g. check=tcp,interval=1s,fall=3,rise=2`);
  return spec;
}
