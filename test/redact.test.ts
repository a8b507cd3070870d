// The redaction module: every credential form it covers, and what it must leave alone.
import test from 'ava';
import { redactStrings, redactText } from '../src/system/redact.js';
import { describeSource } from '../src/capture/opencv-source.js';
import { safeUrl } from '../src/mqtt/connection.js';
import { loadConfig } from '../src/config/load.js';

const hidden: Array<[string, string, string]> = [
  ['rtsp userinfo', 'rtsp://admin:CANARY@192.168.1.20:554/stream2', 'rtsp://[redacted]@192.168.1.20:554/stream2'],
  ['http userinfo', 'http://u:CANARY@cam:8080/video.mjpg', 'http://[redacted]@cam:8080/video.mjpg'],
  ['https userinfo', 'https://u:CANARY@cam/x', 'https://[redacted]@cam/x'],
  ['mqtt userinfo', 'mqtts://user:CANARY@broker:8883', 'mqtts://[redacted]@broker:8883'],
  ['a password with @, ? and #', 'rtsp://admin:CA@N?A#RY@cam/s', 'rtsp://[redacted]@cam/s'],
  ['a user without a password', 'rtsp://CANARY@cam/s', 'rtsp://[redacted]@cam/s'],
  [
    'an URI inside an OpenCV error',
    `OpenCV: could not open 'rtsp://a:CANARY@cam:554/s' (timeout)`,
    `OpenCV: could not open 'rtsp://[redacted]@cam:554/s' (timeout)`,
  ],
  ['an URI in quotes', 'source.uri "rtsp://a:CANARY@cam" (url)', 'source.uri "rtsp://[redacted]@cam" (url)'],
  [
    'GStreamer user-id/user-pw',
    'rtspsrc location=rtsp://cam/x user-id=admin user-pw=CANARY ! decodebin ! appsink',
    'rtspsrc location=rtsp://cam/x user-id=[redacted] user-pw=[redacted] ! decodebin ! appsink',
  ],
  ['GStreamer quoted values', 'souphttpsrc user-pw="CAN ARY" proxy-pw=\'CANARY\' ! appsink', 'souphttpsrc user-pw=[redacted] proxy-pw=[redacted] ! appsink'],
  ['a password in the query', 'http://cam/video.cgi?user=admin&pwd=CANARY&res=1', 'http://cam/video.cgi?user=admin&pwd=[redacted]&res=1'],
  [
    'query parameters named like a token, key, auth, pass or secret, and pw, psw',
    'http://cam/x?access_token=CANARY&auth_token=CANARY&res=1&pw=CANARY&psw=CANARY&key=CANARY&X-Api-Key=CANARY&passphrase=CANARY&client_secret=CANARY',
    'http://cam/x?access_token=[redacted]&auth_token=[redacted]&res=1&pw=[redacted]&psw=[redacted]&key=[redacted]&X-Api-Key=[redacted]&passphrase=[redacted]&client_secret=[redacted]',
  ],
  [
    'GStreamer extra-headers with an Authorization header',
    'souphttpsrc location=http://cam/x extra-headers="Authorization: Basic CANARY" ! appsink',
    'souphttpsrc location=http://cam/x extra-headers="Authorization: Basic [redacted]" ! appsink',
  ],
  [
    'an Authorization field of a GstStructure',
    'souphttpsrc extra-headers="h, Authorization=(string)\\"Bearer CANARY\\"" ! appsink',
    'souphttpsrc extra-headers="h, Authorization=(string)\\"Bearer [redacted]\\"" ! appsink',
  ],
  ['an Authorization header echoed in an error', 'HTTP error 401 for GET /x (Authorization: CANARY)', 'HTTP error 401 for GET /x (Authorization: [redacted])'],
  [
    'a Digest Authorization header: its response, cnonce and username',
    'Authorization: Digest username="CANARY", realm="cam", nonce="n1", uri="/x", response="CANARY", qop=auth, nc=00000001, cnonce="CANARY"',
    'Authorization: Digest username=[redacted], realm="cam", nonce="n1", uri="/x", response=[redacted], qop=auth, nc=00000001, cnonce=[redacted]',
  ],
  [
    'a Digest header in a GstStructure (escaped quotes)',
    'extra-headers="h, Authorization=(string)\\"Digest username=\\\\\\"CANARY\\\\\\", response=\\\\\\"CANARY\\\\\\"\\""',
    'extra-headers="h, Authorization=(string)\\"Digest username=[redacted], response=[redacted]\\""',
  ],
];
for (const [name, input, want] of hidden) {
  test(`redacts ${name}`, (t) => {
    t.is(redactText(input), want);
    t.false(redactText(input).includes('CANARY'));
  });
}

const untouched = [
  '/dev/video0',
  '0',
  'file:///srv/clip.mp4',
  'rtsp://cam.local:554/stream',
  'http://127.0.0.1:8080/video.mjpg',
  'libcamerasrc ! videoconvert ! appsink',
  'mqtt://localhost:1883',
  'see user@example.org',
];
test('leaves sources without credentials as they are', (t) => {
  for (const s of untouched) t.is(redactText(s), s);
});

test('redactStrings walks objects and arrays and keeps other values', (t) => {
  const v = { a: 'rtsp://u:CANARY@h/x', b: [1, 'mqtt://u:CANARY@h:1883', null], c: { d: true, e: 'plain' } };
  const r = redactStrings(v);
  t.deepEqual(r, { a: 'rtsp://[redacted]@h/x', b: [1, 'mqtt://[redacted]@h:1883', null], c: { d: true, e: 'plain' } });
  t.is(v.a, 'rtsp://u:CANARY@h/x', 'the original is not changed');
});

test('every place that shows a source or URL uses the same rules', (t) => {
  const uri = 'rtsp://admin:CA@NARY@cam/x';
  t.is(describeSource(uri), redactText(uri));
  t.is(safeUrl('mqtt://u:CA@NARY@broker:1883'), 'mqtt://[redacted]@broker:1883');
  const gst = 'rtspsrc location=rtsp://cam/x user-id=u user-pw=CANARY ! appsink';
  t.false(describeSource(gst).includes('CANARY'));
  const { redacted } = loadConfig({ env: {}, flags: { 'source.uri': gst, 'mqtt.url': 'mqtt://u:CANARY@broker:1883' } });
  t.false(JSON.stringify(redacted()).includes('CANARY'));
});
