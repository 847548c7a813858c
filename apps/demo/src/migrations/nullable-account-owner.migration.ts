import { TableColumn, type MigrationInterface, type QueryRunner } from 'typeorm';

/**
 * The balances read model's `owner` becomes nullable: a forgotten owner is stored as null. On
 * SQLite TypeORM rebuilds the table (copying its rows and index). Idempotent: a column already
 * nullable is left alone, so instances starting together cannot fail on each other.
 */
export class NullableAccountOwner1796601600000 implements MigrationInterface {
  readonly name = 'NullableAccountOwner1796601600000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const schema = (queryRunner.connection.options as { schema?: string }).schema;
    const name = schema === undefined ? 'demo_account_balances' : `${schema}.demo_account_balances`;
    const table = await queryRunner.getTable(name);
    const owner = table?.findColumnByName('owner');
    if (!table || !owner || owner.isNullable) return;
    await queryRunner.changeColumn(table, owner, new TableColumn({ name: 'owner', type: 'varchar', length: '100', isNullable: true }));
  }

  async down(): Promise<void> {
    // Not reversible once an owner was forgotten (a null cannot become a name again).
  }
}
