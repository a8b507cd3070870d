// The outputs the configuration turns on, built for the composition root (daemon.ts): stdout (events.print), the
// embedded broker (mqtt.embedded), the MQTT publisher (mqtt.enabled) and the dashboard's HTTP server
// (http.enabled). Each gets what it needs of the daemon by name: MQTT the commands it may give (DaemonControl), the
// dashboard what it shows (DaemonView, MQTT's health, the room's face-time).
import type { Config } from '../config/schema.js';
import { splitList } from '../config/schema.js';
import { EmotiondError } from '../errors.js';
import type { Logger } from '../system/logger.js';
import type { DaemonControl, EmotionScores, EventSink, Part, SinkPart } from '../types.js';
import { isLoopbackHost } from '../system/addresses.js';
import { passwordPath, readPassword } from '../system/credentials.js';
import { EmbeddedBroker, type BrokerCredentials } from '../broker/embedded-broker.js';
import { MqttPublisher } from '../mqtt/mqtt-publisher.js';
import { DashboardPart } from '../dashboard/dashboard-part.js';
import type { DaemonView } from '../dashboard/views.js';
import { StdoutSink } from '../sinks/stdout-sink.js';

interface OutputDeps {
  config: Config;
  logger: Logger;
  version: string;
  /** What MQTT commands act on: the running daemon. */
  control: DaemonControl;
  /** What the dashboard shows of the daemon. */
  view: DaemonView;
  /** Face-seconds per emotion as the room summaries counted them (events/room-window.ts), for /metrics. */
  emotionSeconds: () => EmotionScores;
  /** Where `$CREDENTIALS_DIRECTORY` is read from (default: process.env). */
  env?: NodeJS.ProcessEnv;
}

interface Outputs {
  /** Started in this order before the camera, stopped in reverse after it. */
  readonly parts: readonly Part[];
  /** The event sinks, behind the privacy filter: stdout, MQTT, the dashboard's live state. */
  readonly sinks: readonly EventSink[];
  readonly publisher: MqttPublisher | undefined;
  readonly dashboard: DashboardPart | undefined;
}

export function buildOutputs(d: OutputDeps): Outputs {
  const { config, logger } = d;
  const env = d.env ?? process.env;
  const parts: Array<Part | SinkPart> = [];
  const sinks: EventSink[] = [];
  if (config.events.print) {
    const log = logger.child({ module: 'main' });
    sinks.push(
      new StdoutSink(process.stdout, (err) =>
        log.warn(
          { err: { message: err.message, code: (err as NodeJS.ErrnoException).code } },
          'stdout is closed: no more events are printed (--print); the daemon goes on',
        ),
      ),
    );
  }
  let publisher: MqttPublisher | undefined;
  if (config.mqtt.enabled) {
    if (config.mqtt.embedded) parts.push(new BrokerPart(config.mqtt, logger, env));
    const reconnect = { minMs: config.mqtt.reconnect_min_s * 1000, maxMs: config.mqtt.reconnect_max_s * 1000 };
    const mqtt = new MqttPublisher({
      config,
      logger,
      version: d.version,
      control: d.control,
      reconnect,
      env,
      perFace: config.privacy.per_face,
      minFaces: config.privacy.min_faces,
    });
    parts.push({ name: 'mqtt publisher', sink: mqtt, start: () => mqtt.start(), stop: () => mqtt.stop(), isReady: () => mqtt.connected });
    sinks.push(mqtt);
    publisher = mqtt;
  }
  let dashboard: DashboardPart | undefined;
  if (config.http.enabled) {
    const mqtt = publisher;
    dashboard = new DashboardPart({ config, logger, daemon: d.view, mqtt: mqtt ? () => mqtt.health() : null, emotionSeconds: d.emotionSeconds, env });
    parts.push(dashboard);
    sinks.push(dashboard.sink);
  }
  return { parts, sinks, publisher, dashboard };
}

/** The embedded broker; its password is read at start, like the publisher's: a file that cannot be read fails the start. */
class BrokerPart implements Part {
  readonly name = 'embedded broker';
  private broker?: EmbeddedBroker;

  constructor(
    private readonly m: Config['mqtt'],
    private readonly logger: Logger,
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  async start(signal?: AbortSignal): Promise<void> {
    const m = this.m;
    this.broker = new EmbeddedBroker({
      host: m.embedded_host,
      port: m.embedded_port,
      wsPort: m.embedded_ws_port,
      logger: this.logger,
      auth: embeddedCredentials(m, this.env),
      wsOrigins: splitList(m.embedded_ws_origins),
    });
    await this.broker.start(signal);
  }

  async stop(): Promise<void> {
    await this.broker?.stop();
  }
}

/**
 * The embedded broker's login: mqtt.username and the password of mqtt.password_file, which the publisher also
 * logs in with. None configured = open (config validation allows that only on loopback). Beyond loopback an
 * empty password is refused: it would let anyone who knows the username in.
 */
function embeddedCredentials(m: Config['mqtt'], env: NodeJS.ProcessEnv): BrokerCredentials | undefined {
  if (m.username === '') return undefined;
  const password = readPassword('mqtt.password_file', m.password_file, env) ?? '';
  if (password === '' && !isLoopbackHost(m.embedded_host)) {
    throw new EmotiondError(
      'EMD_CONFIG_INVALID',
      `mqtt.password_file ${passwordPath(m.password_file, env)} is empty: the embedded broker listens on ${m.embedded_host}, beyond this machine, and needs a password`,
    );
  }
  if (password === '' && m.embedded_ws_port !== 0) {
    throw new EmotiondError(
      'EMD_CONFIG_INVALID',
      `mqtt.password_file ${passwordPath(m.password_file, env)} is empty: the embedded broker's WebSocket listener (mqtt.embedded_ws_port) needs a password, since any web page open on this machine can reach it`,
    );
  }
  return { username: m.username, password };
}
