#!/usr/bin/env node
// emotiond command line: run, check-config, devices, remove-discovery, preview, demo, --version.
import { exitCodeFor } from '../errors.js';
import { loadConfig, type LoadedConfig } from '../config/load.js';
import { atPriority, createLogger, type Logger } from '../system/logger.js';
import { fromRoot, readVersion } from '../system/paths.js';
import { redactText } from '../system/redact.js';
import { parseArgs, usage, type ParsedArgs } from './args.js';
import { runDaemon } from './run.js';

/** The clip config/demo.json names, relative to the install (or checkout) directory. */
const DEMO_CLIP = 'deploy/demo/demo-faces.avi';

/** The message without a stack; exit 78 for what a restart cannot fix (see exitCodeFor), else 1. */
function fail(err: unknown): never {
  const message = err instanceof Error ? err.message : String(err);
  // A value echoed back by a config error may be a URL with its password.
  process.stderr.write(atPriority(3, `emotiond: ${redactText(message)}\n`));
  process.exit(exitCodeFor(err));
}

function load(args: ParsedArgs): LoadedConfig {
  try {
    return loadConfig({ file: args.configFile, flags: args.flags });
  } catch (err) {
    fail(err);
  }
}

async function main(argv: string[]): Promise<void> {
  let args: ParsedArgs;
  try {
    args = parseArgs(argv);
  } catch (err) {
    fail(err);
  }
  if (args.version) {
    process.stdout.write(`${readVersion()}\n`);
    return;
  }
  if (args.help || args.command === 'help') {
    process.stdout.write(`${usage()}\n`);
    return;
  }
  if (args.command === 'devices') {
    const { listDevices, formatDevices } = await import('./devices.js');
    process.stdout.write(`${formatDevices(await listDevices())}\n`);
    return;
  }
  // The demo is `run` with the install's demo config and clip, from whatever directory it is started in.
  if (args.command === 'demo' && args.configFile === undefined) {
    args.configFile = fromRoot('config/demo.json');
    args.flags['source.uri'] ??= fromRoot(DEMO_CLIP);
  }
  const loaded = load(args);
  const logger: Logger = createLogger({ level: loaded.config.log.level, pretty: loaded.config.log.pretty });
  if (args.command === 'check-config') {
    process.stdout.write(`configuration is valid${loaded.file ? ` (${loaded.file})` : ''}\n${JSON.stringify(loaded.redacted(), null, 2)}\n`);
    return;
  }
  if (args.command === 'remove-discovery') {
    const { removeDiscoveryCommand } = await import('./remove-discovery.js');
    await removeDiscoveryCommand(loaded, logger);
    return;
  }
  if (args.command === 'preview') {
    const { runPreview } = await import('./preview.js');
    const signal = new Promise<string>((resolve) => ['SIGINT', 'SIGTERM'].forEach((sig) => process.once(sig, () => resolve(sig))));
    process.exit(await runPreview(loaded, logger, { stop: signal, force: args.force }));
  }
  const code = await runDaemon(loaded, logger);
  process.exit(code);
}

main(process.argv.slice(2)).catch(fail);
