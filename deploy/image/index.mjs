// The multi-arch OCI image index for deploy/image/build.sh: node index.mjs LAYOUT TAG SOURCE_LAYOUT...
// Each source layout (umoci's, one image) gives its manifest and the platform from that image's config; the index is
// written as a blob of LAYOUT (whose blobs/ already hold the sources' blobs) and named TAG in LAYOUT/index.json, as
// `buildah manifest push --all` writes one, so that `podman pull --arch arm64 oci-archive:…` picks a CPU.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

const [layout, tag, ...sources] = process.argv.slice(2);
if (!layout || !tag || sources.length === 0) throw new Error('usage: node index.mjs LAYOUT TAG SOURCE_LAYOUT...');
const INDEX = 'application/vnd.oci.image.index.v1+json';
const blob = (dir, digest) => fs.readFileSync(path.join(dir, 'blobs', ...digest.split(':')));

const manifests = sources.map((dir) => {
  const top = JSON.parse(fs.readFileSync(path.join(dir, 'index.json'), 'utf8'));
  if (top.manifests.length !== 1) throw new Error(`${dir}: expected one image, found ${top.manifests.length}`);
  const desc = top.manifests[0];
  const manifest = JSON.parse(blob(dir, desc.digest).toString('utf8'));
  const config = JSON.parse(blob(dir, manifest.config.digest).toString('utf8'));
  const platform = { architecture: config.architecture, os: config.os, ...(config.architecture === 'arm64' ? { variant: 'v8' } : {}) };
  return { mediaType: desc.mediaType, digest: desc.digest, size: desc.size, platform };
});
const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: INDEX, manifests }));
const digest = `sha256:${crypto.createHash('sha256').update(index).digest('hex')}`;
fs.writeFileSync(path.join(layout, 'blobs', 'sha256', digest.slice(7)), index);
const top = { schemaVersion: 2, manifests: [{ mediaType: INDEX, digest, size: index.length, annotations: { 'org.opencontainers.image.ref.name': tag } }] };
fs.writeFileSync(path.join(layout, 'index.json'), JSON.stringify(top));
console.log(`${tag}: ${digest} (${manifests.map((m) => `${m.platform.os}/${m.platform.architecture}`).join(', ')})`);
