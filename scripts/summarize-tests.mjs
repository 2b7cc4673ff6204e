// Prints the suite's closing line, `N passed, N failed, N skipped`, from vitest's JSON report,
// so that CI can read the counts whatever the reporter printed above it.
import { readFileSync } from 'node:fs';

const report = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
console.log(`${report.numPassedTests} passed, ${report.numFailedTests} failed, ${skipped} skipped`);
