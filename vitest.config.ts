import { defineConfig } from 'vitest/config';

// Every client suite runs on both drivers: 'loop' (the default) runs the whole
// suite; 'thread' runs the suites that drive a native client again with
// DIARKIS_IO=thread (the default driver of clients created without options.io,
// inherited by the fixtures' child processes too).
const clientSuites = [
  'test/tcp-client-*.test.ts',
  'test/udp-client-*.test.ts',
  'test/migration-*.test.ts',
  'test/cluster-migration-*.test.ts',
  'test/udp-migration*.test.ts',
  'test/udp-matrix.test.ts',
  'test/process-*.test.ts',
  'test/worker-terminate.test.ts',
];
// Suites that already name their driver in each test.
const bothDriversInside = ['test/tcp-client-pump.test.ts', 'test/blocked-js-thread.test.ts'];

export default defineConfig({
  test: {
    // The native addon is loaded in every suite that drives a client: forks, not threads.
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
    projects: [
      { extends: true, test: { name: 'loop', include: ['test/**/*.test.ts'], env: { DIARKIS_IO: 'loop' } } },
      { extends: true, test: { name: 'thread', include: clientSuites, exclude: bothDriversInside, env: { DIARKIS_IO: 'thread' } } },
    ],
  },
});
