// Markdown summary of an evaluation report (also printed to stdout by `npm run eval`).
import type { EvalReport } from './report.js';
import { wilson, type Summary } from './metrics.js';
import type { StreamModeResult } from './streams.js';
import type { SwitchModeResult } from './switches.js';

const pct = (x: number | null | undefined, d = 1): string => (x === null || x === undefined || !Number.isFinite(x) ? '-' : `${(x * 100).toFixed(d)} %`);
const num = (x: number | null | undefined, d = 2): string => (x === null || x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(d));
const row = (cells: Array<string | number>): string => `| ${cells.join(' | ')} |`;
const table = (head: string[], rows: Array<Array<string | number>>, align?: string[]): string[] => [
  row(head),
  row(align ?? head.map((_, i) => (i === 0 ? '---' : '---:'))),
  ...rows.map(row),
];

function header(r: EvalReport): string[] {
  const m = r.model;
  return [
    `# emotiond model evaluation${r.quick ? ' (QUICK subset: numbers are indicative only)' : ''}`,
    '',
    `* Model: \`${m.path}\` (${m.bytes} bytes, sha256 \`${m.sha256.slice(0, 16)}…\`, ${m.metadata['emotiond.quantization'] ?? 'quantization not stated'}, trained ${m.metadata['emotiond.trained'] ?? '?'})`,
    r.compare_model ? `* Compared with: \`${r.compare_model.path}\` (${r.compare_model.bytes} bytes)` : '* Compared with: (no fp32 model)',
    `* Date: ${r.date}, ${num(r.duration_s, 0)} s; node ${r.environment.node}, onnxruntime-node ${r.environment.onnxruntime}, OpenCV ${r.environment.opencv}`,
    `* Machine: ${r.environment.cpu} (${r.environment.cpus} CPUs, shared; timings are medians)`,
    `* Data: \`${r.data.dir}\``,
    '',
  ];
}

function targets(r: EvalReport): string[] {
  return ['## Targets', '', ...table(['Target', 'Goal', 'Measured', 'Result'], r.targets.map((t) => [t.name, t.target, t.value, `**${t.status}**`]), ['---', '---', '---:', '---']), ''];
}

function fer(r: EvalReport): string[] {
  const f = r.fer2013;
  if (!f) return [];
  const classes = f.confusion.classes;
  const out = [
    `## 1. FER2013 PublicTest (six classes, one step from the zero state)`,
    '',
    `N = ${f.n} (Disgust rows dropped: ${f.dropped_disgust}); accuracy **${pct(f.accuracy)}** (95 % interval ${interval(f.accuracy, f.n)}), macro-F1 **${num(f.macro_f1, 3)}**, mean top-1 probability ${num(f.mean_confidence, 3)}`,
    '',
    ...table(['Class', 'Precision', 'Recall', 'F1', 'Support'], classes.map((c) => {
      const s = f.per_class[c];
      return [c, pct(s?.precision), pct(s?.recall), num(s?.f1, 3), s?.support ?? 0];
    })),
    '',
    'Confusion matrix (rows: true, columns: predicted):',
    '',
    ...table(['true \\ pred', ...classes], f.confusion.matrix.map((cells, i) => [classes[i] ?? '', ...cells])),
    '',
  ];
  const c = r.fp32_vs_int8;
  if (c) {
    out.push('## 5. int8 vs fp32 (FER2013 PublicTest)', '');
    out.push(...table(['Model', 'Accuracy', 'Macro-F1'], [[`int8 \`${c.model}\``, pct(c.accuracy, 2), num(f.macro_f1, 3)], [`fp32 \`${c.compare_model}\``, pct(c.compare_accuracy, 2), num(c.compare_macro_f1, 3)]]));
    out.push('', `Difference int8 - fp32: **${c.accuracy_diff_points >= 0 ? '+' : ''}${c.accuracy_diff_points.toFixed(2)} points**; label agreement **${pct(c.label_agreement, 2)}** of ${c.n} images.`, '');
  }
  return out;
}

