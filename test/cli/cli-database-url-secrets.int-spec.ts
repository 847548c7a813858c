import { describe, expect, it, jest } from '@jest/globals';
import { cli } from './cli.scenario.js';

jest.setTimeout(30_000);

// Port 1 of 127.0.0.1 refuses at once: every run fails to open the database and names it on stderr.
describe('the chronicle CLI names a database it cannot open without its secrets', () => {
  it('hides a password given as a ?password= (or ?sslpassword=) query parameter, which pg reads as the password', async () => {
    const run = await cli(['status'], { DATABASE_URL: 'postgres://ops@127.0.0.1:1/nowhere?password=hunter2&sslpassword=hunter3&application_name=ops' });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^ConfigurationError: Could not open postgres:\/\/ops@127\.0\.0\.1:1\/nowhere\?application_name=ops: /);
    expect(run.stderr).not.toMatch(/hunter/);
  });

  it('hides a password holding an unencoded "@" (pg, like WHATWG URL, ends the password at the last "@"), also in --json', async () => {
    const run = await cli(['status', '--json'], { DATABASE_URL: 'postgres://ops:hunter2@secret-tail@127.0.0.1:1/nowhere' });
    expect(run.code).toBe(1);
    expect(JSON.parse(run.stderr)).toMatchObject({ error: { name: 'ConfigurationError', message: expect.stringMatching(/^Could not open postgres:\/\/ops:\*\*\*@127\.0\.0\.1:1\/nowhere: /) } });
    expect(run.stderr).not.toMatch(/hunter2|secret-tail/);
  });

  it('never echoes a URL it cannot parse, whether it refuses it or pg does', async () => {
    const refused = await cli(['status'], { DATABASE_URL: 'mysql:root:hunter2@db/app' });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('DATABASE_URL "mysql:<not shown>" is not one the CLI reads');
    const unparsable = await cli(['status'], { DATABASE_URL: 'postgres://ops:hunter2/x@127.0.0.1:1/nowhere' });
    expect(unparsable.code).toBe(1);
    expect(unparsable.stderr).not.toMatch(/hunter2/);
  });
});
