// `emotiond remove-discovery`: clears this device's Home Assistant discovery configs on the broker (an empty
// retained message on each), with a client of its own.
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { Config } from '../config/schema.js';
import type { LoadedConfig } from '../config/load.js';
import { EmotiondError } from '../errors.js';
import type { Logger } from '../system/logger.js';
import { discoveryMessages } from '../contract/discovery.js';
import { topicsFor } from '../contract/topics.js';
import { connectionSettings, refusesMqtt5, safeUrl, useMqtt311 } from '../mqtt/connection.js';

export async function removeDiscoveryCommand(loaded: LoadedConfig, logger: Logger): Promise<void> {
  const n = await removeDiscovery({ config: loaded.config, logger });
  process.stdout.write(`removed ${n} Home Assistant discovery configs for device ${loaded.config.device.id}\n`);
}

export interface RemoveDiscoveryDeps {
  config: Pick<Config, 'mqtt' | 'device'>;
  logger: Logger;
  env?: NodeJS.ProcessEnv;
  /** Give up after this long without a broker (default 10 s). */
  timeoutMs?: number;
}

/**
 * `emotiond remove-discovery`: connect with a client id of its own (and no Last Will), clear every
 * discovery config with an empty retained message, disconnect. Returns how many configs were cleared.
 */
export async function removeDiscovery(deps: RemoveDiscoveryDeps): Promise<number> {
  const log = deps.logger.child({ module: 'mqtt' });
  const topics = topicsFor(deps.config.mqtt.base_topic, deps.config.device.id);
  const { url, options } = connectionSettings({ config: deps.config, topics, env: deps.env, clientIdSuffix: '_cli' });
  delete options.will;
  options.reconnectPeriod = 0;
  options.connectTimeout = deps.timeoutMs ?? 10_000;
  const client = await connectOnce(url, options).catch(async (err: unknown) => {
    // A broker without MQTT 5 refuses the CONNECT: try 3.1.1 once, as the daemon does.
    if (!refusesMqtt5(options, err)) throw wrap(url, err);
    return connectOnce(url, useMqtt311(options)).catch((e: unknown) => {
      throw wrap(url, e);
    });
  });
  try {
    const messages = discoveryMessages({ config: deps.config, topics, version: '' });
    await Promise.all(messages.map((m) => client.publishAsync(m.topic, '', { qos: 1, retain: true })));
    log.info({ url: safeUrl(url), removed: messages.length }, 'removed Home Assistant discovery configs');
    return messages.length;
  } catch (err) {
    throw wrap(url, err);
  } finally {
    await client.endAsync().catch(() => undefined);
  }
}

function wrap(url: string, err: unknown): EmotiondError {
  return new EmotiondError('EMD_MQTT', `remove-discovery via ${safeUrl(url)}: ${(err as Error).message}`, { cause: err });
}

/** Connects or rejects (refused, unreachable, or no CONNACK within connectTimeout); never retries. */
function connectOnce(url: string, options: IClientOptions): Promise<MqttClient> {
  const client = mqtt.connect(url, options);
  return new Promise<MqttClient>((resolve, reject) => {
    const fail = (err: Error): void => {
      clearTimeout(timer);
      client.removeAllListeners('connect');
      client.on('error', () => undefined);
      client.end(true);
      reject(err);
    };
    const timer = setTimeout(() => fail(new Error(`no connection within ${options.connectTimeout ?? 0} ms`)), options.connectTimeout ?? 10_000);
    client.once('connect', () => {
      clearTimeout(timer);
      client.removeAllListeners('error');
      client.on('error', () => undefined);
      resolve(client);
    });
    client.once('error', fail);
  });
}
