#!/usr/bin/env node
// The `sage` command. The CLI is TypeScript run through tsx (a runtime dependency), so an
// installed package needs no build step.
import { register } from 'tsx/esm/api';

register();
const { runCli } = await import('../src/cli/main.ts');
process.exit(await runCli(process.argv.slice(2)));
