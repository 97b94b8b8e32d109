/** Unit tests sit beside the code (*.test.ts); cross-service tests live in test/. */
module.exports = {
  // Node's environment plus shared typed arrays, which onnxruntime-node needs (see the file).
  testEnvironment: '<rootDir>/test/model/onnx-runtime-environment.js',
  roots: ['<rootDir>/shared/src', '<rootDir>/services', '<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.jest.json' }] },
  moduleNameMapper: {
    '^@mipseg/shared/(.*)$': '<rootDir>/shared/src/$1',
    '^@mipseg/(gateway|dimse|worker)$': '<rootDir>/services/$1/src/index.ts',
  },
  reporters: ['default', '<rootDir>/scripts/summary-reporter.js'],
  testTimeout: 60000,
};
