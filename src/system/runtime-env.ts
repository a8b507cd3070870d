// Environment defaults for the native libraries. Applying them is an explicit start-up step of the
// composition root (Daemon.start, before the model loads and the camera opens), not a side effect of
// importing a module, so what OpenCV and onnxruntime see does not depend on import order. Each default
// yields to a value already in the real environment. The libraries read them when they use them: OpenCV's
// FFmpeg backend at every capture open, onnxruntime when it creates its environment (the first session).
const RUNTIME_ENV_DEFAULTS: Readonly<Record<string, string>> = {
  // opencv4nodejs's own entry point (which system/opencv.ts does not use) looks for build settings in the
  // working directory's package.json unless told that it was built against the system OpenCV.
  OPENCV4NODEJS_DISABLE_AUTOBUILD: '1',
  // Network streams: give up on a silent socket after 5 s instead of FFmpeg's 30 s, so a dead camera
  // is reopened promptly and a stopping daemon is not held by a blocked read.
  OPENCV_FFMPEG_CAPTURE_OPTIONS: 'rw_timeout;5000000|timeout;5000000',
  // onnxruntime-node ships Microsoft telemetry; an edge daemon in a classroom must not phone home.
  ORT_DISABLE_TELEMETRY: '1',
};

/** Set each default that `env` (the process environment, which the native libraries read) does not have. */
export function applyRuntimeEnv(env: NodeJS.ProcessEnv = process.env): void {
  for (const [key, value] of Object.entries(RUNTIME_ENV_DEFAULTS)) env[key] ??= value;
}
