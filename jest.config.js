/** One Jest run over every workspace's tests (and the cross-service ones in test/). */
const workspaces = ['shared', 'migrations', 'tenant-service', 'auth-service', 'state-manager', 'webhook-service', 'genesys-connector', 'gateway', 'tools/simulators', 'scripts'];

module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test', ...workspaces.map((w) => `<rootDir>/${w}`)],
  testMatch: ['**/test/**/*.test.ts'],
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.test.json' }],
  },
  moduleNameMapper: {
    '^@bridge/simulators$': '<rootDir>/tools/simulators/src',
    '^@bridge/(shared|migrations|tenant-service|auth-service|state-manager|webhook-service|genesys-connector|gateway|scripts)$': '<rootDir>/$1/src',
  },
  testTimeout: 30000,
  // Each file gets its own database; two workers suit a 2-core machine.
  maxWorkers: 2,
};
