/** Entry point of `npm run notebook` (after scripts/setup.sh): Jupyter on working copies in work/. */
import { openNotebooks } from '../src/notebooks/workcopy';

openNotebooks(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(1);
  },
);
