// `emotiond remove-discovery`: clears this device's Home Assistant discovery configs on the broker (an empty
// retained message on each), with a client of its own.
import type { Config } from '../config/schema.js';
import type { LoadedConfig } from '../config/load.js';
import { EmotiondError } from '../errors.js';
import type { Logger } from '../system/logger.js';
import { discoveryMessages } from '../contract/discovery.js';
import { topicsFor } from '../contract/topics.js';
import { BrokerLink, errorText } from '../mqtt/broker-link.js';
import { connectionSettings, safeUrl } from '../mqtt/connection.js';

export async function removeDiscoveryCommand(loaded: LoadedConfig, logger: Logger): Promise<void> {
  const n = await removeDiscovery({ config: loaded.config, logger });
  process.stdout.write(`removed ${n} Home Assistant discovery configs for device ${loaded.config.device.id}\n`);
}

/** After a refused MQTT 5 CONNECT, MQTT 3.1.1 is tried this soon. */
const RETRY_MS = 100;
/** The disconnect waits at most this long. */
const END_MS = 2000;

interface RemoveDiscoveryDeps {
  config: Pick<Config, 'mqtt' | 'device'>;
  logger: Logger;
  env?: NodeJS.ProcessEnv;
  /** Give up after this long without a broker (default 10 s). */
  timeoutMs?: number;
}

/**
 * `emotiond remove-discovery`: connect with a client id of its own (and no Last Will), through the daemon's broker
 * link (so a broker without MQTT 5 gets MQTT 3.1.1, as the daemon's publisher does), clear every discovery config
 * with an empty retained message, disconnect. Any other failed attempt is final. Returns how many configs were
 * cleared.
 */
export async function removeDiscovery(deps: RemoveDiscoveryDeps): Promise<number> {
  const log = deps.logger.child({ module: 'mqtt' });
  const timeoutMs = deps.timeoutMs ?? 10_000;
  const topics = topicsFor(deps.config.mqtt.base_topic, deps.config.device.id);
  const settings = connectionSettings({ config: deps.config, topics, env: deps.env, clientIdSuffix: '_cli' });
  delete settings.options.will;
  settings.options.connectTimeout = timeoutMs;
  const { url } = settings;
  let timer: NodeJS.Timeout | undefined;
  let link!: BrokerLink;
  const connected = new Promise<void>((resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`no connection within ${timeoutMs} ms`)), timeoutMs);
    link = new BrokerLink({
      settings,
      logger: log,
      reconnect: { minMs: RETRY_MS, maxMs: RETRY_MS },
      onConnect: resolve,
      onClose: () => undefined,
      onMessage: () => undefined,
      onError: (err, fallback) => fallback || reject(err),
    });
  });
  try {
    link.start();
    await connected;
    const messages = discoveryMessages({ config: deps.config, topics, version: '' });
    await Promise.all(
      messages.map(
        (m) =>
          new Promise<void>(
            (resolve, reject) =>
              link.publish(m.topic, '', { qos: 1, retain: true }, (err) => (err ? reject(err) : resolve())) || reject(new Error('the connection was lost')),
          ),
      ),
    );
    log.info({ url: safeUrl(url), removed: messages.length }, 'removed Home Assistant discovery configs');
    return messages.length;
  } catch (err) {
    throw new EmotiondError('EMD_MQTT', `remove-discovery via ${safeUrl(url)}: ${errorText(err as Error)}`, { cause: err });
  } finally {
    clearTimeout(timer);
    await link.end(performance.now() + END_MS);
  }
}
