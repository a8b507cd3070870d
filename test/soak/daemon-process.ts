// The daemon as the service runs it: the built entry point with the unit's memory settings, restarted after
// an unexpected exit as Restart=on-failure would (each such exit is a crash for the soak).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export const ENTRY = 'dist/src/cli/main.js';

/** Builds the daemon (npm run build) unless dist/ is newer than every source file: other tests may be reading
 * dist/ at the same time, and tsc rewrites its files in place. */
export function ensureBuilt(root: string): void {
  const entry = path.join(root, ENTRY);
  const built = fs.existsSync(entry) ? fs.statSync(entry).mtimeMs : 0;
  const newest = (dir: string): number =>
    fs.readdirSync(dir, { withFileTypes: true }).reduce((m, e) => {
      const p = path.join(dir, e.name);
      return Math.max(m, e.isDirectory() ? newest(p) : e.name.endsWith('.ts') ? fs.statSync(p).mtimeMs : 0);
    }, 0);
  if (built > newest(path.join(root, 'src'))) return;
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: root, stdio: 'inherit' });
}

/** Environment= lines of the shipped unit that shape memory use (NODE_OPTIONS, MALLOC_ARENA_MAX). */
export function unitMemoryEnv(root: string): Record<string, string> {
  const unit = fs.readFileSync(path.join(root, 'deploy/emotiond.service'), 'utf8');
  const env: Record<string, string> = {};
  for (const m of unit.matchAll(/^Environment=(NODE_OPTIONS|MALLOC_ARENA_MAX)=(.*)$/gm)) env[m[1]!] = m[2]!;
  return env;
}

export class DaemonProcess {
  private child: ChildProcess | undefined;
  private stopping = false;
  /** A SIGKILL the soak sent (a power cut): its exit is not a crash. */
  private killing = false;
  crashes = 0;
  kills = 0;
  readonly logFile: string;

  constructor(private readonly opts: { root: string; runDir: string; args: string[]; onCrash: () => void; env?: NodeJS.ProcessEnv; onKilled?: () => void }) {
    this.logFile = path.join(opts.runDir, 'daemon.log');
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  start(): void {
    const { root, runDir, args } = this.opts;
    const log = fs.openSync(this.logFile, 'a');
    const child = spawn(process.execPath, [path.join(root, ENTRY), 'run', '--system-state-dir', path.join(runDir, 'state'), '--log-level', 'warn', ...args], {
      cwd: root,
      env: { ...process.env, NODE_ENV: 'production', ...unitMemoryEnv(root), ...this.opts.env },
      stdio: ['ignore', log, log],
    });
    fs.closeSync(log);
    this.child = child;
    child.once('exit', (code, signal) => {
      if (this.stopping) return;
      if (this.killing) {
        this.killing = false;
        fs.appendFileSync(this.logFile, `\n[soak] daemon killed (SIGKILL, a power cut); restarting in 1 s\n`);
        this.opts.onKilled?.();
      } else {
        this.crashes += 1;
        fs.appendFileSync(this.logFile, `\n[soak] daemon exited unexpectedly (${signal ?? code}); restarting in 1 s\n`);
        this.opts.onCrash();
      }
      setTimeout(() => !this.stopping && this.start(), 1000);
    });
  }

  /** SIGKILL, as a power cut ends it (not counted as a crash); restarted after 1 s like the others. Resolves at the exit. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    this.killing = true;
    this.kills += 1;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
  }

  /** SIGTERM as systemctl stop does; the exit status (SIGKILL after 10 s counts as 137). */
  async stop(): Promise<number> {
    this.stopping = true;
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return child?.exitCode ?? 0;
    return new Promise<number>((resolve) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        resolve(signal ? 128 + (signal === 'SIGKILL' ? 9 : 15) : (code ?? 0));
      });
      child.kill('SIGTERM');
    });
  }
}
