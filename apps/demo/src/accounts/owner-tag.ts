/**
 * The tag of an owner's account events (`owner:<name>`). Owners are 1–100 characters
 * (`OpenAccountDto`), so the tag stays within the journal's 256-character limit.
 */
export function ownerTag(owner: string): string {
  return `owner:${owner}`;
}
