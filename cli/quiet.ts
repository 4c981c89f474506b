/**
 * Keeps the Lambda handlers' structured logs and metrics, and the AWS SDK's Node version
 * warning, out of what the CLI prints when it runs the handlers in-process (the sandbox).
 * Call it before the handlers are imported: Powertools reads its settings when they load.
 */
let quiet = false;

export function quietHandlers(): void {
  if (quiet) return;
  quiet = true;
  process.env.POWERTOOLS_LOG_LEVEL ??= 'SILENT';
  process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
  process.env.POWERTOOLS_TRACE_ENABLED ??= 'false';
  process.env.POWERTOOLS_DEV ??= 'false';
  const emit = process.emitWarning.bind(process);
  process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
    const text = typeof warning === 'string' ? warning : warning.message;
    if (
      /NodeVersionSupportWarning|AWS SDK for JavaScript/.test(`${text} ${String(rest[0] ?? '')}`)
    ) {
      return;
    }
    (emit as (...args: unknown[]) => void)(warning, ...rest);
  }) as typeof process.emitWarning;
}
