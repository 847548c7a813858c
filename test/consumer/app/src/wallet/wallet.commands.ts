import { IsInt, IsPositive, IsString } from 'class-validator';

export class OpenWallet {
  @IsString() readonly walletId: string;
  @IsString() readonly owner: string;
  constructor(walletId: string, owner: string) {
    this.walletId = walletId;
    this.owner = owner;
  }
}

export class Deposit {
  @IsString() readonly walletId: string;
  @IsInt() @IsPositive() readonly amount: number;
  constructor(walletId: string, amount: number) {
    this.walletId = walletId;
    this.amount = amount;
  }
}

export class Withdraw {
  @IsString() readonly walletId: string;
  @IsInt() @IsPositive() readonly amount: number;
  constructor(walletId: string, amount: number) {
    this.walletId = walletId;
    this.amount = amount;
  }
}
