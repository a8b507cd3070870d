// What the daemon logs when the broker cannot be reached: the reason, in words. A host name with several
// addresses that all refuse (localhost on a machine whose /etc/hosts has ::1 and 127.0.0.1, as the live systemd
// test's Debian root has) comes back from Node's happy-eyeballs connect as an AggregateError with an empty
// message: the log line said {"message":"","code":"ECONNREFUSED"}. errorText() describes it by its parts.
import net from 'node:net';
import test from 'ava';
import { errorText } from '../src/mqtt/broker-link.js';
import { freePort } from './helpers/ports.js';

/** What net.connect reports when every address of a host refuses: tried here on two real loopback sockets. */
function refusedEverywhere(port: number): Promise<Error> {
  return new Promise((resolve) => {
    const socket = net.connect({
      port,
      host: 'localhost',
      autoSelectFamily: true,
      lookup: (_h, _o, cb) =>
        (cb as unknown as (e: null, a: Array<{ address: string; family: number }>) => void)(null, [
          { address: '127.0.0.1', family: 4 },
          { address: '127.0.0.2', family: 4 },
        ]),
    });
    socket.on('error', resolve);
  });
}

test('a connection refused on every address of a host is described by its parts, not an empty message', async (t) => {
  const err = await refusedEverywhere(await freePort());
  t.log(`${err.constructor.name}: "${err.message}" ${(err as NodeJS.ErrnoException).code}`);
  t.regex(errorText(err), /ECONNREFUSED 127\.0\.0\.1:\d+.*ECONNREFUSED 127\.0\.0\.2:\d+|ECONNREFUSED/);
  t.not(errorText(err), '');
});

test('errorText: an AggregateError by its parts, a plain error by its message, else its code', (t) => {
  t.is(errorText(new Error('boom')), 'boom');
  const agg = new AggregateError([new Error('connect ECONNREFUSED ::1:1883'), new Error('connect ECONNREFUSED 127.0.0.1:1883')], '');
  t.is(errorText(agg), 'connect ECONNREFUSED ::1:1883; connect ECONNREFUSED 127.0.0.1:1883');
  t.is(errorText(Object.assign(new Error(''), { code: 'ECONNRESET' })), 'ECONNRESET');
});
