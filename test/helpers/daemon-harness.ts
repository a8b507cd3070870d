// Runs the real Daemon in-process with a collecting sink: for integration tests.
import { Daemon, type DaemonOptions } from '../../src/app/daemon.js';
import { loadConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/system/logger.js';
import { MemorySink } from '../../src/sinks/memory-sink.js';

export { waitUntil as until } from './wait.js';

export function makeDaemon(flags: Record<string, string | boolean>, extra: Partial<DaemonOptions> = {}): { daemon: Daemon; sink: MemorySink } {
  const loaded = loadConfig({ env: {}, flags: { 'mqtt.enabled': false, 'log.level': 'error', 'log.pretty': 'no', ...flags } });
  const sink = new MemorySink();
  const logger = createLogger({ level: loaded.config.log.level, pretty: 'no' });
  const daemon = new Daemon({ config: loaded.config, logger, redactedConfig: loaded.redacted, sinks: [sink], ...extra });
  return { daemon, sink };
}
