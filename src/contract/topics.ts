// The MQTT topics of one device: everything the daemon publishes or listens to lives under
// `<base_topic>/<device id>/`; Home Assistant discovery configs live under `<discovery_prefix>/`. (validate.ts maps
// a topic back to the schema of its payloads.)

/** Request names answered on `request/<name>` → `response/<name>`. */
export const REQUEST_NAMES = ['health_check', 'config', 'reset_tracks'] as const;
export type RequestName = (typeof REQUEST_NAMES)[number];

export interface Topics {
  /** `<base>/<device>`: the prefix of every topic below. */
  readonly root: string;
  /** Retained `{"state":"online"|"offline"}`; the Last Will says offline. */
  readonly availability: string;
  /** Emotion events (QoS from config, not retained). */
  readonly events: string;
  /** Retained room summary. */
  readonly room: string;
  /** Retained camera (frame source) state. */
  readonly camera: string;
  /** Retained health snapshot on a timer. */
  readonly stats: string;
  /** Retained `{"paused":bool}`: the state of the pause switch. */
  readonly paused: string;
  /** Commands in: `{"paused":true|false}`. */
  readonly set: string;
  /** Subscription filter for every request topic. */
  readonly requestFilter: string;
  /** Subscription filter for every face topic (tests, tools). */
  readonly facesFilter: string;
  /** Retained current state of one face; an empty retained payload clears it. */
  face(track: number): string;
  request(name: string): string;
  response(name: string): string;
  /** The request name of a topic under `request/`, or undefined for any other topic. */
  requestName(topic: string): string | undefined;
}

export function topicsFor(baseTopic: string, deviceId: string): Topics {
  const root = `${baseTopic}/${deviceId}`;
  const requestPrefix = `${root}/request/`;
  return {
    root,
    availability: `${root}/availability`,
    events: `${root}/events`,
    room: `${root}/room`,
    camera: `${root}/camera`,
    stats: `${root}/stats`,
    paused: `${root}/paused`,
    set: `${root}/set`,
    requestFilter: `${root}/request/+`,
    facesFilter: `${root}/faces/+`,
    face: (track) => `${root}/faces/${track}`,
    request: (name) => `${requestPrefix}${name}`,
    response: (name) => `${root}/response/${name}`,
    requestName: (topic) => {
      if (!topic.startsWith(requestPrefix)) return undefined;
      const name = topic.slice(requestPrefix.length);
      return name !== '' && !name.includes('/') ? name : undefined;
    },
  };
}

/** Home Assistant discovery: `<prefix>/<component>/<node id>/<object id>/config`. */
interface DiscoveryTopics {
  /** HA's birth/will topic: `<prefix>/status` ("online" after HA starts). */
  readonly haStatus: string;
  config(component: 'sensor' | 'switch' | 'binary_sensor', objectId: string): string;
}

export function discoveryTopicsFor(prefix: string, deviceId: string): DiscoveryTopics {
  const node = nodeId(deviceId);
  return {
    haStatus: `${prefix}/status`,
    config: (component, objectId) => `${prefix}/${component}/${node}/${objectId}/config`,
  };
}

/** The HA node id and the stem of every unique_id: `emotiond_<device>`. */
export function nodeId(deviceId: string): string {
  return `emotiond_${deviceId}`;
}
