/** Option groups shared by several subcommands, so they read and behave the same everywhere. */
import { Command } from 'commander';

/** --schema and the vote columns of a user catalogue (see src/schemas/votes.ts). */
export function addVoteOptions(cmd: Command): Command {
  return cmd
    .option('--schema <name>', 'Galaxy Zoo schema: gz2, gz-decals-dr5, gz1')
    .option('--counts <template>', "vote count columns, e.g. '{answer}_count'")
    .option('--fractions <template>', "vote fraction columns, e.g. '{answer}_weighted_fraction' (with --total)")
    .option('--total <column>', 'column with the number of volunteers asked the first question')
    .option('--class-col <column>', 'one class (answer key) per galaxy');
}
