import type { ClassType } from '../aggregates/class-type.js';
import { ConfigurationError } from '../errors/configuration.error.js';
import { UnknownEventTypeError } from '../errors/unknown-event-type.error.js';
import { getEventMetadata, type EventClassMetadata } from './event.decorator.js';

/** A registered event class with its metadata. */
export interface EventRegistration<E extends object = object> {
  eventClass: ClassType<E>;
  metadata: EventClassMetadata<E>;
}

/**
 * Maps stable event type names to classes and back. Built once at start-up; a type name claimed
 * by two classes is refused there, not discovered when a stream fails to load.
 */
export class EventRegistry {
  private readonly byType = new Map<string, EventRegistration>();
  private readonly byClass = new Map<ClassType, EventRegistration>();

  /** Registers classes; registering the same class again is harmless. */
  register(...eventClasses: ClassType[]): this {
    for (const eventClass of eventClasses) {
      if (this.byClass.has(eventClass)) continue;
      const metadata = getEventMetadata(eventClass);
      if (!metadata) {
        throw new ConfigurationError(
          `${eventClass.name} is used as an event but has no @Event('type.name') decorator.`,
        );
      }
      const existing = this.byType.get(metadata.type);
      if (existing) {
        throw new ConfigurationError(
          `Event type "${metadata.type}" is registered twice: by ${existing.eventClass.name} and by ${eventClass.name}. ` +
            'Each event type name must belong to one class.',
        );
      }
      const registration: EventRegistration = { eventClass, metadata };
      this.byType.set(metadata.type, registration);
      this.byClass.set(eventClass, registration);
    }
    return this;
  }

  /** The registration of a stored type name; throws `UnknownEventTypeError` naming where it was found. */
  forType(type: string, streamId?: string, version?: number): EventRegistration {
    const registration = this.byType.get(type);
    if (!registration) throw new UnknownEventTypeError(type, streamId, version);
    return registration;
  }

  /** The registration of an event object's class, or undefined when its class is not registered. */
  forEvent(event: object): EventRegistration | undefined {
    return this.byClass.get(event.constructor as ClassType);
  }

  /** Whether a class is registered. */
  has(eventClass: ClassType): boolean {
    return this.byClass.has(eventClass);
  }

  /** Every registered type name. */
  types(): string[] {
    return [...this.byType.keys()];
  }
}
