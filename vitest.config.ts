import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

// Tests import the sources; processes the tests spawn run the compiled `dist/` (built first by `npm test`).
const alias = [
  { find: /^@tether\/shared$/, replacement: here('./shared/src/index.ts') },
  // one entry per part (node-shared/package.json `exports`): `@tether/node-shared/pki` is src/pki/certificates.ts
  { find: /^@tether\/node-shared\/logging$/, replacement: here('./node-shared/src/logging/index.ts') },
  { find: /^@tether\/node-shared\/pki$/, replacement: here('./node-shared/src/pki/certificates.ts') },
  { find: /^@tether\/node-shared\/bundle$/, replacement: here('./node-shared/src/bundle/write-bundle-files.ts') },
  { find: /^@tether\/edge-agent$/, replacement: here('./edge-agent/src/index.ts') },
  { find: /^@tether\/cloud$/, replacement: here('./cloud/src/index.ts') },
];

export default defineConfig({
  resolve: { alias },
  test: {
    projects: [
      {
        resolve: { alias },
        test: {
          name: 'unit',
          include: [
            'shared/test/**/*.test.ts',
            'node-shared/test/**/*.test.ts',
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
