import type { Knex } from 'knex';
import * as workflowTables from './001_workflow_tables.js';
import * as consoleIndexes from './002_console_indexes.js';
import * as executionFillfactor from './003_execution_fillfactor.js';
import * as processingWithoutForeignKey from './004_processing_without_foreign_key.js';

interface Migration {
  config?: { transaction?: boolean };
  up(knex: Knex): Promise<void>;
  down(knex: Knex): Promise<void>;
}

/**
 * Migrations are listed in code rather than discovered on disk, so the same
 * list runs from TypeScript sources (tests) and from the compiled image.
 */
const MIGRATIONS: ReadonlyArray<readonly [string, Migration]> = [
  ['001_workflow_tables', workflowTables],
  ['002_console_indexes', consoleIndexes],
  ['003_execution_fillfactor', executionFillfactor],
  ['004_processing_without_foreign_key', processingWithoutForeignKey],
];

class ListedMigrations implements Knex.MigrationSource<string> {
  async getMigrations(): Promise<string[]> {
    return MIGRATIONS.map(([name]) => name);
  }
  getMigrationName(name: string): string {
    return name;
  }
  async getMigration(name: string): Promise<Migration> {
    const found = MIGRATIONS.find(([candidate]) => candidate === name);
    if (!found) throw new Error(`unknown migration ${name}`);
    return found[1];
  }
}

const config = (): Knex.MigratorConfig => ({ migrationSource: new ListedMigrations() });

export async function migrateLatest(knex: Knex): Promise<string[]> {
  const [, applied] = (await knex.migrate.latest(config())) as [number, string[]];
  return applied;
}

export async function migrateDown(knex: Knex): Promise<string[]> {
  const [, reverted] = (await knex.migrate.rollback(config(), true)) as [number, string[]];
  return reverted;
}
