// Public API of @chronicle/console.
// Operations (framework-free: the console module and the CLI use it)
export * from './operations/chronicle-operations.service.js';
export * from './operations/operations-limits.js';
export * from './errors/operations-not-found.error.js';
