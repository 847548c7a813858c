import { EventDecodingError } from '../errors/event-decoding.error.js';
import { UnknownEventTypeError } from '../errors/unknown-event-type.error.js';
import type { RecordedEvent } from './recorded-event.js';
import { Event } from './event.decorator.js';
import { EventRegistry } from './event-registry.js';
import { EventSerializer } from './event-serializer.js';

@Event('parcel.shipped', {
  version: 3,
  upcasters: {
    1: (p) => ({ ...p, carrier: 'post' }),
    2: (p) => ({ ...p, weightGrams: Number(p.weightKg) * 1000 }),
  },
  tags: (e: ParcelShipped) => [`carrier:${e.carrier}`],
})
class ParcelShipped {
  constructor(
    readonly parcelId: string,
    readonly carrier: string,
    readonly weightGrams: number,
  ) {}
}

@Event('parcel.lost', {
  decode: (p) => {
    if (typeof p.parcelId !== 'string') throw new Error('parcelId must be a string');
    return new ParcelLost(p.parcelId);
  },
})
class ParcelLost {
  constructor(readonly parcelId: string) {}
}

function stored(overrides: Partial<RecordedEvent>): RecordedEvent {
  return {
    eventId: 'e1',
    type: 'parcel.shipped',
    schemaVersion: 3,
    payload: {},
    metadata: {},
    tags: [],
    occurredAt: new Date(0),
    streamId: 'parcel-p1',
    aggregateType: 'parcel',
    version: 4,
    position: 9,
    ...overrides,
  };
}

describe('EventSerializer', () => {
  const serializer = new EventSerializer(new EventRegistry().register(ParcelShipped, ParcelLost));

  it('writes the stable type name, the current schema version, a JSON payload and tags', () => {
    const event = serializer.serialize(new ParcelShipped('p1', 'dhl', 500), { commandId: 'c' }, new Date(5), ['extra']);
    expect(event).toMatchObject({
      type: 'parcel.shipped',
      schemaVersion: 3,
      payload: { parcelId: 'p1', carrier: 'dhl', weightGrams: 500 },
      metadata: { commandId: 'c' },
      tags: ['carrier:dhl', 'extra'],
      occurredAt: new Date(5),
    });
    expect(event.eventId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('gives events time-ordered ids (UUIDv7), so id indexes grow at their right edge', () => {
    const ids = Array.from({ length: 1000 }, () => serializer.serialize(new ParcelShipped('p1', 'dhl', 500), {}, new Date()).eventId);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('round-trips an event into an instance of its class', () => {
    const written = serializer.serialize(new ParcelShipped('p1', 'dhl', 500), {}, new Date());
    const read = serializer.deserialize<ParcelShipped>(stored({ payload: written.payload }));
    expect(read).toBeInstanceOf(ParcelShipped);
    expect(read).toEqual(new ParcelShipped('p1', 'dhl', 500));
  });

  it('runs the upcaster chain from an older schema version', () => {
    const read = serializer.deserialize<ParcelShipped>(stored({ schemaVersion: 1, payload: { parcelId: 'p1', weightKg: 2 } }));
    expect(read).toEqual(Object.assign(Object.create(ParcelShipped.prototype) as object, { parcelId: 'p1', weightKg: 2, carrier: 'post', weightGrams: 2000 }));
  });

  it('names the type, stream and version of an unknown event type', () => {
    expect(() => serializer.deserialize(stored({ type: 'parcel.teleported' }))).toThrow(UnknownEventTypeError);
    expect(() => serializer.deserialize(stored({ type: 'parcel.teleported' }))).toThrow(
      'Event type "parcel.teleported" in stream "parcel-p1" at version 4 is not registered',
    );
  });

  it.each([
    ['corrupt JSON', { payload: '{"parcelId": ' }, /not valid JSON/],
    ['a non-object payload', { payload: 42 }, /payload is number, not an object/],
    ['an array payload', { payload: [1] }, /payload is an array/],
    ['a schema version newer than the code', { schemaVersion: 7, payload: {} }, /schema version 7, newer than this code's 3/],
    ['an upcaster that throws', { schemaVersion: 2, payload: { get weightKg(): never { throw new Error('boom'); } } }, /upcaster from schema version 2 threw: boom/],
  ])('fails with EventDecodingError naming type, stream and version for %s', (_case, overrides, reason) => {
    const attempt = (): unknown => serializer.deserialize(stored(overrides as Partial<RecordedEvent>));
    expect(attempt).toThrow(EventDecodingError);
    expect(attempt).toThrow(/Event "parcel.shipped" in stream "parcel-p1" at version 4 cannot be decoded/);
    expect(attempt).toThrow(reason);
  });

  it('reports a custom decoder failure as EventDecodingError', () => {
    expect(() => serializer.deserialize(stored({ type: 'parcel.lost', schemaVersion: 1, payload: { parcelId: 5 } }))).toThrow(
      /Event "parcel.lost" in stream "parcel-p1" at version 4 cannot be decoded: parcelId must be a string/,
    );
    expect(serializer.deserialize(stored({ type: 'parcel.lost', schemaVersion: 1, payload: { parcelId: 'x' } }))).toEqual(new ParcelLost('x'));
  });
});
