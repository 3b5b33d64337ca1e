/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  // Sources only: compiled dist/ folders must not contribute tests.
  roots: ['<rootDir>/shared', '<rootDir>/services', '<rootDir>/test'],
  testMatch: ['**/test/**/*.test.ts'],
  // test/cluster: slow fault tests with a RabbitMQ cluster of their own, run by `npm run test:cluster`
  // (jest.cluster.config.js), not by `npm test`.
  testPathIgnorePatterns: ['/node_modules/', '/dist/', '/test/cluster/'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.json' }],
    // intl-messageformat and @formatjs/* ship ES modules only: Node loads them with require(esm), but
    // jest's CommonJS runtime cannot (without --experimental-vm-modules), so jest compiles them to CommonJS.
    '/node_modules/(intl-messageformat|@formatjs)/.+\\.js$': [
      'ts-jest',
      { tsconfig: { allowJs: true, module: 'commonjs', target: 'ES2022' }, isolatedModules: true },
    ],
  },
  transformIgnorePatterns: ['/node_modules/(?!(intl-messageformat|@formatjs)/)'],
  moduleNameMapper: {
    // The subpath entry points (shared/package.json "exports"), as sources.
    '^@order-mail/shared/(contract|diagnostics|logger|config|broker|http|metrics)$': '<rootDir>/shared/src/entry/$1.ts',
    // Test helpers by one name from any depth (tsconfig.json's `paths` says the same to tsc and ESLint).
    '^@test/helpers/(.*)$': '<rootDir>/test/helpers/$1',
  },
  testTimeout: 30000,
};
