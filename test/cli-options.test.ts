import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command } from 'commander';
import Papa from 'papaparse';
import {
  addCatalogSourceOptions,
  CatalogSourceOptions,
  FINITE_NUMBER,
  fraction,
  INTEGER,
  integer,
  NAMED_WEIGHT,
  AREA_RANGE,
  NON_NEGATIVE_INTEGER,
  NON_NEGATIVE_NUMBER,
  oneOf,
  orWord,
  parseValue,
  POSITIVE_INTEGER,
  POSITIVE_NUMBER,
  repeatable,
  resolveCatalog,
  validated,
  ValueRule,
} from '../src/cli/options';
import { FINETUNE_DEFAULTS } from '../src/finetune/train';
import { projectRoot } from '../src/paths';
import { gz2Sample, tempDir } from './support/fixtures';

const accepts = <T>(rule: ValueRule<T>, text: string): T | undefined => rule.parse(text);

describe('CLI option values (src/cli/options.ts)', () => {
  it('integers: any, non-negative, positive, at least N', () => {
    assert.equal(accepts(INTEGER, '-3'), -3);
    assert.equal(accepts(INTEGER, '1.5'), undefined);
    assert.equal(accepts(NON_NEGATIVE_INTEGER, '0'), 0);
    assert.equal(accepts(NON_NEGATIVE_INTEGER, '-1'), undefined);
    assert.equal(accepts(POSITIVE_INTEGER, '12'), 12);
    for (const bad of ['0', '-2', '2.5', 'abc', '', ' ', '1x', 'Infinity', 'NaN']) assert.equal(accepts(POSITIVE_INTEGER, bad), undefined, bad);
    assert.equal(accepts(integer(2), '2'), 2);
    assert.equal(accepts(integer(2), '1'), undefined);
    assert.equal(integer(2).what, 'an integer of at least 2');
    assert.equal(POSITIVE_INTEGER.what, 'a positive integer');
    assert.equal(NON_NEGATIVE_INTEGER.what, 'a non-negative integer');
  });

  it('numbers: finite, positive, non-negative (never Infinity or NaN)', () => {
    assert.equal(accepts(FINITE_NUMBER, '-0.5'), -0.5);
    assert.equal(accepts(FINITE_NUMBER, '1e-3'), 0.001);
    assert.equal(accepts(FINITE_NUMBER, 'Infinity'), undefined);
    assert.equal(accepts(POSITIVE_NUMBER, '0.01'), 0.01);
    for (const bad of ['0', '-1', 'Infinity', '1e999', 'NaN', 'fast', '']) assert.equal(accepts(POSITIVE_NUMBER, bad), undefined, bad);
    assert.equal(accepts(NON_NEGATIVE_NUMBER, '0'), 0);
    assert.equal(accepts(NON_NEGATIVE_NUMBER, '-0.1'), undefined);
  });

  it('fractions say which ends are included', () => {
    const cases: [string, boolean, boolean][] = [
      ['[0, 1]', true, true],
      ['[0, 1)', true, false],
      ['(0, 1]', false, true],
      ['(0, 1)', false, false],
    ];
    for (const [range, zero, one] of cases) {
      const rule = fraction(range as Parameters<typeof fraction>[0]);
      assert.equal(rule.what, `a fraction in ${range}`);
      assert.equal(accepts(rule, '0.25'), 0.25);
      assert.equal(accepts(rule, '0'), zero ? 0 : undefined, `${range} at 0`);
      assert.equal(accepts(rule, '1'), one ? 1 : undefined, `${range} at 1`);
      assert.equal(accepts(rule, '1.5'), undefined);
      assert.equal(accepts(rule, '-0.1'), undefined);
    }
  });

  it('a word besides numbers, and one of a list of names', () => {
    const blocks = orWord(NON_NEGATIVE_INTEGER, 'all');
    assert.equal(accepts(blocks, 'all'), 'all');
    assert.equal(accepts(blocks, '3'), 3);
    assert.equal(accepts(blocks, 'some'), undefined);
    assert.throws(() => parseValue('--unfreeze-blocks', 'some', blocks), /^Error: galmorph: --unfreeze-blocks must be a non-negative integer or 'all', got 'some'$/);
    const head = oneOf(['linear', 'mlp'] as const);
    assert.equal(accepts(head, 'mlp'), 'mlp');
    assert.throws(() => parseValue('--head', 'deep', head), /^Error: galmorph: unknown --head 'deep'\. Valid choices: linear, mlp$/);
  });

  it('errors name the option and the bad value', () => {
    assert.throws(() => parseValue('--epochs', 'abc', POSITIVE_INTEGER), /^Error: galmorph: --epochs must be a positive integer, got 'abc'$/);
    assert.throws(() => parseValue('--lr', '-1', POSITIVE_NUMBER), /^Error: galmorph: --lr must be a positive number, got '-1'$/);
    assert.throws(() => parseValue('--val-fraction', '1', fraction('[0, 1)')), /^Error: galmorph: --val-fraction must be a fraction in \[0, 1\), got '1'$/);
  });

  it('validated options arrive parsed, default to the given value, show it in help and reject bad values while parsing', async () => {
    const program = () =>
      new Command('t')
        .exitOverride()
        .addOption(validated('--epochs <n>', 'maximum epochs', POSITIVE_INTEGER, 15))
        .addOption(validated('--lr <rate>', 'learning rate', POSITIVE_NUMBER))
        .action(() => undefined);
    const given = program();
    await given.parseAsync(['--epochs', '4', '--lr', '0.01'], { from: 'user' });
    assert.deepEqual(given.opts(), { epochs: 4, lr: 0.01 });
    const absent = program();
    await absent.parseAsync([], { from: 'user' });
    assert.deepEqual(absent.opts(), { epochs: 15 });
    assert.match(program().helpInformation(), /--epochs <n>\s+maximum epochs \(default: 15\)/);
    await assert.rejects(program().parseAsync(['--epochs', 'abc'], { from: 'user' }), /galmorph: --epochs must be a positive integer, got 'abc'/);
    await assert.rejects(program().parseAsync(['--lr', 'Infinity'], { from: 'user' }), /galmorph: --lr must be a positive number, got 'Infinity'/);
  });

  it('an area range LO,HI is two fractions in order', () => {
    assert.deepEqual(accepts(AREA_RANGE, '0.75,0.75'), [0.75, 0.75]);
    assert.deepEqual(accepts(AREA_RANGE, '0.5, 1'), [0.5, 1]);
    for (const bad of ['0.75', '0.8,0.7', '0,0.5', '0.5,1.2', 'a,b', ',0.5', '0.5,0.6,0.7']) assert.equal(accepts(AREA_RANGE, bad), undefined, bad);
  });

  it('a repeatable NAME=W option collects its parsed values in order', async () => {
    assert.deepEqual(accepts(NAMED_WEIGHT, 'gz2-kaggle-5000=0.3'), ['gz2-kaggle-5000', 0.3]);
    assert.deepEqual(accepts(NAMED_WEIGHT, '/data/a=b.csv=0'), ['/data/a=b.csv', 0]);
    for (const bad of ['gz2', '=1', 'gz2=', 'gz2=-1', 'gz2=abc', 'gz2=Infinity']) assert.equal(accepts(NAMED_WEIGHT, bad), undefined, bad);
    const program = () => new Command('t').exitOverride().addOption(repeatable('--w <id=w>', 'weights', NAMED_WEIGHT)).action(() => undefined);
    const given = program();
    await given.parseAsync(['--w', 'a=1', '--w', 'b=0.5'], { from: 'user' });
    assert.deepEqual(given.opts(), { w: [['a', 1], ['b', 0.5]] });
    await assert.rejects(program().parseAsync(['--w', 'a'], { from: 'user' }), /galmorph: --w must be NAME=W with W a number >= 0, got 'a'/);
  });
});

