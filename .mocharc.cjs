// mocha on TypeScript through tsx; the reporter ends with the `N passed, N failed` line CI reads.
module.exports = {
  require: ['tsx/cjs'],
  extension: ['ts'],
  spec: ['test/**/*.test.ts'],
  reporter: './test/support/reporter.cjs',
  timeout: 120000,
  exit: true,
};
