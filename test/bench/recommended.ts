// Settings the bench found better than the current schema defaults on the reference clips (see the bench
// report). The clip and photo tests run with them, so that they check the configuration we recommend;
// once the schema adopts a value, drop it here. `npm run bench -- --recommended` applies them too.
export const RECOMMENDED: Readonly<Record<string, string>> = {};
