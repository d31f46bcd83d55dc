/** galmorph's version, from package.json (read once). */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { projectRoot } from './paths';

export const VERSION: string = (JSON.parse(fs.readFileSync(path.join(projectRoot(), 'package.json'), 'utf8')) as { version: string }).version;
