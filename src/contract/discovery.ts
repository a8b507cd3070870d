// Home Assistant MQTT discovery. Follows the per-entity discovery schema of Home Assistant 2024.x+
// (`<prefix>/<component>/<node_id>/<object_id>/config`, full key names, `availability` list with
// value_template, `device` and `origin` {name, sw_version, support_url} blocks; works from HA 2023.8 on).
// Configs are retained; HA's birth message on `<prefix>/status` ("online") makes us publish them again.
import type { Config } from '../config/schema.js';
import { EMOTIONS } from '../types.js';
import { discoveryTopicsFor, nodeId, type Topics } from './topics.js';

interface DiscoveryMessage {
  topic: string;
  /** The config object; removal publishes an empty retained payload on the same topic instead. */
  config: Record<string, unknown>;
}

interface DiscoveryDeps {
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
    sensor('faces', {
      name: 'Faces present',
      state_topic: t.room,
      value_template: '{{ value_json.faces }}',
      state_class: 'measurement',
      icon: 'mdi:account-multiple',
    }),
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

/** HA's birth message on `<prefix>/status`: exactly "online" (surrounding white space allowed). */
export function isHaBirth(payload: Buffer): boolean {
  return payload.length < 64 && payload.toString('utf8').trim() === 'online';
}
