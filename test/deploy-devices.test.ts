// `emotiond devices`: sysfs listing, v4l2-ctl output parsing, and the text printed.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { formatDevices, listDevices, parseFormats } from '../src/cli/devices.js';

// Output of `v4l2-ctl --list-formats-ext -d /dev/video0` (v4l-utils 1.22) for a UVC webcam.
const UVC = `ioctl: VIDIOC_ENUM_FMT
\tType: Video Capture

\t[0]: 'MJPG' (Motion-JPEG, compressed)
\t\tSize: Discrete 1280x720
\t\t\tInterval: Discrete 0.033s (30.000 fps)
\t\t\tInterval: Discrete 0.067s (15.000 fps)
\t\tSize: Discrete 640x480
\t\t\tInterval: Discrete 0.033s (30.000 fps)
\t[1]: 'YUYV' (YUYV 4:2:2)
\t\tSize: Discrete 640x480
\t\t\tInterval: Discrete 0.033s (30.000 fps)
\t\t\tInterval: Discrete 0.200s (5.000 fps)
`;

// A Raspberry Pi unicam node: a stepwise size range without intervals.
const STEPWISE = `ioctl: VIDIOC_ENUM_FMT
\tType: Video Capture

\t[0]: 'pRAA' (10-bit Bayer RGRG/GBGB Packed)
\t\tSize: Stepwise 16x16 - 16376x16376 with step 1/1
`;

test('parseFormats reads formats, sizes and frame rates', (t) => {
  t.deepEqual(parseFormats(UVC), [
    {
      fourcc: 'MJPG',
      description: 'Motion-JPEG, compressed',
      sizes: [
        { width: 1280, height: 720, fps: [30, 15] },
        { width: 640, height: 480, fps: [30] },
      ],
    },
    { fourcc: 'YUYV', description: 'YUYV 4:2:2', sizes: [{ width: 640, height: 480, fps: [30, 5] }] },
  ]);
  t.deepEqual(parseFormats(STEPWISE), [
    { fourcc: 'pRAA', description: '10-bit Bayer RGRG/GBGB Packed', sizes: [{ width: 16376, height: 16376, fps: [], range: true }] },
  ]);
  t.deepEqual(parseFormats('ioctl: VIDIOC_ENUM_FMT\n\tType: Video Capture\n\n'), []);
});

test('on this machine: a list, and a message when it is empty', async (t) => {
  const list = await listDevices();
  t.true(Array.isArray(list));
  if (!fs.existsSync('/sys/class/video4linux') || fs.readdirSync('/sys/class/video4linux').length === 0) {
    t.deepEqual(list, []);
    t.regex(formatDevices(list), /^no V4L2 devices found/);
  }
});

test('a sysfs-shaped tree: names, drivers, stable links, and what is printed', async (t) => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'emd-v4l-'));
  t.teardown(() => fs.rmSync(root, { recursive: true, force: true }));
  const sys = path.join(root, 'sys/class/video4linux');
  const dev = path.join(root, 'dev');
  const drivers = path.join(root, 'sys/bus/usb/drivers/uvcvideo');
  fs.mkdirSync(drivers, { recursive: true });
  fs.mkdirSync(path.join(dev, 'v4l/by-id'), { recursive: true });
  for (const [n, name, driver] of [
    [10, 'Unicam Image', 'unicam'],
    [0, 'HD Webcam C615', 'uvcvideo'],
    [1, 'HD Webcam C615', 'uvcvideo'],
  ] as const) {
    const node = path.join(sys, `video${n}`);
    fs.mkdirSync(path.join(node, 'device'), { recursive: true });
    fs.writeFileSync(path.join(node, 'name'), `${name}\n`);
    fs.symlinkSync(path.join(root, 'sys/bus/drivers', driver), path.join(node, 'device/driver'));
    fs.writeFileSync(path.join(dev, `video${n}`), '');
  }
  fs.mkdirSync(path.join(sys, 'v4l-subdev0'));
  fs.symlinkSync('../../video0', path.join(dev, 'v4l/by-id/usb-046d_HD_Webcam_C615-video-index0'));

  const list = await listDevices({ sysClassDir: sys, devDir: dev, v4l2ctl: path.join(root, 'no-such-v4l2-ctl') });
  t.deepEqual(
    list.map((d) => [d.index, d.path, d.name, d.driver, d.stablePath ?? null, d.formats]),
    [
      [0, path.join(dev, 'video0'), 'HD Webcam C615', 'uvcvideo', path.join(dev, 'v4l/by-id/usb-046d_HD_Webcam_C615-video-index0'), null],
      [1, path.join(dev, 'video1'), 'HD Webcam C615', 'uvcvideo', null, null],
      [10, path.join(dev, 'video10'), 'Unicam Image', 'unicam', null, null],
    ],
  );
  t.regex(list[0]?.formatsError ?? '', /not found \(install v4l-utils\)/);

  const withFormats = list.map((d, i) => ({ ...d, formats: i === 0 ? parseFormats(UVC) : i === 1 ? [] : parseFormats(STEPWISE) }));
  const text = formatDevices(withFormats);
  t.regex(text, /video0 {2}\(index 0\) {2}HD Webcam C615 {2}\[uvcvideo\]/);
  t.regex(text, /stable path: .*usb-046d_HD_Webcam_C615-video-index0/);
  t.regex(text, /MJPG {2}Motion-JPEG, compressed: 1280x720@30,15 {2}640x480@30/);
  t.regex(text, /video1 .*\n {2}no capture formats/);
  t.regex(text, /pRAA .*up to 16376x16376/);
  t.regex(text, /libcamerasrc/);
  t.regex(formatDevices(list), /formats not listed: .*install v4l-utils/);
});
