// Addresses a server listens on: which ones only this machine reaches, which mean every address, and the address
// a client on this machine uses in a URL for a server bound to one.
import net from 'node:net';

/** Addresses only this machine reaches (127.0.0.0/8, ::1, localhost): an embedded broker there may stay open. */
export function isLoopbackHost(host: string): boolean {
  const h = host
    .trim()
    .replace(/^\[(.*)\]$/, '$1')
    .toLowerCase();
  if (h === 'localhost') return true;
  const family = net.isIP(h);
  if (family === 0) return false;
  const loopback = new net.BlockList();
  loopback.addSubnet('127.0.0.0', 8, 'ipv4');
  loopback.addAddress('::1', 'ipv6');
  return loopback.check(h, family === 6 ? 'ipv6' : 'ipv4');
}

/** 0.0.0.0 and :: listen on every address of this machine. */
export function isWildcardHost(host: string): boolean {
  return host === '0.0.0.0' || host === '::';
}

/** The host part of a URL that reaches, from this machine, a server bound to `bind`: 127.0.0.1 for a wildcard,
 * IPv6 addresses in brackets. */
export function urlHost(bind: string): string {
  if (isWildcardHost(bind)) return '127.0.0.1';
  return bind.includes(':') ? `[${bind}]` : bind;
}
