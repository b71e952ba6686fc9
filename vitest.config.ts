import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

const FORKS = availableParallelism() + 1;

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // oclif's runCommand captures output only without console interception.
    disableConsoleIntercept: true,
    // Deadlines for a loaded 2-core machine (CLI starts take seconds there), not speed assertions:
    // a test that needs them is slow; the timings that matter are asserted inside the tests.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Integration tests start real agents and servers, and spend about a third of their time
    // waiting on them: one fork more than there are CPUs keeps the CPUs busy without thrashing.
    // minForks = maxForks: tinypool ends a fork idle above minForks, and that raced a file being
    // handed to it ("Terminating worker thread").
    pool: 'forks',
    poolOptions: { forks: { maxForks: FORKS, minForks: FORKS } },
    // One worker process runs file after file with one module cache: a fork per file costs a
    // node start and the import of src/ again (~0.7 s of CPU per file, ~50 s over the suite).
    // Every file closes what it started (agents, servers, timers) in its after hooks.
    isolate: false,
    reporters: ['default'],
    // npm run coverage: what the tests run in their own process (spawned agents run dist/ and are not counted).
    coverage: {
      provider: 'v8',
      include: ['src/**/*.ts'],
      reporter: ['text-summary', 'text', 'json-summary'],
      reportsDirectory: 'coverage',
    },
  },
});
