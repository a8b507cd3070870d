// `emotiond remove-discovery`: clears this device's Home Assistant discovery configs on the broker.
import type { LoadedConfig } from '../config/load.js';
import type { Logger } from '../system/logger.js';
import { removeDiscovery } from '../contract/discovery.js';

export async function removeDiscoveryCommand(loaded: LoadedConfig, logger: Logger): Promise<void> {
  const n = await removeDiscovery({ config: loaded.config, logger });
  process.stdout.write(`removed ${n} Home Assistant discovery configs for device ${loaded.config.device.id}\n`);
}
