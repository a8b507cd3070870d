// README.md's "Install as a service" section is deploy/README-ops.md (installed as /opt/emotiond/README-ops.md),
// copied between the ops markers: the two must not drift apart.
import fs from 'node:fs';
import test from 'ava';

test('README.md between the ops markers is deploy/README-ops.md', (t) => {
  const readme = fs.readFileSync('README.md', 'utf8');
  const m = /<!-- ops:start[^\n]*-->\n([\s\S]*?)<!-- ops:end -->/.exec(readme);
  t.truthy(m, 'README.md has no <!-- ops:start --> ... <!-- ops:end --> section');
  // README-ops.md starts with a comment line and a blank line that say where it goes.
  const ops = fs.readFileSync('deploy/README-ops.md', 'utf8').replace(/^<!--[^\n]*-->\n\n/, '');
  t.is(m?.[1], ops, 'edit deploy/README-ops.md and copy it between the markers in README.md');
});
