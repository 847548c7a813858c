import { Table, TableIndex, type MigrationInterface, type QueryRunner } from 'typeorm';

/**
 * The demo's own table: the balances read model. Idempotent, so two instances starting together
 * (each running migrations) cannot fail on each other.
 */
export class CreateAccountBalances1767484800000 implements MigrationInterface {
  readonly name = 'CreateAccountBalances1767484800000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const name = tableName(queryRunner);
    await queryRunner.createTable(
      new Table({
        name,
        columns: [
          { name: 'id', type: 'varchar', length: '64', isPrimary: true },
          { name: 'owner', type: 'varchar', length: '100' },
          { name: 'balance', type: 'bigint' },
          { name: 'closed', type: 'boolean', default: false },
          { name: 'version', type: 'integer' },
        ],
      }),
      true,
    );
    const table = await queryRunner.getTable(name);
    if (!table?.indices.some((index) => index.name === 'demo_account_balances_owner_idx')) {
      await queryRunner.createIndex(name, new TableIndex({ name: 'demo_account_balances_owner_idx', columnNames: ['owner', 'id'] }));
    }
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable(tableName(queryRunner), true);
  }
}

/** The table in the DataSource's schema (PostgreSQL), where the entity maps it. */
function tableName(queryRunner: QueryRunner): string {
  const schema = (queryRunner.connection.options as { schema?: string }).schema;
  return schema === undefined ? 'demo_account_balances' : `${schema}.demo_account_balances`;
}
