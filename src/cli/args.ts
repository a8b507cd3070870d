// Command-line parsing: a command, --config FILE, and a flag for every setting (see settings()).
import { EmotiondError } from '../errors.js';
import { parseBoolean, settings, type SettingInfo } from '../config/load.js';

export interface ParsedArgs {
  command: string;
  configFile?: string;
  flags: Record<string, string | boolean>;
  help: boolean;
  version: boolean;
  /** --force (preview: run without a terminal or under a service manager). */
  force: boolean;
}

export const COMMANDS = ['run', 'check-config', 'remove-discovery', 'devices', 'preview', 'demo', 'help'] as const;

export function parseArgs(argv: readonly string[]): ParsedArgs {
  const byFlag = new Map(settings().map((s) => [s.flag, s]));
  const out: ParsedArgs = { command: 'run', flags: {}, help: false, version: false, force: false };
  let commandSeen = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--help' || arg === '-h') {
      out.help = true;
      continue;
    }
    if (arg === '--version' || arg === '-v') {
      out.version = true;
      continue;
    }
    if (arg === '--force') {
      out.force = true;
      continue;
    }
    if (!arg.startsWith('--')) {
      if (commandSeen || !(COMMANDS as readonly string[]).includes(arg))
        throw new EmotiondError('EMD_CONFIG_INVALID', `unexpected argument "${arg}" (commands: ${COMMANDS.join(', ')})`);
      out.command = arg;
      commandSeen = true;
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    const inline = eq > 0 ? arg.slice(eq + 1) : undefined;
    const negated = name.startsWith('--no-') ? byFlag.get(`--${name.slice(5)}`) : undefined;
    if (name === '--config') {
      const v = inline ?? argv[++i];
      if (v === undefined || v === '') throw new EmotiondError('EMD_CONFIG_INVALID', '--config needs a file name');
      out.configFile = v;
      continue;
    }
    if (negated && typeof negated.default === 'boolean') {
      if (inline !== undefined) throw new EmotiondError('EMD_CONFIG_INVALID', `${name} takes no value`);
      out.flags[negated.key] = false;
      continue;
    }
    const s = byFlag.get(name);
    if (!s) throw new EmotiondError('EMD_CONFIG_INVALID', `unknown option ${name} (see emotiond --help)`);
    if (typeof s.default === 'boolean') {
      const next = argv[i + 1];
      const takesNext = inline === undefined && next !== undefined && !next.startsWith('-') && !(COMMANDS as readonly string[]).includes(next);
      if (takesNext) i++;
      out.flags[s.key] = booleanFlag(s, inline ?? (takesNext ? next : undefined));
      continue;
    }
    const v = inline ?? argv[++i];
    if (v === undefined) throw new EmotiondError('EMD_CONFIG_INVALID', `${name} needs a value`);
    out.flags[s.key] = v;
  }
  return out;
}

/** A boolean flag's value: bare means true; otherwise true/false (also yes/no, on/off, 1/0). */
function booleanFlag(s: SettingInfo, raw: string | undefined): boolean {
  if (raw === undefined) return true;
  const v = parseBoolean(raw);
  if (v === undefined)
    throw new EmotiondError('EMD_CONFIG_INVALID', `${s.flag} takes true or false, not "${raw}" (or use ${s.flag} / --no-${s.flag.slice(2)})`);
  return v;
}

export function usage(): string {
  const lines = [
    'Usage: emotiond [command] [--config FILE] [options]',
    '',
    'Commands:',
    '  run               run the daemon (default)',
    '  check-config      validate the configuration and exit (0 = valid, 78 = invalid)',
    '  devices           list V4L2 cameras and their formats',
    '  preview           installers: serve the live camera view with face boxes on 127.0.0.1 for',
    '                    preview.duration_s, to aim the camera (refused while the service uses it,',
    '                    under a service manager or without a terminal unless --force)',
    '  remove-discovery  remove the Home Assistant discovery configs from the broker',
    '  demo              run on the bundled demo clip with config/demo.json (embedded broker, dashboard)',
    '                    and print the events; options as for run (e.g. --source-pace none)',
    '',
    'Options:',
    '  --config FILE     JSON config file (default /etc/emotiond/config.json when it exists)',
    '  --version         print the version',
    '  --force           preview: run without a terminal or under a service manager',
    '',
    'Every setting can be given as a flag or an environment variable. A boolean flag takes',
    '--flag, --flag true|false, --flag=true|false or --no-flag.',
  ];
  for (const s of settings()) lines.push(`  ${s.flag.padEnd(30)} ${s.env}`);
  return lines.join('\n');
}
