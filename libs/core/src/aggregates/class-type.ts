/** A class: something `new` can be applied to. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a constructor of any arity
export type ClassType<T = object> = abstract new (...args: any[]) => T;
