// `emotiond run` as a process of its own (the CLI under tsx), for tests of what survives a restart and of what
// it logs at start. Its stderr is parsed as JSON log lines.
import { spawn, type ChildProcess } from 'node:child_process';

export interface DaemonProcess {
  child: ChildProcess;
  stderr: () => string;
  logs: () => Array<Record<string, unknown>>;
  exited: Promise<number | null>;
  /** SIGTERM, then the exit code. */
  stop: () => Promise<number | null>;
}

export function spawnDaemon(args: string[], env: NodeJS.ProcessEnv = process.env): DaemonProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'run', '--log-pretty', 'no', ...args], {
    env: { ...env, ORT_DISABLE_TELEMETRY: '1' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  return {
    child,
    stderr: () => err,
    logs: () =>
      err
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>),
    exited,
    stop: () => {
      child.kill('SIGTERM');
      return exited;
    },
  };
}
