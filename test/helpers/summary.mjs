// Reading a test file's output for test/run.mjs's closing line (plain JS: run.mjs runs without tsx).

/**
 * uvu's counts in one test file's output, summed over every summary block, plus the suites that
 * skipped themselves with a `SKIPPED <what> tests: <why>` line (test/helpers/webgpu.ts).
 * total / passed are null when no uvu summary was printed (the file crashed).
 */
export function countOutput(out) {
  const num = (label) => {
    const all = [...out.matchAll(new RegExp(`${label}:\\s+(\\d+)`, 'g'))];
    return all.length ? all.reduce((sum, m) => sum + Number(m[1]), 0) : null;
  };
  return {
    total: num('Total'),
    passed: num('Passed'),
    skipped: num('Skipped') ?? 0,
    skippedSuites: (out.match(/^SKIPPED .+ tests: /gm) ?? []).length,
  };
}

/** `N passed, N failed[, N skipped (k tests, m suites)]`. */
export function closingLine(passed, failed, skippedTests, skippedSuites) {
  const total = skippedTests + skippedSuites;
  const parts = [
    skippedTests && `${skippedTests} test${skippedTests > 1 ? 's' : ''}`,
    skippedSuites && `${skippedSuites} suite${skippedSuites > 1 ? 's' : ''}`,
  ].filter(Boolean);
  return `${passed} passed, ${failed} failed${total ? `, ${total} skipped (${parts.join(', ')})` : ''}`;
}
