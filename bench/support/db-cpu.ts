import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second of /proc/<pid>/stat on Linux (USER_HZ: 100 on every mainstream kernel). */
const USER_HZ = 100;

/**
 * CPU time (user + system, ms) of every process named `postgres` on this machine, read from
 * /proc, including the children they reaped (a backend whose connection closed is counted in the
 * postmaster's cutime/cstime once it exits); undefined where that is impossible (not Linux, or
 * the server runs elsewhere).
 */
export function postgresCpuMs(): number | undefined {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return undefined;
  }
  let ticks = 0;
  let found = false;
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue;
    }
    const open = stat.indexOf('(');
    const close = stat.lastIndexOf(')');
    if (open < 0 || close < 0 || stat.slice(open + 1, close) !== 'postgres') continue;
    // Fields after the command name start at field 3 (state); utime and stime are fields 14 and 15,
    // cutime and cstime (reaped children: backends that exited count in the postmaster) 16 and 17.
    const fields = stat.slice(close + 2).split(' ');
    ticks += Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]);
    found = true;
  }
  return found ? (ticks * 1000) / USER_HZ : undefined;
}
