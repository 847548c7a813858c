import { Inject, Injectable } from '@nestjs/common';
import { CommandBus, CqrsModule } from '@nestjs/cqrs';
import { Test } from '@nestjs/testing';
import { DecisionHandler, Decides, DomainRuleViolation, Evolves, type CommandResult } from '@chronicle/core';
import { EventSourcingModule } from '@chronicle/nestjs';
import { Enrol, Student, StudentEnrolled, type Seats } from '../../libs/core/src/decisions/fixtures/course.fixture.js';

const CAPACITY = Symbol('CAPACITY');

/** The fixture's rule as a Nest provider whose capacity comes from the container. */
@Injectable()
@DecisionHandler<Seats>({ name: 'course_capacity', initialState: () => ({ students: [] }) })
class InjectedCapacity {
  constructor(@Inject(CAPACITY) private readonly capacity: number) {}

  @Evolves(StudentEnrolled)
  enrolled(state: Seats, event: StudentEnrolled): void {
    state.students.push(event.studentId);
  }

  @Decides(Enrol, { tags: (c: Enrol) => [`course:${c.courseId}`], aggregate: Student, id: 'studentId' })
  enrol(command: Enrol, state: Seats): StudentEnrolled {
    if (state.students.length >= this.capacity) throw new DomainRuleViolation(`Course ${command.courseId} is full: it holds ${this.capacity} students.`);
    return new StudentEnrolled(command.studentId, command.courseId);
  }
}

describe('EventSourcingModule: decision handlers', () => {
  it('routes a listed decision handler provider\'s commands from the CommandBus, with its injected configuration', async () => {
    const app = await Test.createTestingModule({
      imports: [CqrsModule.forRoot(), EventSourcingModule.forRoot({ aggregates: [Student], decisions: [InjectedCapacity], storage: 'in-memory' })],
      providers: [InjectedCapacity, { provide: CAPACITY, useValue: 1 }],
    }).compile();
    await app.init();
    try {
      const bus = app.get(CommandBus);
      const result: CommandResult = await bus.execute(new Enrol('ann', 'math'));
      expect(result).toMatchObject({ aggregateType: 'student', streamId: 'student-ann', version: 1 });
      await expect(bus.execute(new Enrol('bob', 'math'))).rejects.toBeInstanceOf(DomainRuleViolation);
      await expect(bus.execute(new Enrol('bob', 'math'))).rejects.toThrow('Course math is full: it holds 1 students.');
    } finally {
      await app.close();
    }
  });

  it('names a listed decision handler that is not a provider, and a @DecisionHandler provider that is not listed', async () => {
    const orphan = await Test.createTestingModule({
      imports: [CqrsModule.forRoot(), EventSourcingModule.forRoot({ aggregates: [Student], decisions: [InjectedCapacity], storage: 'in-memory' })],
    }).compile();
    await expect(orphan.init()).rejects.toThrow('The decision handler InjectedCapacity is listed in EventSourcingModule but is not a provider');
    const unlisted = await Test.createTestingModule({
      imports: [CqrsModule.forRoot(), EventSourcingModule.forRoot({ aggregates: [Student], storage: 'in-memory' })],
      providers: [InjectedCapacity, { provide: CAPACITY, useValue: 1 }],
    }).compile();
    await expect(unlisted.init()).rejects.toThrow('The @DecisionHandler provider InjectedCapacity is not listed in EventSourcingModule.forRoot({ decisions })');
  });
});
