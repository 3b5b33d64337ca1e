/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  // Sources only: compiled dist/ folders must not contribute tests.
  roots: ['<rootDir>/shared', '<rootDir>/services', '<rootDir>/test'],
  testMatch: ['**/test/**/*.test.ts'],
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.json' }] },
  moduleNameMapper: { '^@order-mail/shared$': '<rootDir>/shared/src/index.ts' },
  testTimeout: 30000,
};
