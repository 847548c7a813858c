import { ChronicleError } from './chronicle.error.js';

/** Chronicle was set up wrongly: a decorator's input, a duplicate name, a missing module. */
export class ConfigurationError extends ChronicleError {}
