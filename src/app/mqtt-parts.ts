// Builds the MQTT side for the daemon: the embedded broker (optional) and the publisher.
import type { Config } from '../config/schema.js';
import type { Logger } from '../system/logger.js';
import type { DaemonControl } from '../types.js';
import type { Part, SinkPart } from './daemon.js';

export interface MqttPartsDeps {
  config: Config;
  logger: Logger;
  control: DaemonControl;
  onReady: () => void;
}

export function buildMqttParts(deps: MqttPartsDeps): Array<Part | SinkPart> {
  if (!deps.config.mqtt.enabled) return [];
  deps.logger.child({ module: 'mqtt' }).warn('MQTT publisher not wired yet');
  return [];
}
