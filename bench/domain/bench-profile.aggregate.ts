import { IsNotEmpty, IsString, MaxLength } from 'class-validator';
import { Aggregate, Applies, Event, Handles, PersonalData } from '@chronicle/core';

/*
 * The personal-data benchmark's two aggregates: the same profile, whose rename event carries the
 * name plain in one and as `@PersonalData` (the profile its subject) in the other. Everything else
 * (commands, validation, state, stream shape) is the same, so the difference is the sealing.
 */

export class CreatePlainProfile {
  @IsString() @IsNotEmpty() @MaxLength(64) readonly profileId: string;
  constructor(profileId: string) {
    this.profileId = profileId;
  }
}

export class RenamePlainProfile {
  @IsString() @IsNotEmpty() @MaxLength(64) readonly profileId: string;
  @IsString() @IsNotEmpty() @MaxLength(100) readonly name: string;
  constructor(profileId: string, name: string) {
    this.profileId = profileId;
    this.name = name;
  }
}

export class CreatePersonalProfile {
  @IsString() @IsNotEmpty() @MaxLength(64) readonly profileId: string;
  constructor(profileId: string) {
    this.profileId = profileId;
  }
}

export class RenamePersonalProfile {
  @IsString() @IsNotEmpty() @MaxLength(64) readonly profileId: string;
  @IsString() @IsNotEmpty() @MaxLength(100) readonly name: string;
  constructor(profileId: string, name: string) {
    this.profileId = profileId;
    this.name = name;
  }
}

@Event('bench.plain-profile-created')
export class PlainProfileCreated {
  constructor(readonly profileId: string) {}
}

/** The name in clear. */
@Event('bench.plain-profile-renamed')
export class PlainProfileRenamed {
  constructor(
    readonly profileId: string,
    readonly name: string,
  ) {}
}

@Event('bench.personal-profile-created')
export class PersonalProfileCreated {
  constructor(readonly profileId: string) {}
}

/** The same event with the name as personal data (sealed with the profile's data key). */
@Event('bench.personal-profile-renamed', { subject: 'profileId' })
export class PersonalProfileRenamed {
  @PersonalData() readonly name!: string | null;
  constructor(
    readonly profileId: string,
    name: string,
  ) {
    this.name = name;
  }
}

@Aggregate({ name: 'plain_profile', id: 'profileId', snapshot: { every: 100 } })
export class PlainProfile {
  name: string | null = null;
  renames = 0;

  @Handles(CreatePlainProfile, { creates: true })
  create(command: CreatePlainProfile): PlainProfileCreated {
    return new PlainProfileCreated(command.profileId);
  }

  @Handles(RenamePlainProfile)
  rename(command: RenamePlainProfile): PlainProfileRenamed {
    return new PlainProfileRenamed(command.profileId, command.name);
  }

  @Applies(PlainProfileCreated) onCreated(): void {}

  @Applies(PlainProfileRenamed) onRenamed(event: PlainProfileRenamed): void {
    this.name = event.name;
    this.renames++;
  }
}

@Aggregate({ name: 'personal_profile', id: 'profileId', snapshot: { every: 100 } })
export class PersonalProfile {
  name: string | null = null;
  renames = 0;

  @Handles(CreatePersonalProfile, { creates: true })
  create(command: CreatePersonalProfile): PersonalProfileCreated {
    return new PersonalProfileCreated(command.profileId);
  }

  @Handles(RenamePersonalProfile)
  rename(command: RenamePersonalProfile): PersonalProfileRenamed {
    return new PersonalProfileRenamed(command.profileId, command.name);
  }

  @Applies(PersonalProfileCreated) onCreated(): void {}

  @Applies(PersonalProfileRenamed) onRenamed(event: PersonalProfileRenamed): void {
    this.name = event.name;
    this.renames++;
  }
}
