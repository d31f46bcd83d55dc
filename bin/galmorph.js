#!/usr/bin/env node
// Thin launcher: the CLI lives in the compiled library (npm run build, or any npm test / reproduce).
try {
  require('../dist/src/cli/main.js').main(process.argv).catch((err) => {
    const msg = err && err.message ? err.message : String(err);
    console.error(msg.startsWith('galmorph') ? msg : `galmorph: ${msg}`);
    process.exit(1);
  });
} catch (err) {
  if (err && err.code === 'MODULE_NOT_FOUND' && String(err.message).includes('dist/src/cli/main.js')) {
    console.error('galmorph: the library is not built yet. Run `npm run setup` (or `npm test`) in the galmorph folder first.');
    process.exit(1);
  }
  throw err;
}
