/** Entry point of `npm run reproduce` (after scripts/setup.sh): same as `galmorph reproduce`. */
import { main } from '../src/cli/main';

main([process.argv[0]!, 'galmorph', 'reproduce', ...process.argv.slice(2)]).catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
