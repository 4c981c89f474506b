#!/usr/bin/env node
// The `rollout` command. Runs the TypeScript sources directly through tsx, so there is no build
// step to remember after `npm ci`.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
