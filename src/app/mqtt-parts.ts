// Builds the MQTT side for the daemon: the embedded broker (when mqtt.embedded) and the publisher.
import type { Config } from '../config/schema.js';
import type { Logger } from '../system/logger.js';
import type { DaemonControl } from '../types.js';
import { EmbeddedBroker } from '../publish/embedded-broker.js';
import { MqttPublisher } from '../publish/mqtt-publisher.js';
import type { Part, SinkPart } from './daemon.js';

export interface MqttPartsDeps {
  config: Config;
  logger: Logger;
  control: DaemonControl;
  version: string;
  /** Called when the publisher first connects (systemd READY waits for it). */
  onReady: () => void;
}

export function buildMqttParts(deps: MqttPartsDeps): Array<Part | SinkPart> {
  const { config, logger } = deps;
  if (!config.mqtt.enabled) return [];
  const parts: Array<Part | SinkPart> = [];
  if (config.mqtt.embedded) {
    const broker = new EmbeddedBroker({ host: config.mqtt.embedded_host, port: config.mqtt.embedded_port, wsPort: config.mqtt.embedded_ws_port, logger });
    parts.push({ name: 'embedded broker', start: () => broker.start(), stop: () => broker.stop() });
  }
  const reconnect = { minMs: config.mqtt.reconnect_min_s * 1000, maxMs: config.mqtt.reconnect_max_s * 1000 };
  const publisher = new MqttPublisher({ config, logger, version: deps.version, control: deps.control, reconnect });
  publisher.onConnect(deps.onReady);
  parts.push({ name: 'mqtt publisher', sink: publisher, start: () => publisher.start(), stop: () => publisher.stop(), isReady: () => publisher.connected });
  return parts;
}
