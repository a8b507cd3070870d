// The one login check of the daemon (the dashboard's HTTP Basic login and the embedded MQTT broker's): both
// fields compared every time, each in constant time, and repeated failures from one address slowed down.
import { createHash, timingSafeEqual } from 'node:crypto';
import { monotonicMs } from './clock.js';

interface Credentials {
  username: string;
  password: string;
}

/** Which fields were wrong ([] = the login is right). */
type LoginFailure = Array<'username' | 'password'>;

export class LoginCheck {
  private readonly user: Buffer;
  private readonly password: Buffer;

  constructor(want: Credentials) {
    this.user = digest(want.username);
    this.password = digest(want.password);
  }

  /** Compares both fields, whatever the first says, so that the time taken tells nothing about either. */
  check(username: string | Readonly<Buffer>, password: string | Readonly<Buffer>): LoginFailure {
    const userOk = timingSafeEqual(digest(username), this.user);
    const passwordOk = timingSafeEqual(digest(password), this.password);
    const wrong: LoginFailure = [];
    if (!userOk) wrong.push('username');
    if (!passwordOk) wrong.push('password');
    return wrong;
  }
}

/** A fixed-length digest, so that timingSafeEqual can compare secrets of any length. */
function digest(value: string | Readonly<Buffer>): Buffer {
  return createHash('sha256').update(value).digest();
}

/** Failures an address may make before its refusals are slowed down. */
const FREE_FAILURES = 5;
/** Each failure past those adds this much to the wait before the refusal, up to MAX_DELAY_MS. */
const STEP_MS = 1000;
const MAX_DELAY_MS = 10_000;
/** An address without a failure for this long starts again from zero. */
const FORGET_MS = 10 * 60_000;
/** Addresses remembered at most (the oldest are forgotten first), so that a scan cannot grow it without end. */
const MAX_ADDRESSES = 1024;

/**
 * Counts failed logins per remote address: the first FREE_FAILURES are answered at once, each later one after
 * 1 s more (at most 10 s), so that guessing a password from one address goes at a few tries a minute.
 */
export class LoginThrottle {
  private readonly failures = new Map<string, { count: number; lastMs: number }>();

  /** `now`: the monotonic clock (a step of the wall clock neither forgets nor prolongs a count). */
  constructor(private readonly now: () => number = monotonicMs) {}

  /** Records a failure from `address`; returns how long to wait before refusing it (ms) and the count. */
  failed(address: string): { delayMs: number; count: number } {
    const t = this.now();
    const before = this.failures.get(address);
    const count = before && t - before.lastMs < FORGET_MS ? before.count + 1 : 1;
    this.failures.delete(address);
    this.failures.set(address, { count, lastMs: t });
    if (this.failures.size > MAX_ADDRESSES) this.failures.delete(this.failures.keys().next().value as string);
    return { delayMs: Math.min(MAX_DELAY_MS, Math.max(0, count - FREE_FAILURES) * STEP_MS), count };
  }

  /** A right login clears the address's count. */
  succeeded(address: string): void {
    this.failures.delete(address);
  }
}
