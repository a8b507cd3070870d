// deploy/image/build.sh's prune: node prune.mjs ROOT BEFORE_LIST
// Debian's OpenCV packages depend on far more than emotiond loads: a GL stack (Mesa's drivers and LLVM), VA-API and
// VDPAU drivers, data packages. This lists the packages apt pulled for emotiond (those not in BEFORE_LIST, the
// root's packages before `apt install ./emotiond…deb`) that own no file of the shared libraries the dynamic
// linker loads for emotiond: the NEEDED closure (readelf, any CPU) of every ELF file in /usr/lib/emotiond (Node,
// the add-ons, onnxruntime). build.sh removes them with dpkg --force-depends; what the dynamic linker needs stays,
// and the image's tests run the daemon on it. Prints one package name a line; the closure's size to stderr.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const [root, beforeFile] = process.argv.slice(2);
if (!root || !beforeFile) throw new Error('usage: node prune.mjs ROOT BEFORE_LIST');
const KEEP = new Set(['emotiond', 'ca-certificates', 'openssl']);
const LIBDIRS = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib', '/lib/x86_64-linux-gnu', '/lib/aarch64-linux-gnu', '/lib'];
const inRoot = (p) => path.join(root, p);
// merged /usr: /lib/x → /usr/lib/x, as the packages' file lists may name either.
const canon = (p) => (/^\/(lib|lib64|bin|sbin)\//.test(p) ? `/usr${p}` : p);

function isElf(file) {
  const fd = fs.openSync(file, 'r');
  const b = Buffer.alloc(4);
  fs.readSync(fd, b, 0, 4, 0);
  fs.closeSync(fd);
  return b.equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]));
}
function dynamic(file) {
  const out = execFileSync('readelf', ['-d', '-W', file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const needed = [...out.matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1]);
  const runpath = [...out.matchAll(/\((?:RUNPATH|RPATH)\)\s+Library (?:runpath|rpath): \[([^\]]+)\]/g)].flatMap((m) => m[1].split(':'));
  return { needed, runpath };
}
function walk(dir, out = []) {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walk(p, out);
    else if (e.isFile() && isElf(p)) out.push(p);
  }
  return out;
}

// The closure, as host paths under root; each resolved through symbolic links (within the root).
const resolveIn = (p) => {
  let cur = p;
  for (let i = 0; i < 40; i++) {
    const st = fs.lstatSync(inRoot(cur), { throwIfNoEntry: false });
    if (!st) return undefined;
    if (!st.isSymbolicLink()) return cur;
    const t = fs.readlinkSync(inRoot(cur));
    cur = path.isAbsolute(t) ? t : path.join(path.dirname(cur), t);
  }
  return undefined;
};
const closure = new Set();
const visited = new Set();
const queue = walk(inRoot('/usr/lib/emotiond')).map((f) => '/' + path.relative(root, f));
const missing = [];
while (queue.length > 0) {
  const file = queue.pop();
  if (visited.has(file)) continue;
  visited.add(file);
  closure.add(file);
  const { needed, runpath } = dynamic(inRoot(file));
  for (const soname of needed) {
    const dirs = [...runpath.map((d) => d.replace('$ORIGIN', path.dirname(file))), path.dirname(file), ...LIBDIRS];
    let found;
    for (const d of dirs) {
      // Links are followed within the root (alternatives: /usr/lib/<triplet>/libblas.so.3 -> /etc/alternatives/...).
      const candidate = path.join(d, soname);
      found = resolveIn(candidate);
      if (found) {
        closure.add(candidate); // the link's own path (a package owns it)
        break;
      }
    }
    if (found) queue.push(found);
    else missing.push(`${soname} (of ${file})`);
  }
}
if (missing.length > 0) throw new Error(`unresolved libraries: ${missing.join(', ')}`);

// Which package owns each file (dpkg's lists).
const info = inRoot('/var/lib/dpkg/info');
const owner = new Map();
for (const f of fs.readdirSync(info).filter((n) => n.endsWith('.list'))) {
  const pkg = f.slice(0, -5).replace(/:.*$/, '');
  for (const line of fs.readFileSync(path.join(info, f), 'utf8').split('\n')) if (line) owner.set(canon(line), pkg);
}
const needed = new Set(KEEP);
for (const f of closure) {
  const pkg = owner.get(canon(f));
  if (pkg) needed.add(pkg);
}
const before = new Set(fs.readFileSync(beforeFile, 'utf8').split('\n').filter(Boolean));
const installed = fs.readdirSync(info).filter((n) => n.endsWith('.list')).map((n) => n.slice(0, -5).replace(/:.*$/, ''));
const remove = installed.filter((p) => !before.has(p) && !needed.has(p)).sort();
let bytes = 0;
for (const f of new Set([...closure].map(resolveIn))) if (!f.startsWith('/usr/lib/emotiond/')) bytes += fs.statSync(inRoot(f)).size;
process.stderr.write(`prune: ${closure.size} files in emotiond's library closure (${Math.round(bytes / 1048576)} MB outside /usr/lib/emotiond), from ${needed.size} packages; ${remove.length} of the ${installed.length - before.size} packages apt added own none of them\n`);
process.stdout.write(remove.map((p) => `${p}\n`).join(''));
