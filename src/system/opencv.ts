// The one place that loads OpenCV. @u4/opencv4nodejs prints its build configuration to stdout when it
// loads, which would corrupt `--print` output: silence its logger first (this import must come first).
import './runtime-env.js';
import './opencv-quiet.js';
import cv from '@u4/opencv4nodejs';

export default cv;
export type { Mat, Rect, VideoCapture, CascadeClassifier } from '@u4/opencv4nodejs';
