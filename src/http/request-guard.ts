// What the dashboard's server and `emotiond preview` refuse before anything else, so that a web page of another
// site cannot read them through a browser on this machine or the network:
//   - a Host that is not one of the server's own names (DNS rebinding: a page of attacker.example whose name
//     now resolves to 127.0.0.1 sends Host: attacker.example) gets 421;
//   - a request a browser marks `Sec-Fetch-Site: cross-site` (an <img>, fetch or frame from another site) gets
//     403, except a top-level navigation (a link followed to the page), whose answer that site can neither
//     read nor frame.
import type http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import { isWildcardHost } from '../system/addresses.js';
import { monotonicMs } from '../system/clock.js';

/** Interface addresses are looked up again at most this often when an unknown address comes (DHCP). */
const REFRESH_MS = 10_000;

interface HostNamesOptions {
  /** The address listened on (0.0.0.0 or :: = every address of this machine). */
  bind: string;
  /** Further names the server answers to (http.allowed_hosts). */
  extra?: readonly string[];
}

export class HostNames {
  /** The port in the Host header must be this one (set once listening). */
  port = 0;
  private names = new Set<string>();
  /** http.allowed_hosts entries with a port of their own (a remapped or proxied port): "name:port". */
  private readonly withPort = new Set<string>();
  /** http.allowed_hosts entries without a port: names on the server's own port. */
  private readonly extraNames: string[] = [];
  /** When the names were last looked up (monotonic clock: a step of the wall clock must not delay the next). */
  private refreshedMs = -Infinity;

  constructor(private readonly opts: HostNamesOptions) {
    for (const entry of opts.extra ?? []) {
      const parsed = /^(\[[^\]]*\]|[^:[\]]+):\d{1,5}$/.test(entry.trim()) ? parseHost(entry) : undefined;
      if (parsed) this.withPort.add(`${hostName(parsed.name)}:${parsed.port}`);
      else this.extraNames.push(entry);
    }
    this.refresh(-Infinity);
  }

  /** Whether `header` (a Host header: name[:port]) names this server. */
  allows(header: string | undefined): boolean {
    const parsed = parseHost(header);
    if (!parsed) return false;
    if (this.withPort.has(`${parsed.name}:${parsed.port}`)) return true;
    if (parsed.port !== this.port) return false;
    if (this.names.has(parsed.name)) return true;
    // A wildcard listener's own addresses change with DHCP: look again, now and then, for an address.
    if (this.wildcard && net.isIP(parsed.name.replace(/^\[(.*)\]$/, '$1')) !== 0 && monotonicMs() - this.refreshedMs >= REFRESH_MS) {
      this.refresh(monotonicMs());
      return this.names.has(parsed.name);
    }
    return false;
  }

  private get wildcard(): boolean {
    return isWildcardHost(this.opts.bind);
  }

  private refresh(nowMs: number): void {
    this.refreshedMs = nowMs;
    const names = new Set(['127.0.0.1', 'localhost', '[::1]']);
    const add = (n: string): void => void names.add(hostName(n));
    add(this.opts.bind);
    for (const n of this.extraNames) add(n);
    if (this.wildcard) {
      const host = os.hostname();
      add(host);
      add(`${host}.local`);
      let interfaces: ReturnType<typeof os.networkInterfaces> = {};
      try {
        interfaces = os.networkInterfaces();
      } catch {
        // no AF_NETLINK (a sandbox): the configured names still work
      }
      for (const list of Object.values(interfaces)) for (const a of list ?? []) if (!a.address.includes('%')) add(a.address);
    }
    this.names = names;
  }
}

/** A name as it appears in a Host header: lower case, IPv6 addresses in brackets. */
function hostName(name: string): string {
  const n = name.trim().toLowerCase();
  return net.isIPv6(n) ? `[${n}]` : n;
}

/** name and port of a Host header (port 80 when none is given); undefined when malformed. */
function parseHost(header: string | undefined): { name: string; port: number } | undefined {
  const m = /^(\[[0-9a-f:.]+\]|[^:[\]\s]+)(?::(\d{1,5}))?$/i.exec((header ?? '').trim());
  if (!m?.[1]) return undefined;
  return { name: m[1].toLowerCase().replace(/\.$/, ''), port: m[2] === undefined ? 80 : Number(m[2]) };
}

interface Refusal {
  code: 421 | 403;
  text: string;
}

/** Why the request is refused before it is looked at, or undefined when it may go on. */
export function refusal(req: http.IncomingMessage, names: HostNames): Refusal | undefined {
  if (!names.allows(req.headers.host)) return { code: 421, text: 'this server answers only requests for its own host names\n' };
  const h = req.headers;
  if (h['sec-fetch-site'] === 'cross-site' && !(h['sec-fetch-mode'] === 'navigate' && h['sec-fetch-dest'] === 'document')) {
    return { code: 403, text: 'requests from other sites are refused\n' };
  }
  return undefined;
}
