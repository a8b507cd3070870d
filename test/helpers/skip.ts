// ava has no runtime skip: a test that cannot run here is registered as test.skip when its file loads, with
// the reason in its title, so that it is counted (and listed) as skipped, never as passed.
import test, { type ImplementationFn } from 'ava';

export type Register = (title: string, implementation: ImplementationFn<[]>) => void;

/** The first reason given, or undefined when nothing is missing. */
export function firstMissing(...reasons: Array<string | undefined | null | false>): string | undefined {
  return reasons.find((r): r is string => typeof r === 'string' && r !== '');
}

/** Registers tests as usual, or as skipped with "(skipped: why)" in the title when `why` is set. */
export function testUnless(why: string | undefined, opts: { serial?: boolean } = {}): Register {
  return (title, implementation) => {
    if (why) test.skip(skippedTitle(title, why), implementation);
    else if (opts.serial) test.serial(title, implementation);
    else test(title, implementation);
  };
}

export function skippedTitle(title: string, why: string): string {
  return `${title} (skipped: ${why})`;
}
