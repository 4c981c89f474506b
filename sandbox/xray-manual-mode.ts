/**
 * The sandbox runs the handlers in one process, where X-Ray has nothing to trace (Powertools'
 * tracer is off outside Lambda). Loaded in its default automatic mode, the X-Ray SDK still
 * creates a cls-hooked namespace, whose async hook tracks the destruction of every promise:
 * about 15 % of the sandbox's CPU (issue 11 §3, `--cpu-prof` of a 200-node group). Manual mode
 * creates no namespace. Imported first by the sandbox's modules, before any handler loads the
 * SDK; a process that set the variable itself keeps its value.
 */
process.env.AWS_XRAY_MANUAL_MODE ??= '1';
