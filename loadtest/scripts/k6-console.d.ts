// k6 defines `console` on every VU runtime (internal/js/bundle.go
// setupJSRuntime; internal/js/console.go: log, debug, info, warn, error, which
// write to k6's log, stderr by default). @types/k6 2.3.0 leaves it to the DOM
// lib, which the scripts must not use.
declare const console: {
  log(...args: unknown[]): void;
  debug(...args: unknown[]): void;
  info(...args: unknown[]): void;
  warn(...args: unknown[]): void;
  error(...args: unknown[]): void;
};
