import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

// Tests import the sources; processes the tests spawn run the compiled `dist/` (built first by `npm test`).
const alias = {
  '@tether/shared': here('./shared/src/index.ts'),
  '@tether/edge-agent': here('./edge-agent/src/index.ts'),
  '@tether/cloud': here('./cloud/src/index.ts'),
};

export default defineConfig({
  resolve: { alias },
  test: {
    // Off unless asked for (`--coverage`, which scripts/test.sh passes on a full run): one file's run would
    // miss the floors. Counted: the sources the test processes import. Not counted: the agents and CLIs
    // the tests spawn from dist/ (DEVELOPMENT.md says which tests those are).
    coverage: {
      provider: 'v8',
      include: ['shared/src/**/*.ts', 'edge-agent/src/**/*.ts', 'cloud/src/**/*.ts'],
      reporter: ['text-summary', 'json-summary', 'html'],
      reportsDirectory: 'coverage',
      // Floors a little under the figures of 2026-12-07 (edge-agent/src 72.3 % of lines, shared/src 86.9 %):
      // raise them as tests are added, never lower them to let a change through.
      thresholds: {
        'edge-agent/src/**': { lines: 70, statements: 68, functions: 63, branches: 62 },
        'shared/src/**': { lines: 85, statements: 81, functions: 87, branches: 71 },
      },
    },
    projects: [
      {
        resolve: { alias },
        test: {
          name: 'unit',
          include: [
            'shared/test/**/*.test.ts',
            'edge-agent/test/**/*.test.ts',
            'cloud/test/**/*.test.ts',
            'infra/test/**/*.test.ts',
          ],
          testTimeout: 10_000,
        },
      },
      {
        resolve: { alias },
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
          // Brokers and agents are real processes on a 2-core machine: one file at a time keeps timings honest.
          fileParallelism: false,
        },
      },
    ],
  },
});
