// The one catalogue of coded errors. Every error the daemon raises on purpose is one of these.

export const ERRORS = {
  EMD_CONFIG_INVALID: 'Invalid configuration',
  EMD_CONFIG_FILE: 'Configuration file cannot be read',
  EMD_SOURCE_OPEN: 'Frame source cannot be opened',
  EMD_SOURCE_READ: 'Frame source read failed',
  EMD_SOURCE_BUSY: 'Camera is in use by another process',
  EMD_FRAME_BAD: 'Frame is empty or malformed',
  EMD_CASCADE_MISSING: 'Cascade file not found',
  EMD_CASCADE_LOAD: 'Cascade file cannot be loaded',
  EMD_MODEL_LOAD: 'Emotion model cannot be loaded',
  EMD_MODEL_METADATA: 'Emotion model metadata is missing or wrong',
  EMD_MODEL_RUN: 'Emotion model inference failed',
  EMD_OPENCV: 'OpenCV call failed',
  EMD_MQTT: 'MQTT failure',
  EMD_SECRET_FILE: 'Password, CA, certificate or key file cannot be read',
  EMD_DATASET: 'Dataset file is missing or malformed',
  EMD_NOTIFY: 'sd_notify failure',
  EMD_HTTP: 'HTTP server failure',
  EMD_PRIVILEGES: 'Root privileges cannot be dropped',
  EMD_DISK_FULL: 'The file system of the state directory is full',
} as const;

export type ErrorCode = keyof typeof ERRORS;

export class EmotiondError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, detail: string, options?: { cause?: unknown }) {
    super(`${ERRORS[code]}: ${detail}`, options);
    this.name = 'EmotiondError';
    this.code = code;
  }
}

/** sysexits(3) EX_CONFIG: systemd's RestartPreventExitStatus=78 keeps the service from restart-looping on it. */
const EXIT_CONFIG = 78;

/** Errors a restart cannot fix: a bad setting, or a file a setting names that is missing, unreadable or corrupt. */
const CONFIG_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'EMD_CONFIG_INVALID',
  'EMD_CONFIG_FILE',
  'EMD_CASCADE_MISSING',
  'EMD_CASCADE_LOAD',
  'EMD_MODEL_LOAD',
  'EMD_MODEL_METADATA',
  'EMD_SECRET_FILE',
]);

export function isConfigError(err: unknown): err is EmotiondError {
  return err instanceof EmotiondError && CONFIG_CODES.has(err.code);
}

/** The exit status for an error that ends the process: 78 for a configuration error, else 1 (systemd restarts). */
export function exitCodeFor(err: unknown): number {
  return isConfigError(err) ? EXIT_CONFIG : 1;
}

/** Why a file operation failed, without the path Node appends: "ENOENT: no such file or directory". */
export function fileReason(err: unknown): string {
  const e = asError(err) as NodeJS.ErrnoException;
  return typeof e.code === 'string' ? e.message.replace(/, \w+(?: '.*')?$/s, '') : e.message;
}

/** opencv4nodejs throws plain strings; turn anything thrown into an Error with a message. */
export function asError(thrown: unknown): Error {
  if (thrown instanceof Error) return thrown;
  if (typeof thrown === 'string') return new Error(thrown.trim());
  return new Error(String(thrown));
}

/** Run an OpenCV call and rethrow whatever it throws as a coded error that says what was being done. */
export function cvCall<T>(what: string, fn: () => T, code: ErrorCode = 'EMD_OPENCV'): T {
  try {
    return fn();
  } catch (thrown) {
    throw new EmotiondError(code, `${what}: ${asError(thrown).message}`, { cause: thrown });
  }
}

/** Async variant of cvCall. */
export async function cvCallAsync<T>(what: string, fn: () => Promise<T>, code: ErrorCode = 'EMD_OPENCV'): Promise<T> {
  try {
    return await fn();
  } catch (thrown) {
    throw new EmotiondError(code, `${what}: ${asError(thrown).message}`, { cause: thrown });
  }
}
