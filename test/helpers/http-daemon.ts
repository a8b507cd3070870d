// The real daemon with its HTTP part (the dashboard, /metrics, /healthz) on a free port, for the HTTP tests.
import { Daemon } from '../../src/app/daemon.js';
import { loadConfig } from '../../src/config/load.js';
import { createLogger, type Logger } from '../../src/system/logger.js';
import { MemorySink } from '../../src/sinks/memory-sink.js';
import type { DashboardPart } from '../../src/dashboard/dashboard-part.js';
import { freePort } from './ports.js';

export interface HttpDaemon {
  daemon: Daemon;
  http: DashboardPart;
  sink: MemorySink;
  url: string;
}

/** Builds (does not start) the daemon with http.enabled on 127.0.0.1 and a free port; `flags` as on the command line;
 * `log` replaces its logger (tests that read the log). */
export async function makeHttpDaemon(flags: Record<string, string | boolean>, env: NodeJS.ProcessEnv = {}, log?: Logger): Promise<HttpDaemon> {
  const port = await freePort();
  const loaded = loadConfig({
    env: {},
    flags: { 'mqtt.enabled': false, 'log.level': 'error', 'log.pretty': 'no', 'http.enabled': true, 'http.port': String(port), ...flags },
  });
  const logger = log ?? createLogger({ level: loaded.config.log.level, pretty: 'no' });
  const sink = new MemorySink();
  const daemon = new Daemon({ config: loaded.config, logger, redactedConfig: loaded.redacted, sinks: [sink], env });
  const http = daemon.http;
  if (!http) throw new Error('http.enabled but no HTTP part');
  return { daemon, http, sink, url: `http://127.0.0.1:${port}` };
}

/** Reads Server-Sent Events from `url` until `until` says stop (or `timeoutMs`); returns the parsed data of each `state` event. */
export async function readStates(
  url: string,
  until: (states: unknown[]) => boolean,
  timeoutMs: number,
  headers: Record<string, string> = {},
): Promise<unknown[]> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), timeoutMs);
  const states: unknown[] = [];
  try {
    const res = await fetch(url, { headers, signal: ac.signal });
    if (!res.ok || !res.body) throw new Error(`${url}: HTTP ${res.status}`);
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const lines = block.split('\n');
        if (!lines.includes('event: state')) continue;
        const data = lines
          .filter((l) => l.startsWith('data: '))
          .map((l) => l.slice(6))
          .join('\n');
        states.push(JSON.parse(data));
      }
      if (until(states)) break;
    }
  } catch (err) {
    if (!ac.signal.aborted) throw err;
  } finally {
    clearTimeout(timer);
    ac.abort();
  }
  return states;
}
