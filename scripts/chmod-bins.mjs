// Makes the package's bins (package.json "bin") executable after a build.
// npm marks them executable only when it links them; `npx peer` can reuse a
// link it made for an earlier build of the same folder, and a fresh build
// writes the files 0644, so without this `npx peer` is "Permission denied".
import { chmodSync, readFileSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
for (const file of Object.values(pkg.bin ?? {})) chmodSync(new URL(`../${file}`, import.meta.url), 0o755);
