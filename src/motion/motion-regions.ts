// What the sweep for new faces still has to search: the cells of the motion mask that moved and were not yet
// searched, kept per band of face sizes (the detector's, detect/bands.ts), since each band searches at its own resolution and within
// its own share of the budget. A band searches only a group of moved cells at least half as wide or as high as
// its smallest face: a face that arrives, walks in, turns to the camera or comes out from behind someone moves
// over about its own size, while the small motion of a face that is already there (a blink, a nod) is not a new
// face (a face that was missed is the full sweep's). It searches the group with a margin around it of the largest
// face that could have made it (its own largest, at most twice the group's size), which may cover the cells
// anywhere. Moved cells inside a face that is already tracked are not
// kept (its face is painted over in the sweep anyway, and its own probes follow it). The bands search a group in
// order of how near their faces are to the face that most likely made it, and a face that one of them finds
// explains the motion around it (its own arrival) for the others: they do not search it (explained(), explain()).
// On the 720p classroom each of the 21 arrivals found by their motion was searched by one band instead of 2-4:
// 57 searches instead of 85, a third less of the moved areas' time. Pure arithmetic.
import type { Box } from '../types.js';
import { cellsUnder, grown } from '../geometry.js';
import { largestFitting } from '../system/largest-fitting.js';
import type { MotionFrame } from './motion-mask.js';

/** What the areas need of a band of face sizes (the detector's bands, detect/bands.ts): frame pixels to band
 * pixels, its largest window in band pixels, and the face sides it finds in frame pixels. */
interface SearchBand {
  scale: number;
  maxPx: number;
  faceMin: number;
  faceMax: number;
}

/** Cascade windows a search of `cols` x `rows` band pixels of `band` scans (the detector's cost measure). */
type WindowCount<B extends SearchBand> = (band: B, cols: number, rows: number) => number;

/** A rectangle of the frame one band searches, in frame pixels (whole pixels, inside the frame). */
export interface SearchArea {
  band: number;
  x: number;
  y: number;
  width: number;
  height: number;
  /** Cascade windows its detectMultiScale call scans: what its time is learned against. */
  windows: number;
  /** The group of moved cells it searches around (its bounding box, frame pixels), before the margin. */
  moved: Box;
}

interface CellRect {
  c0: number;
  r0: number;
  c1: number;
  r1: number;
}

/** A group of cells one band searches in one call, and since when its oldest cell waits (frame number). */
interface Group extends CellRect {
  band: number;
  oldest: number;
}

/** A known face's box counts as covering a cell when the cell's centre lies inside it grown by this share of its side:
 * the cascade's box is the inner face, and the head around it (forehead, hair, ears, chin) is no place for another
 * face. The sweep paints the same grown box over (detect/face-detector.ts). */
export const KNOWN_GROW = 0.15;
/** A face the sweep finds explains the moved cells whose centres lie inside its box grown by this share of its side:
 * on the 720p classroom an arriving face's group of moved cells is 1.5-1.7 times its side (the face and what came
 * in around it), its centres within 0.3-0.375 of the side around the box. */
export const FOUND_GROW = 0.4;
/** A group of moved cells made by a face that arrives is about this many times the face's side (1.5-1.7 on the
 * 720p classroom). */
const ARRIVAL_SPREAD = 1.6;
/** More groups of moved cells than this in one band are searched as one box. */
const MAX_GROUPS = 40;
/** A band searches a group of moved cells at least this share of its smallest face wide or high. */
export const MOTION_PER_FACE = 0.5;

export class PendingMotion<B extends SearchBand = SearchBand> {
  private grid = { cols: 0, rows: 0, cellW: 1, cellH: 1, width: 0, height: 0 };
  /** Per band: for each cell still to search, the number (from 1) of the frame that added it; 0 for the others. */
  private pending: Uint32Array[] = [];
  private counts: number[] = [];
  private frame = 0;

  /** `windows`: what a search of an area of a band costs, in cascade windows. */
  constructor(private readonly windows: WindowCount<B>) {}

  /** Cells still to search, over all bands. */
  get size(): number {
    return this.counts.reduce((a, b) => a + b, 0);
  }

