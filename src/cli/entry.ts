// Entry used for worker processes (and usable directly): `node dist/cli/entry.js <args>`.
import { main } from './main.js';

await main(process.argv.slice(2));
