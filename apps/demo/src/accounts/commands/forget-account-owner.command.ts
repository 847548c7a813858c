/** Records that the owner's personal data was erased; accepted by a closed account too, and a no-op the second time. */
export class ForgetAccountOwner {
  constructor(readonly accountId: string) {}
}