  /** Add this frame's moved cells to every band's list, less those inside a known face. */
  add(motion: MotionFrame, bands: number, known: readonly Box[], frame: { width: number; height: number }): void {
    const g = this.grid;
    if (g.cols !== motion.cols || g.rows !== motion.rows || this.pending.length !== bands || g.width !== frame.width || g.height !== frame.height) {
      this.grid = { cols: motion.cols, rows: motion.rows, cellW: motion.cellW, cellH: motion.cellH, ...frame };
      this.pending = Array.from({ length: bands }, () => new Uint32Array(motion.cols * motion.rows));
      this.counts = new Array<number>(bands).fill(0);
    }
    this.frame += 1;
    if (motion.count === 0) return;
    const covered = this.coveredBy(known);
    for (let i = 0; i < motion.moved.length; i++) {
      if (motion.moved[i] === 0 || covered[i] === 1) continue;
      for (let b = 0; b < bands; b++) {
        const p = this.pending[b] as Uint32Array;
        if (p[i] === 0) {
          p[i] = this.frame;
          this.counts[b] = (this.counts[b] as number) + 1;
        }
      }
    }
  }

  /** Add the cells under `box` (frame pixels) to every band's list, as if they had moved: where a tracked face was
   * not found by its probe, the sweep looks too (at each band's own resolution). */
  addBox(box: Box, bands: number): void {
    if (this.pending.length !== bands) return;
    const { cols } = this.grid;
    const { c0, c1, r0, r1 } = cellsUnder(this.grid, box);
    for (let r = r0; r <= r1; r++) {
      for (let c = c0; c <= c1; c++) {
        for (let b = 0; b < bands; b++) {
          const p = this.pending[b] as Uint32Array;
          if (p[r * cols + c] === 0) {
            p[r * cols + c] = this.frame;
            this.counts[b] = (this.counts[b] as number) + 1;
          }
        }
      }
    }
  }

  /** Forget every cell (a full sweep is about to search them all). */
  clear(): void {
    for (const p of this.pending) p.fill(0);
    this.counts.fill(0);
  }

  /** Forget, in every band, the cells that faces just found explain (their centres inside a box grown by FOUND_GROW):
   * the motion was the face's own arrival, so the other bands need not search it for a face of their sizes. */
  explain(faces: readonly Box[]): void {
    if (faces.length === 0 || this.size === 0) return;
    const covered = this.coveredBy(faces, FOUND_GROW);
    for (let b = 0; b < this.pending.length; b++) {
      const p = this.pending[b] as Uint32Array;
      for (let i = 0; i < p.length; i++) {
        if (p[i] !== 0 && covered[i] === 1) {
          p[i] = 0;
          this.counts[b] = (this.counts[b] as number) - 1;
        }
      }
    }
  }

  /** Whether the faces found so far explain every cell of an area's group of moved cells (its `moved` box): each
   * cell's centre lies inside one face's box grown by FOUND_GROW. Such an area, taken for a band before a face was
   * found in its motion by another band, need not be searched. */
  explained(area: SearchArea, faces: readonly Box[]): boolean {
    const { cellW, cellH } = this.grid;
    const m = area.moved;
    const cx0 = m.x + cellW / 2;
    const cy0 = m.y + cellH / 2;
    const cx1 = m.x + m.width - cellW / 2;
    const cy1 = m.y + m.height - cellH / 2;
    return faces.some((face) => {
      const f = grown(face, FOUND_GROW);
      return cx0 >= f.x && cy0 >= f.y && cx1 <= f.x + f.width && cy1 <= f.y + f.height;
    });
  }

  /**
   * This frame's areas: the groups of moved cells of every band, grown by the band's largest face, the group
   * that waited longest first (motion that goes on in one place cannot starve motion elsewhere), as long as
   * they fit `allowance` windows. The first area of a frame is searched even when it does not fit, cut to a
   * strip of rows that does (at least one row of cells and its margins), so that motion is always searched.
   */
  take(bands: readonly B[], allowance: number): SearchArea[] {
    const out: SearchArea[] = [];
    let left = allowance;
    const groups: Array<{ group: Group; area: SearchArea; fit: number }> = [];
    for (let b = 0; b < Math.min(bands.length, this.pending.length); b++) {
      const band = bands[b] as B;
      if (this.counts[b] !== 0)
        for (const group of this.groups(b, band)) groups.push({ group, area: this.area(b, band, group), fit: this.sizeFit(group, band) });
    }
    // Oldest first; of the same age, the band whose faces are the size of the motion, then the cheaper.
    groups.sort((p, q) => p.group.oldest - q.group.oldest || p.fit - q.fit || p.area.windows - q.area.windows);
    for (const { group, area } of groups) {
      const band = bands[group.band] as B;
      if (area.windows <= left) {
        out.push(area);
        left -= area.windows;
        this.clearCells(group.band, group);
      } else if (out.length === 0) {
        const strip = this.strip(group.band, band, group, left);
        out.push(strip.area);
        left -= strip.area.windows;
        this.clearCells(group.band, { ...group, r1: strip.lastRow });
      }
      if (left <= 0) break;
    }
    return out;
  }

