import { benchUpsert } from './upsert.ts';

/** `npm run bench -- [name…]`: runs the named benchmarks, or all of them, in order. */
const benches: Record<string, () => Promise<void>> = {
  upsert: benchUpsert,
};

const names = process.argv.slice(2);
for (const name of names) {
  if (!benches[name]) {
    console.error(`unknown bench ${name}; known: ${Object.keys(benches).join(', ')}`);
    process.exit(2);
  }
}
for (const name of names.length ? names : Object.keys(benches)) {
  const t0 = performance.now();
  await benches[name]!();
  console.log(`\n(${name} took ${((performance.now() - t0) / 1000).toFixed(0)} s)`);
}
