// Home Assistant MQTT discovery. Follows the per-entity discovery schema of Home Assistant 2024.x+
// (`<prefix>/<component>/<node_id>/<object_id>/config`, full key names, `availability` list with
// value_template, `device` and `origin` {name, sw_version, support_url} blocks; works from HA 2023.8 on).
// Configs are retained; HA's birth message on `<prefix>/status` ("online") makes us publish them again.
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { Config } from '../config/schema.js';
import { EmotiondError } from '../errors.js';
import type { Logger } from '../system/logger.js';
import { EMOTIONS } from '../types.js';
import { connectionSettings, refusesMqtt5, safeUrl, useMqtt311 } from '../mqtt/connection.js';
import { discoveryTopicsFor, nodeId, topicsFor, type Topics } from './topics.js';

export interface DiscoveryMessage {
  topic: string;
  /** The config object; removal publishes an empty retained payload on the same topic instead. */
  config: Record<string, unknown>;
}

export interface DiscoveryDeps {
  config: Pick<Config, 'mqtt' | 'device'>;
  topics: Topics;
  version: string;
  supportUrl?: string;
}

/** Every discovery config of one device: the sensors and the pause switch. */
export function discoveryMessages(deps: DiscoveryDeps): DiscoveryMessage[] {
  const device = deps.config.device.id;
  const node = nodeId(device);
  const t = deps.topics;
  const dt = discoveryTopicsFor(deps.config.mqtt.discovery_prefix, device);
  const common = {
    has_entity_name: true,
    availability: [{ topic: t.availability, value_template: '{{ value_json.state }}', payload_available: 'online', payload_not_available: 'offline' }],
    device: { identifiers: [node], name: `emotiond ${device}`, manufacturer: 'emotiond', model: 'Edge emotion daemon', sw_version: deps.version },
    origin: { name: 'emotiond', sw_version: deps.version, ...(deps.supportUrl ? { support_url: deps.supportUrl } : {}) },
  };
  const sensor = (objectId: string, fields: Record<string, unknown>): DiscoveryMessage => ({
    topic: dt.config('sensor', objectId),
    config: { unique_id: `${node}_${objectId}`, ...fields, ...common },
  });
  const messages: DiscoveryMessage[] = [
    sensor('faces', { name: 'Faces present', state_topic: t.room, value_template: '{{ value_json.faces }}', state_class: 'measurement', icon: 'mdi:account-multiple' }),
    sensor('mood', {
      name: 'Dominant mood',
      state_topic: t.room,
      // A summary withheld for privacy.min_faces says so rather than 'none' (nobody there).
      value_template: "{{ 'too few' if value_json.withheld else (value_json.dominant if value_json.dominant else 'none') }}",
      icon: 'mdi:emoticon-outline',
    }),
    ...EMOTIONS.map((e) =>
      sensor(`share_${e.toLowerCase()}`, {
        name: `${e} share`,
        state_topic: t.room,
        value_template: `{{ (value_json.shares.${e} * 100) | round(1) }}`,
        unit_of_measurement: '%',
        state_class: 'measurement',
        icon: 'mdi:chart-donut',
      }),
    ),
    sensor('fps', {
      name: 'Frames per second',
      state_topic: t.stats,
      value_template: '{{ value_json.fps | default(0) }}',
      unit_of_measurement: 'fps',
      state_class: 'measurement',
      entity_category: 'diagnostic',
      icon: 'mdi:speedometer',
    }),
    sensor('camera', { name: 'Camera', state_topic: t.camera, value_template: '{{ value_json.state }}', entity_category: 'diagnostic', icon: 'mdi:cctv' }),
    {
      topic: dt.config('switch', 'paused'),
      config: {
        unique_id: `${node}_paused`,
        name: 'Paused',
        command_topic: t.set,
        state_topic: t.paused,
        value_template: "{{ 'ON' if value_json.paused else 'OFF' }}",
        payload_on: '{"paused":true}',
        payload_off: '{"paused":false}',
        state_on: 'ON',
        state_off: 'OFF',
        qos: 1,
        entity_category: 'config',
        icon: 'mdi:pause-circle-outline',
        ...common,
      },
    },
  ];
  return messages;
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

/** HA's birth message on `<prefix>/status`: exactly "online" (surrounding white space allowed). */
export function isHaBirth(payload: Buffer): boolean {
  return payload.length < 64 && payload.toString('utf8').trim() === 'online';
}
