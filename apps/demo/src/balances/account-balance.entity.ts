import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/** One row of the balances read model: an account as the `balances` projection last saw it. */
@Entity({ name: 'demo_account_balances' })
@Index('demo_account_balances_owner_idx', ['owner', 'id'])
export class AccountBalance {
  @PrimaryColumn({ type: 'varchar', length: 64 })
  id!: string;

  /** The owner's name (personal data); null once forgotten (`account.owner-forgotten`). */
  @Column({ type: 'varchar', length: 100, nullable: true })
  owner!: string | null;

  /** Integer cents (bigint on PostgreSQL: read back as a string by the driver, so a transformer). */
  @Column({ type: 'bigint', transformer: { to: (value: number) => value, from: (value: string | number) => Number(value) } })
  balance!: number;

  @Column({ type: 'boolean', default: false })
  closed!: boolean;

  /** The account version the row reflects. */
  @Column({ type: 'integer' })
  version!: number;
}