describe('the catalogue-or-dataset options (src/cli/options.ts)', () => {
  const parse = async (args: string[]): Promise<CatalogSourceOptions> => {
    const cmd = addCatalogSourceOptions(new Command('t').exitOverride(), { catalog: 'a catalogue', dataset: 'or a dataset' }).action(() => undefined);
    await cmd.parseAsync(args, { from: 'user' });
    return cmd.opts<CatalogSourceOptions>();
  };

  it('reads --catalog with its columns (default id and file)', async () => {
    const dir = tempDir();
    const sample = gz2Sample(3);
    const file = path.join(dir, 'cat.csv');
    fs.writeFileSync(file, Papa.unparse(sample.rows.map((r) => ({ id: r[sample.idCol], file: sample.imagePath(r) }))));
    const byDefault = resolveCatalog(await parse(['--catalog', file]), 'test');
    assert.equal(byDefault.length, 3);
    assert.equal(byDefault.idCol, 'id');
    assert.equal(byDefault.imageCol, 'file');
    const renamed = path.join(dir, 'renamed.csv');
    fs.writeFileSync(renamed, Papa.unparse(sample.rows.map((r) => ({ asset_id: r[sample.idCol], path: sample.imagePath(r) }))));
    const named = resolveCatalog(await parse(['--catalog', renamed, '--id-col', 'asset_id', '--image-col', 'path']), 'test');
    assert.deepEqual([named.idCol, named.imageCol], ['asset_id', 'path']);
  });

  it("opens a --dataset's catalogue with its manifest's columns", async () => {
    const catalog = resolveCatalog(await parse(['--dataset', 'gz2-hart16-1000']), 'test');
    assert.equal(catalog.idCol, 'asset_id');
    assert.equal(catalog.length, 1000);
  });

  it('wants exactly one of them, and says what for', async () => {
    assert.throws(() => resolveCatalog({ catalog: 'a.csv', dataset: 'b' }, 'finetune'), /^Error: galmorph finetune: give --catalog or --dataset, not both$/);
    assert.throws(() => resolveCatalog({}, 'finetune'), /^Error: galmorph finetune: give --catalog <file> or --dataset <id>$/);
    assert.throws(() => resolveCatalog({}, 'anomaly --interactive', 'so the galaxies can be shown'), /--dataset <id> so the galaxies can be shown$/);
  });
});

