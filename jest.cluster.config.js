/**
 * The cluster fault tests (test/cluster): a RabbitMQ cluster of their own, a minute or two each,
 * so apart from `npm test` (jest.config.js ignores the folder). `npm run test:cluster`.
 * @type {import('jest').Config}
 */
const base = require('./jest.config.js');

module.exports = {
  ...base,
  testMatch: ['<rootDir>/test/cluster/**/*.test.ts'],
  testPathIgnorePatterns: base.testPathIgnorePatterns.filter((pattern) => pattern !== '/test/cluster/'),
};