  /** How far the band's faces are from the face that most likely made the group's motion (0: inside the band's
   * sizes; otherwise octaves away): a face that arrives moves over about ARRIVAL_SPREAD times its side (hair,
   * shoulders, what it uncovers). The band most likely to find it searches first, and a face found explains the
   * motion for the others (explained()). */
  private sizeFit(g: CellRect, band: B): number {
    const extent = Math.max((g.c1 - g.c0 + 1) * this.grid.cellW, (g.r1 - g.r0 + 1) * this.grid.cellH);
    const face = extent / ARRIVAL_SPREAD;
    if (face < band.faceMin) return Math.log2(band.faceMin / face);
    return face > band.faceMax ? Math.log2(face / band.faceMax) : 0;
  }

  /** 1 for each cell whose centre lies inside a box of `known` grown by `grow` of its side. */
  private coveredBy(known: readonly Box[], grow = KNOWN_GROW): Uint8Array {
    const { cols, rows, cellW, cellH } = this.grid;
    const out = new Uint8Array(cols * rows);
    for (const box of known) {
      const b = grown(box, grow);
      const c0 = Math.max(0, Math.ceil(b.x / cellW - 0.5));
      const c1 = Math.min(cols - 1, Math.floor((b.x + b.width) / cellW - 0.5));
      const r0 = Math.max(0, Math.ceil(b.y / cellH - 0.5));
      const r1 = Math.min(rows - 1, Math.floor((b.y + b.height) / cellH - 0.5));
      for (let r = r0; r <= r1; r++) out.fill(1, r * cols + c0, r * cols + c1 + 1);
    }
    return out;
  }

  /** The band's pending cells in groups: bounding boxes of connected cells, merged while one search of the
   * merged box (grown by the band's largest face) costs no more than searching the two apart (their margins
   * overlap). Every cell inside a group's box is searched with its margins, whichever group it came from. */
  private groups(b: number, band: B): Group[] {
    const cost = (r: CellRect): number => this.area(b, band, r).windows;
    const { cellW, cellH } = this.grid;
    const found: Array<CellRect & { oldest: number }> = [];
    for (const g of components(this.pending[b] as Uint32Array, this.grid.cols)) {
      if (Math.max((g.c1 - g.c0 + 1) * cellW, (g.r1 - g.r0 + 1) * cellH) >= MOTION_PER_FACE * band.faceMin) found.push(g);
      else this.clearCells(b, g);
    }
    // Scattered motion (many small groups): one box around all of it, rather than a quadratic merge.
    if (found.length > MAX_GROUPS) return [{ ...found.reduce(union), band: b }];
    const groups = found.map((g) => ({ g, cost: cost(g) }));
    for (let merged = true; merged; ) {
      merged = false;
      for (let i = 0; i < groups.length && !merged; i++) {
        for (let j = i + 1; j < groups.length && !merged; j++) {
          const g = union((groups[i] as { g: CellRect & { oldest: number } }).g, (groups[j] as { g: CellRect & { oldest: number } }).g);
          const both = cost(g);
          if (both <= (groups[i] as { cost: number }).cost + (groups[j] as { cost: number }).cost) {
            groups[i] = { g, cost: both };
            groups.splice(j, 1);
            merged = true;
          }
        }
      }
    }
    return groups.map(({ g }) => ({ ...g, band: b }));
  }

  /** The frame rectangle band `b` searches for the cells `r`: the cells grown by the band's largest face. */
  private area(b: number, band: B, r: CellRect, rows?: { y0: number; y1: number }): SearchArea {
    const { cellW, cellH, width, height } = this.grid;
    const pad = this.pad(band, r);
    const x0 = Math.max(0, Math.floor(r.c0 * cellW) - pad);
    const x1 = Math.min(width, Math.ceil((r.c1 + 1) * cellW) + pad);
    const y0 = rows?.y0 ?? Math.max(0, Math.floor(r.r0 * cellH) - pad);
    const y1 = rows?.y1 ?? Math.min(height, Math.ceil((r.r1 + 1) * cellH) + pad);
    const mx = Math.floor(r.c0 * cellW);
    const my = Math.floor(r.r0 * cellH);
    const moved = { x: mx, y: my, width: Math.min(width, Math.ceil((r.c1 + 1) * cellW)) - mx, height: Math.min(height, Math.ceil((r.r1 + 1) * cellH)) - my };
    return { band: b, x: x0, y: y0, width: x1 - x0, height: y1 - y0, windows: this.windows(band, (x1 - x0) * band.scale, (y1 - y0) * band.scale), moved };
  }

