// The full-frame search, split into octave bands of face sizes, each searched at the resolution its
// smallest face needs: band i finds faces of minFace*2^i .. minFace*2^(i+1) on a copy of the frame scaled
// so that they are FIRST_WINDOW..2*FIRST_WINDOW cascade windows wide. OpenCV scans windows up to twice the
// cascade's size with a 2-pixel step and larger ones with a 1-pixel step (4x the work per pixel), so
// downscaling the frame per band instead of letting OpenCV climb its pyramid is what makes large faces
// cheap. Each band still ends on one dense (1-pixel) level: the 2-pixel levels alone miss half of the
// 36-90 px faces of the classroom clip on a single frame (9/20 found, against 18/20 with the dense level).
// Pure arithmetic: no OpenCV here.

/** A band's smallest face, in cascade windows: a face of exactly one window gets few votes (measured on the
 * classroom clip: 9/20 faces at 1.0, 18/20 at 1.2, at 1.4x the cost). */
export const FIRST_WINDOW = 1.2;

/** Pyramid levels a band searches beyond its own faces, into the next band's. OpenCV counts a face's votes
 * (neighbours) within one detectMultiScale call, and a face votes over about five levels: cut at a band edge,
 * its votes split and it can fall below min_neighbors in both bands. Two levels of overlap bring the 43
 * labelled faces of the facetest photos from 29 to 34 found, for 1.4x the windows. */
const OVERLAP_LEVELS = 2;

export interface Band {
  /** Frame pixels -> band pixels. */
  scale: number;
  /** Band image size. */
  width: number;
  height: number;
  /** Window sizes searched, in band pixels (detectMultiScale minSize/maxSize). */
  minPx: number;
  maxPx: number;
  /** Face sides this band finds, in frame pixels. */
  faceMin: number;
  faceMax: number;
  /** The cascade window and the pyramid's scale step (what stripWindows needs). */
  window: number;
  factor: number;
}

interface BandInput {
  frameWidth: number;
  frameHeight: number;
  /** The cascade's training window (24 for the Haar frontal face cascade). */
  window: number;
  /** Smallest and largest face to find, in frame pixels. */
  minFace: number;
  maxFace: number;
  scaleFactor: number;
  /** Most pixels of frame width a band may use (detector.detect_width; 0 = no limit). */
  maxWidth: number;
}

/** Windows one detectMultiScale call scans on `imgRows` rows of a band's image: each level scans every
 * position where its window fits, so a strip also rescans, for its smaller windows, rows that the next strip
 * scans again (the overlap that lets the largest window fit). */
export function stripWindows(band: Pick<Band, 'width' | 'minPx' | 'maxPx' | 'window' | 'factor'>, imgRows: number): number {
  return areaWindows(band, band.width, imgRows);
}

/** Windows one detectMultiScale call scans on an image of `imgCols` x `imgRows` band pixels. */
export function areaWindows(band: Pick<Band, 'minPx' | 'maxPx' | 'window' | 'factor'>, imgCols: number, imgRows: number): number {
  const { window, factor: f } = band;
  let total = 0;
  for (let s = 1; Math.round(window * s) <= band.maxPx; s *= f) {
    if (Math.round(window * s) < band.minPx) continue;
    const step = s > 2 ? 1 : 2;
    total += (Math.max(0, imgCols / s - window) / step) * (Math.max(0, imgRows / s - window) / step);
  }
  return total;
}

/** The smallest face a frame of this width can be searched for, given the cascade window and a width limit. */
export function smallestFace(input: Pick<BandInput, 'frameWidth' | 'window' | 'minFace' | 'maxWidth'>): number {
  const limit = input.maxWidth > 0 && input.frameWidth > input.maxWidth ? input.window * FIRST_WINDOW * (input.frameWidth / input.maxWidth) : input.window;
  return Math.max(input.minFace, limit);
}

/** The bands that cover faces from the smallest findable face to maxFace. */
export function planBands(input: BandInput): Band[] {
  const { frameWidth, frameHeight, window, scaleFactor } = input;
  const maxFace = Math.min(input.maxFace, frameWidth, frameHeight);
  const bands: Band[] = [];
  for (let faceMin = smallestFace(input); faceMin <= maxFace; faceMin *= 2) {
    const scale = Math.min(1, (window * FIRST_WINDOW) / faceMin);
    const width = Math.max(1, Math.round(frameWidth * scale));
    const height = Math.max(1, Math.round(frameHeight * scale));
    const minPx = Math.max(window, Math.round(faceMin * scale));
    const last = faceMin * 2 > maxFace;
    // Twice the band's smallest face and OVERLAP_LEVELS more levels; the last band reaches the largest face.
    const top = Math.ceil(2 * minPx * scaleFactor ** OVERLAP_LEVELS);
    const maxPx = Math.max(minPx, Math.floor(Math.min(last ? maxFace * scale : top, width, height)));
    bands.push({
      scale,
      width,
      height,
      minPx,
      maxPx,
      faceMin: Math.round(faceMin),
      faceMax: last ? maxFace : Math.round(faceMin * 2),
      window,
      factor: scaleFactor,
    });
    if (last) break;
  }
  return bands;
}

/** Estimated windows of one whole sweep (every band, every row). */
export function sweepWindows(bands: readonly Band[]): number {
  return bands.reduce((a, b) => a + stripWindows(b, b.height), 0);
}
