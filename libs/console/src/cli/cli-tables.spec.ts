import { cell, commandTable, inertText } from './cli-tables.js';

describe('CLI tables', () => {
  it('show control characters from the database as escapes, so a terminal never acts on them', () => {
    expect(cell('\u001b[2Jcleared\u0007\u009b31m')).toBe('\\x1b[2Jcleared\\x07\\x9b31m');
    expect(cell('line 1\nline 2\r\tend')).toBe('line 1\\nline 2\\r\\tend');
    expect(cell({ note: '\u001b' })).toBe('{"note":"\\u001b"}');
  });

  it('keep the line ends of an error message but escape every other control character', () => {
    expect(inertText('No stream "\u001b]0;owned\u0007" was found.\nCheck the id.')).toBe('No stream "\\x1b]0;owned\\x07" was found.\nCheck the id.');
  });

  it('cut long values to one bounded cell', () => {
    expect(cell('x'.repeat(100))).toBe(`${'x'.repeat(59)}…`);
    expect(cell(null)).toBe('');
    expect(cell(42)).toBe('42');
  });

  it('draw a rejected command with its recorded error', () => {
    const drawn = commandTable({
      commandId: 'c1',
      streamId: 's1',
      aggregateType: 'till',
      recordedAt: '2026-01-01T00:00:00.000Z',
      outcome: 'rejected',
      fromVersion: null,
      toVersion: null,
      cursor: null,
      error: { name: 'DomainRuleViolation', code: 'INSUFFICIENT_FUNDS', message: 'not enough \u001b money' },
    });
    expect(drawn).toMatch(/│ outcome\s+│ rejected\s+│/);
    expect(drawn).toContain('DomainRuleViolation (INSUFFICIENT_FUNDS)');
    expect(drawn).toContain('not enough \\x1b money');
    expect(drawn).not.toContain('\u001b');
  });
});