  /** The top of the group's area that fits `allowance` windows, at least as many rows of cells as its margin is
   * high (a thinner strip would mostly search its margins). `lastRow`: the last row of cells it searched whole
   * (rows below wait for the next frame). */
  private strip(b: number, band: B, r: CellRect, allowance: number): { area: SearchArea; lastRow: number } {
    const { cellH } = this.grid;
    const pad = this.pad(band, r);
    const full = this.area(b, band, r);
    const rowsFor = (lastRow: number): SearchArea =>
      this.area(b, band, r, { y0: full.y, y1: Math.min(full.y + full.height, Math.ceil((lastRow + 1) * cellH) + pad) });
    const lastRow = largestFitting(Math.min(r.r1, r.r0 + Math.ceil(pad / cellH) - 1), r.r1, (row) => rowsFor(row).windows <= allowance);
    return { area: rowsFor(lastRow), lastRow };
  }

  /** The margin a band searches around a group of moved cells, in frame pixels: its largest face, and no more than
   * the largest face that could have made the motion. A band searches only a group at least MOTION_PER_FACE of its
   * smallest face across, since a face that arrives moves over about its size; so the face that made a group is
   * at most 1 / MOTION_PER_FACE times as wide, and a margin of that size around the group holds it wherever it
   * overlaps the group. On the 720p classroom the arrivals' areas searched 13 % fewer windows. */
  private pad(band: B, r: CellRect): number {
    const extent = Math.max((r.c1 - r.c0 + 1) * this.grid.cellW, (r.r1 - r.r0 + 1) * this.grid.cellH);
    return Math.ceil(Math.min(band.maxPx / band.scale, extent / MOTION_PER_FACE));
  }

  private clearCells(b: number, r: CellRect): void {
    const p = this.pending[b] as Uint32Array;
    const { cols } = this.grid;
    for (let row = r.r0; row <= r.r1; row++) {
      for (let c = r.c0; c <= r.c1; c++) {
        if (p[row * cols + c] !== 0) {
          p[row * cols + c] = 0;
          this.counts[b] = (this.counts[b] as number) - 1;
        }
      }
    }
  }
}

/** The bounding box of two groups, waiting since the older of the two. */
function union<T extends CellRect & { oldest: number }>(a: T, b: T): CellRect & { oldest: number } {
  return { c0: Math.min(a.c0, b.c0), r0: Math.min(a.r0, b.r0), c1: Math.max(a.c1, b.c1), r1: Math.max(a.r1, b.r1), oldest: Math.min(a.oldest, b.oldest) };
}

/** Bounding boxes of the 8-connected groups of set cells (non-zero) of a grid `cols` wide, each with its
 * smallest cell value (`oldest`). */
export function components(cells: ArrayLike<number>, cols: number): Array<CellRect & { oldest: number }> {
  const seen = new Uint8Array(cells.length);
  const out: Array<CellRect & { oldest: number }> = [];
  const stack: number[] = [];
  for (let start = 0; start < cells.length; start++) {
    if (cells[start] === 0 || seen[start] === 1) continue;
    const r = { c0: start % cols, r0: Math.floor(start / cols), c1: start % cols, r1: Math.floor(start / cols), oldest: cells[start] as number };
    seen[start] = 1;
    stack.push(start);
    while (stack.length > 0) {
      const i = stack.pop() as number;
      const c = i % cols;
      const row = (i - c) / cols;
      r.c0 = Math.min(r.c0, c);
      r.c1 = Math.max(r.c1, c);
      r.r0 = Math.min(r.r0, row);
      r.r1 = Math.max(r.r1, row);
      r.oldest = Math.min(r.oldest, cells[i] as number);
      for (let dr = -1; dr <= 1; dr++) {
        for (let dc = -1; dc <= 1; dc++) {
          const cc = c + dc;
          const j = i + dr * cols + dc;
          if (cc < 0 || cc >= cols || j < 0 || j >= cells.length || cells[j] === 0 || seen[j] === 1) continue;
          seen[j] = 1;
          stack.push(j);
        }
      }
    }
    out.push(r);
  }
  return out;
}
