// Builds the MQTT side for the daemon: the embedded broker (when mqtt.embedded) and the publisher.
import type { Config } from '../config/schema.js';
import { isLoopbackHost } from '../config/load.js';
import { splitList } from '../config/schema.js';
import { EmotiondError } from '../errors.js';
import type { Logger } from '../system/logger.js';
import type { DaemonControl } from '../types.js';
import { passwordPath, readPassword } from '../system/credentials.js';
import { EmbeddedBroker, type BrokerCredentials } from '../broker/embedded-broker.js';
import { MqttPublisher } from '../mqtt/mqtt-publisher.js';
import type { Part, SinkPart } from './daemon.js';

export interface MqttPartsDeps {
  config: Config;
  logger: Logger;
  control: DaemonControl;
  version: string;
  /** Called when the publisher first connects (systemd READY waits for it). */
  onReady: () => void;
  /** Where `$CREDENTIALS_DIRECTORY` is read from (default: process.env). */
  env?: NodeJS.ProcessEnv;
}

export function buildMqttParts(deps: MqttPartsDeps): Array<Part | SinkPart> {
  const { config, logger } = deps;
  if (!config.mqtt.enabled) return [];
  const env = deps.env ?? process.env;
  const parts: Array<Part | SinkPart> = [];
  if (config.mqtt.embedded) {
    let broker: EmbeddedBroker | undefined;
    const m = config.mqtt;
    // The password is read at start, like the publisher's: a file that cannot be read fails the start.
    const start = (): Promise<void> => {
      broker = new EmbeddedBroker({ host: m.embedded_host, port: m.embedded_port, wsPort: m.embedded_ws_port, logger, auth: embeddedCredentials(m, env), wsOrigins: splitList(m.embedded_ws_origins) });
      return broker.start();
    };
    parts.push({ name: 'embedded broker', start, stop: async () => broker?.stop() });
  }
  const reconnect = { minMs: config.mqtt.reconnect_min_s * 1000, maxMs: config.mqtt.reconnect_max_s * 1000 };
  const publisher = new MqttPublisher({ config, logger, version: deps.version, control: deps.control, reconnect, env, perFace: config.privacy.per_face, minFaces: config.privacy.min_faces });
  publisher.onConnect(deps.onReady);
  parts.push({ name: 'mqtt publisher', sink: publisher, start: () => publisher.start(), stop: () => publisher.stop(), isReady: () => publisher.connected });
  return parts;
}

/**
 * The embedded broker's login: mqtt.username and the password of mqtt.password_file, which the publisher also
 * logs in with. None configured = open (config validation allows that only on loopback). Beyond loopback an
 * empty password is refused: it would let anyone who knows the username in.
 */
export function embeddedCredentials(m: Config['mqtt'], env: NodeJS.ProcessEnv): BrokerCredentials | undefined {
  if (m.username === '') return undefined;
  const password = readPassword(m, env) ?? '';
  if (password === '' && !isLoopbackHost(m.embedded_host)) {
    throw new EmotiondError('EMD_CONFIG_INVALID', `mqtt.password_file ${passwordPath(m.password_file, env)} is empty: the embedded broker listens on ${m.embedded_host}, beyond this machine, and needs a password`);
  }
  if (password === '' && m.embedded_ws_port !== 0) {
    throw new EmotiondError('EMD_CONFIG_INVALID', `mqtt.password_file ${passwordPath(m.password_file, env)} is empty: the embedded broker's WebSocket listener (mqtt.embedded_ws_port) needs a password, since any web page open on this machine can reach it`);
  }
  return { username: m.username, password };
}
