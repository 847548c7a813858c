/** Injection token of the demo's `DemoConfig`. */
export const DEMO_CONFIG = Symbol('DEMO_CONFIG');
