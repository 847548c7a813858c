import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

let collect: (() => void) | undefined | null = null;

/**
 * Runs a full garbage collection when the runtime lets us: `--expose-gc` if given, else the V8
 * flag set at run time. Returns whether a collection ran.
 */
export function fullGc(): boolean {
  if (collect === null) {
    const exposed = (globalThis as { gc?: () => void }).gc;
    if (typeof exposed === 'function') {
      collect = exposed;
    } else {
      try {
        setFlagsFromString('--expose-gc');
        collect = runInNewContext('gc') as () => void;
      } catch {
        collect = undefined;
      }
    }
  }
  if (!collect) return false;
  collect();
  collect();
  return true;
}
