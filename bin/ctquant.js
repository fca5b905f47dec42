#!/usr/bin/env node
// Entry point of the compiled CLI (npm run build writes dist/).
import { main } from '../dist/cli/main.js';
main(process.argv.slice(2));
