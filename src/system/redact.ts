// The one place that hides credentials in what is shown: log lines, MQTT payloads, command responses,
// check-config. Only the shown text changes; the real value still goes to OpenCV, GStreamer or MQTT.js.
// Covered: URL userinfo of any scheme (rtsp://user:pass@host, http(s), mqtt(s), ws(s), ...), wherever it
// appears in a text (OpenCV and FFmpeg errors echo the URI); GStreamer user-id=/user-pw=/proxy-id=/proxy-pw=
// properties; password-like query parameters (IP cameras such as ?user=admin&pwd=...).

export const REDACTED = '[redacted]';

// The authority ends at the first "/", whitespace or quote; the userinfo is everything up to its last "@"
// (a password with an unencoded "@" is still hidden whole). "?" and "#" are not stops: they are common in
// camera passwords, and hiding too much of a malformed URL is better than showing a password.
const URL_USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/"'<>]*@/gi;
// gst-launch syntax: name=value, the value quoted or up to the next whitespace.
const GST_CREDENTIAL = /\b((?:user|proxy)-(?:id|pw)\s*=\s*)(?:"(?:[^"\\]|\\.)*"|'[^']*'|\S+)/gi;
const QUERY_SECRET = /([?&;](?:pwd|pass|passwd|password|user_pw|token|secret|api[_-]?key|auth)=)[^&#\s"']*/gi;

/** `text` with every credential the patterns above recognise replaced by [redacted]. */
export function redactText(text: string): string {
  return text.replace(URL_USERINFO, `$1${REDACTED}@`).replace(GST_CREDENTIAL, `$1${REDACTED}`).replace(QUERY_SECRET, `$1${REDACTED}`);
}

/** A deep copy of a JSON-like value with redactText applied to every string in it. */
export function redactStrings<T>(value: T): T {
  if (typeof value === 'string') return redactText(value) as T;
  if (Array.isArray(value)) return value.map((v: unknown) => redactStrings(v)) as T;
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactStrings(v)])) as T;
  }
  return value;
}
