import { ConfigurationError } from '../errors/configuration.error.js';
import { EventDecodingError } from '../errors/event-decoding.error.js';
import type { EventMetadata as Metadata } from './event-metadata.js';
import type { EventRegistry } from './event-registry.js';
import type { JsonObject } from './json.js';
import type { NewEvent, RecordedEvent } from './recorded-event.js';
import { timeOrderedId } from './time-ordered-id.js';

/**
 * Turns event objects into stored JSON and back. Writing always produces the class's current
 * schema version; reading runs the upcaster chain from the stored version, then decodes.
 */
export class EventSerializer {
  constructor(private readonly registry: EventRegistry) {}

  /** Serializes an event for appending; throws `ConfigurationError` for an unregistered class. */
  serialize(event: object, metadata: Metadata, occurredAt: Date, extraTags: readonly string[] = []): NewEvent {
    const registration = this.registry.forEvent(event);
    if (!registration) {
      throw new ConfigurationError(
        `${event.constructor.name} is not a registered event: decorate it with @Event and give it an @Applies handler ` +
          'or list it in @Aggregate({ events }).',
      );
    }
    const { metadata: eventMeta } = registration;
    const tags = [...(eventMeta.tags?.(event) ?? []), ...extraTags];
    return {
      // Time-ordered (UUIDv7): the journal's and the outbox's unique indexes on the event id then
      // grow at their right edge instead of dirtying a random leaf page per event. Measured on the
      // bench's 64-caller write with an outbox handler: SQLite commits took half as long (WAL
      // pages written), PostgreSQL wrote about a seventh more commands per second.
      eventId: timeOrderedId(),
      type: eventMeta.type,
      schemaVersion: eventMeta.version,
      // A JSON round trip, so every store (in-memory included) holds exactly what PostgreSQL would.
      payload: JSON.parse(JSON.stringify(event)) as JsonObject,
      metadata,
      tags: [...new Set(tags)],
      occurredAt,
    };
  }

  /**
   * Decodes a stored event into its class. Throws `UnknownEventTypeError` or
   * `EventDecodingError`, both naming the type, the stream and the version.
   */
  deserialize<E extends object = object>(stored: RecordedEvent | NewEvent): E {
    const streamId = 'streamId' in stored ? stored.streamId : undefined;
    const version = 'version' in stored ? stored.version : undefined;
    const { eventClass, metadata } = this.registry.forType(stored.type, streamId, version);
    const fail = (reason: string, cause?: unknown): never => {
      throw new EventDecodingError(stored.type, streamId, version, reason, { cause });
    };

    let payload = stored.payload;
    if (typeof payload === 'string') {
      try {
        payload = JSON.parse(payload) as unknown;
      } catch (error) {
        fail('the stored payload is not valid JSON', error);
      }
    }
    if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) {
      fail(`the stored payload is ${payload === null ? 'null' : Array.isArray(payload) ? 'an array' : typeof payload}, not an object`);
    }
    let current = payload as JsonObject;
    if (stored.schemaVersion > metadata.version) {
      fail(`it was written with schema version ${stored.schemaVersion}, newer than this code's ${metadata.version}`);
    }
    for (let from = stored.schemaVersion; from < metadata.version; from++) {
      const upcaster = metadata.upcasters.get(from);
      if (!upcaster) fail(`no upcaster from schema version ${from} to ${from + 1}`);
      try {
        current = upcaster!(current);
      } catch (error) {
        fail(`the upcaster from schema version ${from} threw: ${(error as Error).message}`, error);
      }
    }
    if (metadata.decode) {
      try {
        return metadata.decode(current) as E;
      } catch (error) {
        return fail((error as Error).message, error);
      }
    }
    // Bypasses the constructor on purpose: constructors validate new facts, stored facts are history.
    return Object.assign(Object.create(eventClass.prototype) as E, current);
  }
}
