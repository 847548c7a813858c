import { describe, expect, it } from '@jest/globals';
import { PersonalDataDeclarationError } from '../errors/personal-data-declaration.error.js';
import { Event, getEventMetadata } from './event.decorator.js';
import { getPersonalFields, PersonalData } from './personal-data.decorator.js';

describe('@PersonalData and the subject of @Event', () => {
  it('records each personal field with its replacement (null by default), nested objects and arrays included', () => {
    @Event('pd.ok', { subject: 'id' })
    class Ok {
      @PersonalData() readonly name!: string;
      @PersonalData({ replacement: { street: '' } }) readonly address!: { street: string };
      @PersonalData({ replacement: [] }) readonly phones!: string[];
      constructor(readonly id: string) {}
    }
    expect(getEventMetadata(Ok)!.personalFields).toEqual([
      { name: 'name', replacement: null },
      { name: 'address', replacement: { street: '' } },
      { name: 'phones', replacement: [] },
    ]);
    expect(getEventMetadata(Ok)!.subject).toBe('id');
  });

  it('inherits the personal fields of a base class', () => {
    class Base {
      @PersonalData() readonly email!: string;
    }
    @Event('pd.derived', { subject: (event: Derived) => event.id })
    class Derived extends Base {
      @PersonalData() readonly name!: string;
      readonly id = 'x';
    }
    expect(getPersonalFields(Derived).map((field) => field.name)).toEqual(['email', 'name']);
  });

  it('refuses a class with personal fields but no subject, naming the fields', () => {
    expect(() => {
      @Event('pd.no-subject')
      class NoSubject {
        @PersonalData() readonly name!: string;
      }
      return NoSubject;
    }).toThrow(/has @PersonalData fields \(name\) but no subject/);
  });

  it('refuses a subject that is itself personal data', () => {
    expect(() => {
      @Event('pd.personal-subject', { subject: 'email' })
      class PersonalSubject {
        @PersonalData() readonly email!: string;
      }
      return PersonalSubject;
    }).toThrow(PersonalDataDeclarationError);
  });

  it.each([[''], [42], [null]])('refuses the subject %p', (subject) => {
    expect(() => Event('pd.bad-subject', { subject: subject as never })).toThrow(PersonalDataDeclarationError);
  });

  it.each([[() => 1], [new Date(0)], [Number.NaN], [{ nested: () => 1 }]])(
    'refuses a replacement that is not JSON: %p',
    (replacement) => {
      expect(() => PersonalData({ replacement: replacement as never })).toThrow(PersonalDataDeclarationError);
    },
  );

  it('refuses a constructor parameter, a method, a static property and a double declaration, each by name', () => {
    const decorate = PersonalData();
    class Target {
      static shared = 1;
      readonly name = '';
      method(): void {}
    }
    expect(() => decorate(Target, undefined, 0)).toThrow(/parameter 0 of Target's constructor/);
    expect(() => decorate(Target.prototype, 'method')).toThrow(/Target.method: it is a method/);
    expect(() => decorate(Target, 'shared')).toThrow(/static Target.shared/);
    decorate(Target.prototype, 'name');
    expect(() => decorate(Target.prototype, 'name')).toThrow(/declared twice on Target.name/);
  });
});