/** The 95 % Wilson interval of a rate measured on n items, as "a–b %". */
function interval(rate: number, n: number): string {
  const [lo, hi] = wilson(Math.round(rate * n), n);
  return `${(lo * 100).toFixed(1)}–${(hi * 100).toFixed(1)} %`;
}

function ck(r: EvalReport): string[] {
  const c = r.ckplus;
  if (!c) return [];
  const s = c.summary;
  const dropped = Object.values(c.dropped).reduce((a, b) => a + b, 0);
  const held = s.all_held_out ? `all held out from training (the model never saw subjects ${s.subjects.join(', ')})` : `subjects ${s.subjects.join(', ')} (NOT all held out from training)`;
  return [
    '## 2. CK+ sequences, frame by frame with carried state (daemon detector + cropFace)',
    '',
    `${s.n_sequences} sequences, ${s.n_frames} frames; ${held}; ${dropped} labelled sequences dropped (contempt/disgust). Face found on ${pct(s.detection_rate)} of frames (others reuse the last box).`,
    '',
    ...table(['Measure', 'Value'], [
      ['Apex accuracy (last frame)', `**${pct(s.apex_accuracy)}** (95 % interval ${interval(s.apex_accuracy, s.n_sequences)}: one sequence is ${pct(1 / Math.max(1, s.n_sequences))})`],
      ['Neutral on frame 1', pct(s.neutral_first_frame_accuracy)],
      ['Frames after onset until the right label stays (median / mean)', `${num(s.settle.median_frames, 1)} / ${num(s.settle.mean_frames, 1)} (of ${s.settle.n_settled} correct sequences)`],
      ['Same, as a fraction of the sequence length (median / mean)', `${pct(s.settle.median_fraction)} / ${pct(s.settle.mean_fraction)}`],
    ]),
    '',
    `Per-sequence trace (${c.trace_legend}):`,
    '',
    ...table(['Sequence', 'Label', 'Frames', 'Detected', 'Trace (onset → apex)', 'Apex', 'Settle'], c.sequences.map((q) => [
      `${q.subject}/${q.sequence}`, q.label, q.frames, q.detected, `\`${q.trace}\``, `${q.apex_correct ? '✓' : '✗'} ${q.apex_prediction ?? '-'} (${num(q.apex_confidence, 2)})`, q.settle_frames === null ? '-' : String(q.settle_frames),
    ]), ['---', '---', '---:', '---:', '---', '---', '---:']),
    '',
  ];
}

function flipsRow(name: string, f: Summary, le1: number, acc: number): Array<string | number> {
  return [name, num(f.mean), num(f.median, 1), num(f.p95, 1), num(f.max, 0), pct(le1), pct(acc)];
}

function byFrames(m: StreamModeResult): string {
  return m.accuracy_by_frames.map((r) => `${r.to - r.from === 1 ? `frame ${r.to}` : `frames ${r.from + 1}–${r.to}`} ${pct(r.accuracy)}`).join(', ');
}