describe('bad option values reaching the galmorph subcommands', function () {
  this.timeout(60_000);
  const bin = path.join(projectRoot(), 'bin', 'galmorph.js');
  const galmorph = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env: { ...process.env, GALMORPH_BACKEND: 'cpu' } });
  const out = tempDir();

  const cases: [string[], RegExp][] = [
    [['finetune', '--dataset', 'decals-rings-470', '--label-col', 'ring', '--epochs', 'abc', '--out', out], /^galmorph: --epochs must be a positive integer, got 'abc'$/m],
    [['finetune', '--dataset', 'decals-rings-470', '--label-col', 'ring', '--lr', 'Infinity', '--out', out], /^galmorph: --lr must be a positive number, got 'Infinity'$/m],
    [['finetune', '--dataset', 'decals-rings-470', '--label-col', 'ring', '--seed', '-1', '--out', out], /^galmorph: --seed must be a non-negative integer, got '-1'$/m],
    [['finetune', '--dataset', 'decals-rings-470', '--label-col', 'ring', '--val-fraction', '1', '--out', out], /^galmorph: --val-fraction must be a fraction in \[0, 1\), got '1'$/m],
    [['train', '--dataset', 'gz2-hart16-1000', '--lr', '0', '--out', out], /^galmorph: --lr must be a positive number, got '0'$/m],
    [['train', '--dataset', 'gz2-hart16-1000', '--seed', '1.5', '--out', out], /^galmorph: --seed must be a non-negative integer, got '1.5'$/m],
    [['train', '--dataset', 'gz2-hart16-1000', '--dataset-weight', 'gz2-hart16-1000', '--out', out], /^galmorph: --dataset-weight must be NAME=W with W a number >= 0, got 'gz2-hart16-1000'$/m],
    [['train', '--dataset', 'gz2-hart16-1000', '--dataset-weight', 'gz2-hart16-1000=1', '--dataset-weight', 'gz2-hart16-1000=2', '--out', out], /^galmorph train: --dataset-weight gives dataset 'gz2-hart16-1000' twice$/m],
    [['train', '--dataset', 'gz2-hart16-1000', '--exclude', 'lenient', '--out', out], /^galmorph: unknown --exclude 'lenient'\. Valid choices: honest$/m],
    [['train', '--catalog', 'k.csv', '--schema', 'gz2', '--kaggle', '--nominal-total', '0', '--out', out], /^galmorph: --nominal-total must be a positive integer, got '0'$/m],
    [['similar', '--embeddings', 'none.parquet', '--query', 'a', '--k', '0'], /^galmorph: --k must be a positive integer, got '0'$/m],
    [['anomaly', '--embeddings', 'none.parquet', '--labels', 'none.jsonl', '--initial', '1'], /^galmorph: --initial must be an integer of at least 2, got '1'$/m],
    [['embed', '--catalog', 'none.csv', '--out', 'e.parquet', '--batch', 'many'], /^galmorph: --batch must be a positive integer, got 'many'$/m],
  ];
  for (const [args, message] of cases) {
    const flag = /--[a-z-]+/.exec(message.source)![0];
    it(`galmorph ${args[0]} ${flag} ${args[args.indexOf(flag) + 1]}: the message names the option and the value`, () => {
      const r = galmorph(...args);
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, message);
    });
  }

  it('galmorph finetune --help shows the library defaults (an MLP head, as finetuneCatalog trains)', () => {
    const r = galmorph('finetune', '--help');
    assert.equal(r.status, 0, r.stderr);
    assert.equal(FINETUNE_DEFAULTS.head, 'mlp');
    assert.match(r.stdout, new RegExp(`--head <kind>[^]*?\\(default: "${FINETUNE_DEFAULTS.head}"\\)`));
    assert.match(r.stdout, new RegExp(`--batch <n>\\s+batch size \\(default: ${FINETUNE_DEFAULTS.batchSize}\\)`));
    assert.match(r.stdout, new RegExp(`default ${FINETUNE_DEFAULTS.epochsFrozen} frozen, ${FINETUNE_DEFAULTS.epochsUnfrozen} unfreezing`));
  });
});
