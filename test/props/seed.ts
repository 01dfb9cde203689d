// Property tests are seeded and bounded: the same cases run every time, and a failure prints
// the seed and path that replay it. PROPS_SEED picks other cases; PROPS_RUNS_SCALE multiplies
// the number of runs (e.g. 20 for a long search before a release).
export const PROPS_SEED = Number(process.env.PROPS_SEED ?? 20_261_201);
const scale = Number(process.env.PROPS_RUNS_SCALE ?? 1);

export function propOptions(numRuns: number): { seed: number; numRuns: number } {
  return { seed: PROPS_SEED, numRuns: Math.max(1, Math.round(numRuns * scale)) };
}
