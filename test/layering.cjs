// The layering of src/, checked by dependency-cruiser: `npx depcruise --config test/layering.cjs src` (run by
// test/layering.test.ts, so CI checks it). Type-only imports count: a stage that only names another's type still
// depends on it.
//
//   cli            the command line: may use everything below
//   app            the composition root: builds and wires everything below; never the command line
//   outputs        contract, mqtt, outbox, broker, http, dashboard, preview, sinks: where events go and how they
//                  are served; never the pipeline, the root or the command line
//   pipeline       one frame through the stages; only the stages and the base
//   stages         capture, source-process, detect, motion, track, classify, events: each imports only the base and
//                  never another stage, except a stage's helper room: motion is the detector's (detect -> motion),
//                  the source's own process runs capture's frame source (source-process -> capture)
//   base           types.ts, errors.ts, geometry.ts, system/, config/: no stage, output, pipeline, root or CLI
// And no circular dependencies anywhere.
const STAGES = ['capture', 'source-process', 'detect', 'motion', 'track', 'classify', 'events'];
const OUTPUTS = ['contract', 'mqtt', 'outbox', 'broker', 'http', 'dashboard', 'preview', 'sinks'];
/** The stage-to-stage imports the layering allows: the helper rooms. */
const HELPERS = { detect: ['motion'], 'source-process': ['capture'] };

const folders = (names) => `^src/(${names.join('|')})/`;

/** One rule per stage: it imports no other stage but its helper room. */
const stageRules = STAGES.map((stage) => ({
  name: `stage-${stage}-imports-no-other-stage`,
  comment: `${stage}/ is a stage: it imports the base only (and its helper room: ${(HELPERS[stage] ?? []).join(', ') || 'none'})`,
  severity: 'error',
  from: { path: `^src/${stage}/` },
  to: { path: folders(STAGES.filter((s) => s !== stage && !(HELPERS[stage] ?? []).includes(s))) },
}));

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'No module depends on itself through others.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'base-imports-only-base',
      comment: 'types.ts, errors.ts, geometry.ts, system/ and config/ are the base: they import no stage, pipeline, output, root or CLI.',
      severity: 'error',
      from: { path: '^src/(types|errors|geometry)\\.ts$|^src/(system|config)/' },
      to: { path: folders([...STAGES, 'pipeline', ...OUTPUTS, 'app', 'cli']) },
    },
    {
      name: 'stages-import-no-pipeline-output-root-or-cli',
      comment: 'A stage imports the base only: never the pipeline, an output, the root or the CLI.',
      severity: 'error',
      from: { path: folders(STAGES) },
      to: { path: folders(['pipeline', ...OUTPUTS, 'app', 'cli']) },
    },
    ...stageRules,
    {
      name: 'pipeline-imports-stages-and-base',
      comment: 'The pipeline runs the stages: it imports stages and the base only.',
      severity: 'error',
      from: { path: '^src/pipeline/' },
      to: { path: folders([...OUTPUTS, 'app', 'cli']) },
    },
    {
      name: 'outputs-import-no-pipeline-root-or-cli',
      comment: 'Outputs get what they show through their dependencies: they never import the pipeline, the root or the CLI.',
      severity: 'error',
      from: { path: folders(OUTPUTS) },
      to: { path: folders(['pipeline', 'app', 'cli']) },
    },
    {
      name: 'root-imports-no-cli',
      comment: 'The composition root (app/) is used by the CLI, never the other way round.',
      severity: 'error',
      from: { path: '^src/app/' },
      to: { path: '^src/cli/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    exclude: { path: '\\.d\\.ts$' },
  },
};