function stability(r: EvalReport): string[] {
  const s = r.stability;
  if (!s) return [];
  const j = s.jitter;
  return [
    '## 3. Stability on steady streams',
    '',
    `${s.n_streams} seeded PublicTest images (seed ${s.seed}), ${s.frames_per_stream} frames each; per-frame jitter: shift ±${j.shift_px} px, scale ±${j.scale * 100} %, brightness ±${j.brightness * 100} %, noise σ=${j.noise_sigma}.`,
    '',
    ...table(['Model use', 'Flips/100 mean', 'median', 'p95', 'max', 'Streams ≤ 1 flip', 'Frame accuracy'], [
      flipsRow('With carried LSTM state (daemon)', s.with_state.flips_per_100, s.with_state.share_le1_flip, s.with_state.frame_accuracy),
      flipsRow('Zero state every frame (raw CNN)', s.without_state.flips_per_100, s.without_state.share_le1_flip, s.without_state.frame_accuracy),
      flipsRow(`Carried state + daemon hysteresis (margin ${s.gate.margin}, hold ${s.gate.hold_s} s, at ${s.gate.fps} fps)`, s.after_gate.flips_per_100, s.after_gate.share_le1_flip, s.after_gate.frame_accuracy),
    ]),
    '',
    'The target is on the first row (the model). The last row is what published events would show: a label change there is an `emotion_changed` event.',
    '',
    `Frame accuracy by position in the stream, with carried state: ${byFrames(s.with_state)}; zero state: ${byFrames(s.without_state)}.`,
    '',
    `First label (events.first_label_steps; default ${s.gate.first_steps}): the label face_appeared or the first emotion_changed carries, on the same streams and scores, the rest of the gate as above; steps 1 labels a face on its first step, from a zero LSTM state.`,
    '',
    ...table(['first_label_steps', 'First label after', 'First label right', 'Label changes later', 'Flips/100 mean', 'Frame accuracy'], s.first_label.map((f) => [
      f.steps === s.gate.first_steps ? `**${f.steps}** (default)` : String(f.steps), `${num(f.first_label_s, 2)} s`, pct(f.accuracy), pct(f.changed_later), num(f.flips_per_100.mean), pct(f.frame_accuracy),
    ])),
    '',
  ];
}

function switches(r: EvalReport): string[] {
  const s = r.switches;
  if (!s) return [];
  const row = (name: string, m: SwitchModeResult): Array<string | number> => {
    const l = m.latency_frames;
    return [name, pct(m.final_accuracy), l.n, num(l.median, 1), num(l.mean, 1), num(l.p95, 1), `${num(l.median / s.gate.fps, 2)} s`];
  };
  return [
    '## 3b. Expression changes',
    '',
    `${s.n_streams} seeded pairs of PublicTest images with different labels (seed ${s.seed}): ${s.frames.before} jittered frames of the first, then ${s.frames.after} of the second, state carried across the switch.`,
    '',
    ...table(['Model use', 'Last frame right', 'Pairs timed', 'Frames to follow: median', 'mean', 'p95', `median at ${s.gate.fps} fps`], [
      row('With carried LSTM state (daemon)', s.with_state),
      row(`Carried state + daemon hysteresis (margin ${s.gate.margin}, hold ${s.gate.hold_s} s)`, s.after_gate),
    ]),
    '',
    `Frames to follow: after the switch, until the label is the second image's class and keeps it to the end; timed on the pairs right just before the switch and on the last frame. For reference, the second images from the zero state are right on ${pct(s.second_image_zero_state_accuracy)} of their frames.`,
    '',
  ];
}

function speed(r: EvalReport): string[] {
  const s = r.speed;
  if (!s) return [];
  return [
    '## 4. Speed (ms per face per model step, 1 ORT thread)',
    '',
    ...table(['Case', 'Steps', 'Median', 'p95', 'Mean'], [
      ['Batch 1, carried state', s.batch1.n, num(s.batch1.median, 3), num(s.batch1.p95, 3), num(s.batch1.mean, 3)],
      ['Batch 4, per face', s.batch4.n, num(s.batch4.median, 3), num(s.batch4.p95, 3), num(s.batch4.mean, 3)],
      ['Preprocess 48x48 still (cropFace + normalizeInto)', s.preprocess.n, num(s.preprocess.median, 3), num(s.preprocess.p95, 3), num(s.preprocess.mean, 3)],
    ]),
    '',
    `Load average (1 min) at the end: ${num(s.loadavg_1m, 2)} on ${s.cpus} CPUs.`,
    '',
  ];
}

export function summaryMarkdown(r: EvalReport): string {
  const notes = ['## Notes', '', ...r.data.notes.map((n) => `* ${n}`), ''];
  return [...header(r), ...targets(r), ...fer(r), ...ck(r), ...stability(r), ...switches(r), ...speed(r), ...notes].join('\n');
}
