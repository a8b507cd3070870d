// Evaluated before @u4/opencv4nodejs (see opencv.ts): mutes the build helper's console logging.
import { Log } from '@u4/opencv-build';

Log.silence = true;
