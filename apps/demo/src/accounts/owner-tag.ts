import { createHash } from 'node:crypto';

/**
 * The tag of an owner's account events: `owner:` and the SHA-256 of the owner's name (hex).
 *
 * The name is personal data (encrypted in the events, forgotten on request), and tags are stored in
 * plain text for the open-accounts limit's index, so the tag carries a pseudonym, never the name.
 * A pseudonym of a name is still personal data under the GDPR (a guessed name can be hashed and
 * compared); an application with owner ids would tag by the id instead. 70 characters, within the
 * journal's 256-character tag limit.
 */
export function ownerTag(owner: string): string {
  return `owner:${createHash('sha256').update(owner, 'utf8').digest('hex')}`;
}
