// Environment defaults for the native libraries, set before they load (import this module first).
// Each can still be overridden from the real environment.

// opencv4nodejs looks for build settings in the working directory's package.json unless told that
// it was built against the system OpenCV: without this it fails when started outside the install dir.
process.env.OPENCV4NODEJS_DISABLE_AUTOBUILD ??= '1';
// Network streams: give up on a silent socket after 5 s instead of FFmpeg's 30 s, so a dead camera
// is reopened promptly and a stopping daemon is not held by a blocked read.
process.env.OPENCV_FFMPEG_CAPTURE_OPTIONS ??= 'rw_timeout;5000000|timeout;5000000';
// onnxruntime-node ships Microsoft telemetry; an edge daemon in a classroom must not phone home.
process.env.ORT_DISABLE_TELEMETRY ??= '1';

export {};
