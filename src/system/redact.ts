// The one place that hides credentials in what is shown: log lines, MQTT payloads, command responses,
// check-config. Only the shown text changes; the real value still goes to OpenCV, GStreamer or MQTT.js.
// Covered: URL userinfo of any scheme (rtsp://user:pass@host, http(s), mqtt(s), ws(s), ...), wherever it
// appears in a text (OpenCV and FFmpeg errors echo the URI); GStreamer user-id=/user-pw=/proxy-id=/proxy-pw=
// properties; query parameters whose name holds token, key, auth, pass or secret, or is pw, psw or pwd (IP
// cameras such as ?user=admin&pwd=..., ?access_token=...); Authorization headers (GStreamer souphttpsrc
// extra-headers, HTTP errors that echo a request) and their credentials, Digest's response, cnonce and username.

export const REDACTED = '[redacted]';

// The authority ends at the first "/", whitespace or quote; the userinfo is everything up to its last "@"
// (a password with an unencoded "@" is still hidden whole). "?" and "#" are not stops: they are common in
// camera passwords, and hiding too much of a malformed URL is better than showing a password.
const URL_USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/"'<>]*@/gi;
// gst-launch syntax: name=value, the value quoted or up to the next whitespace.
const GST_CREDENTIAL = /\b((?:user|proxy)-(?:id|pw)\s*=\s*)(?:"(?:[^"\\]|\\.)*"|'[^']*'|\S+)/gi;
// A parameter name is everything from the separator to "=": any that holds one of the words, or a short one.
const QUERY_SECRET = /([?&;](?:[^=&#\s"'?;]*(?:token|key|auth|pass|secret)[^=&#\s"'?;]*|pw|psw|pwd|user_pw)=)[^&#\s"']*/gi;
// "Authorization: Basic abc", "Authorization=(string)\"Bearer abc\"" (a GstStructure), "Proxy-Authorization: abc":
// the scheme stays, the credential after it goes (to the end of the quoted value, or of the word). Digest's
// parameters are not one word: DIGEST_PARAM hides the ones that matter.
const AUTH_HEADER =
  /\b((?:proxy-)?authorization\s*[:=]\s*(?:\(string\)\s*)?(?:\\?["'])?\s*(?:(?:basic|bearer|token|negotiate|ntlm)\s+)?)(?!digest\s|\()[^\s"'\\,;)]+/gi;

// HTTP Digest's parameters after "Digest": the response (a hash of the password, open to an offline guess) and the
// client nonce and user name with it; quoted (also with GstStructure's escaped quotes) or bare.
const DIGEST_PARAM = /\b((?:response|cnonce|username)\s*=\s*)(?:\\*"(?:[^"\\]|\\+[^"\\])*\\*"|[^\s,;"'\\)]+)/gi;
const HAS_DIGEST = /\bdigest\s/i;

/** `text` with every credential the patterns above recognise replaced by [redacted]. */
export function redactText(text: string): string {
  const shown = text
    .replace(URL_USERINFO, `$1${REDACTED}@`)
    .replace(GST_CREDENTIAL, `$1${REDACTED}`)
    .replace(QUERY_SECRET, `$1${REDACTED}`)
    .replace(AUTH_HEADER, `$1${REDACTED}`);
  return HAS_DIGEST.test(text) ? shown.replace(DIGEST_PARAM, `$1${REDACTED}`) : shown;
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
