// The release targets, judged from the measured numbers: PASS, FAIL, or n/a when not measured.
export interface TargetCheck {
  name: string;
  target: string;
  value: string;
  status: 'PASS' | 'FAIL' | 'n/a';
}

export interface TargetInputs {
  ferAccuracy: number;
  /** int8 - fp32 accuracy in points; undefined without a comparison model. */
  diffPoints?: number;
  ckApexAccuracy: number;
  ckSequences: number;
  /** Mean label flips per 100 frames on steady streams, with carried state. */
  flipsMean: number;
  /** Median ms per face per step, batch 1, one thread. */
  msPerFace: number;
  /** What the evaluated model is, for the first line (default "int8"). */
  modelLabel?: string;
}

const pct = (x: number): string => `${(x * 100).toFixed(1)} %`;
const judge = (ok: boolean): 'PASS' | 'FAIL' => (ok ? 'PASS' : 'FAIL');

export function checkTargets(v: TargetInputs): TargetCheck[] {
  return [
    { name: `FER2013 PublicTest six-class accuracy (${v.modelLabel ?? 'int8'})`, target: '>= 70 %', value: pct(v.ferAccuracy), status: judge(v.ferAccuracy >= 0.7) },
    v.diffPoints === undefined
      ? { name: 'int8 within 1 point of fp32', target: 'int8 - fp32 within ±1.0 pt', value: 'no comparison model', status: 'n/a' }
      : { name: 'int8 within 1 point of fp32', target: 'int8 - fp32 within ±1.0 pt', value: `${v.diffPoints >= 0 ? '+' : ''}${v.diffPoints.toFixed(2)} pt`, status: judge(Math.abs(v.diffPoints) <= 1) },
    v.ckSequences === 0
      ? { name: 'CK+ apex accuracy', target: '>= 95 %', value: 'no sequences', status: 'n/a' }
      : { name: 'CK+ apex accuracy', target: '>= 95 %', value: `${pct(v.ckApexAccuracy)} of ${v.ckSequences}`, status: judge(v.ckApexAccuracy >= 0.95) },
    { name: 'Label flips per 100 frames, steady streams (mean, with state)', target: '<= 1', value: v.flipsMean.toFixed(2), status: judge(v.flipsMean <= 1) },
    { name: 'Model step per face, batch 1, 1 thread (median)', target: '<= 1 ms', value: `${v.msPerFace.toFixed(3)} ms`, status: judge(v.msPerFace <= 1) },
  ];
}
