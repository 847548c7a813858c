// Public API of @chronicle/console: filled in by the console and CLI work.
export {};
